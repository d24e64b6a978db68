using Walden.Tests.TestSupport;
using Walden.Writing;
using static Walden.Tests.Archiving.ArchiveChecks;

namespace Walden.Tests.Archiving;

/// <summary>
/// What the archive does to stay cheap keeps its guarantees: Sync fsyncs the WAL beside the segment's store and still
/// acknowledges only when both are durable; segments that store a page as its change against the previous image restore
/// every transaction exactly.
/// </summary>
public sealed class ArchiveCostTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);
    private readonly TempDirectory _dir = new();

    public ArchiveCostTests() => Directory.CreateDirectory(Archive);

    public void Dispose() => _dir.Dispose();

    private string Archive => _dir.File("archive");

    private WaldenOptions Options(WaldenArchiveMode mode, IWaldenArchiveDestination? destination = null)
    {
        var options = new WaldenOptions { CheckpointIdleDelay = TimeSpan.FromHours(1) };
        options.Archive.Mode = mode;
        options.Archive.DrillInterval = null;
        options.Archive.Destinations.Add(destination ?? new WaldenFolderDestination(Archive));
        return options;
    }

    [Fact]
    public async Task Sync_TheWalFsyncRunsWhileTheSegmentIsStored_AndTheWriteWaitsForBoth()
    {
        var walSyncing = new ManualResetEventSlim();
        var releaseWal = new ManualResetEventSlim();
        var segmentStoring = new ManualResetEventSlim();
        var walSawStore = false;
        var storeSawWal = false;
        var destination = new ObservedDestination(new WaldenFolderDestination(Archive), name =>
        {
            if (name.EndsWith(".wseg", StringComparison.Ordinal))
            {
                segmentStoring.Set();
                storeSawWal = walSyncing.Wait(Patience);
            }
        });
        var options = Options(WaldenArchiveMode.Sync, destination);
        options.Durability = WaldenDurability.Full;
        options.Faults = new WriterFaults
        {
            WalSyncResult = () =>
            {
                walSyncing.Set();
                walSawStore = segmentStoring.Wait(Patience); // the store started before this fsync ended: side by side
                releaseWal.Wait(Patience);
                return 0;
            },
        };
        await using var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), options);

        // On a thread of its own: a lone caller may commit inline (a Sync archive too), and then blocks in the WAL's fsync.
        var write = Task.Run(() => db.WriteAsync(c => c.Exec("CREATE TABLE t(a); INSERT INTO t VALUES (1)")));
        Assert.True(walSyncing.Wait(Patience), "the archive did not fsync the WAL itself (SQLite's COMMIT did, before the store)");
        Assert.True(segmentStoring.Wait(Patience));
        Assert.False(write.IsCompleted); // the segment may be stored, but the WAL's fsync has not returned: not acknowledged yet
        releaseWal.Set();
        await write;
        Assert.True(walSawStore && storeSawWal, "the WAL's fsync and the segment's store ran one after the other");

        var restored = _dir.File("restored.db");
        var result = await WaldenArchive.RestoreAsync(Archive, restored);
        Assert.True(result.Complete, result.Problem);
        Assert.Equal(1, Count(restored));
    }

    [Fact]
    public async Task Sync_WhenTheWalFsyncFails_ThatBatchAndEveryLaterOneAreNotAcknowledged_AndHealthIsUnhealthy()
    {
        var fail = 0;
        var options = Options(WaldenArchiveMode.Sync);
        options.Durability = WaldenDurability.Full;
        options.Faults = new WriterFaults { WalSyncResult = () => Interlocked.Exchange(ref fail, 0) == 1 ? 10 : 0 }; // SQLITE_IOERR once
        await using var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), options);
        await db.WriteAsync(c => c.Exec("CREATE TABLE t(a)"));
        Volatile.Write(ref fail, 1);

        var failed = await Assert.ThrowsAsync<WaldenArchiveException>(() => db.WriteAsync(c => c.Exec("INSERT INTO t VALUES (1)")));
        Assert.Contains("fsync of the WAL", failed.Message, StringComparison.Ordinal);
        Assert.Equal(0, Volatile.Read(ref fail)); // that fsync was the only one to fail...
        // ...and, as after any failed fsync (HealthSignals.SyncFailure), nothing after it is acknowledged and health says why.
        var later = await Assert.ThrowsAnyAsync<WaldenException>(() => db.WriteAsync(c => c.Exec("INSERT INTO t VALUES (2)")));
        Assert.Contains("failed an fsync", later.Message, StringComparison.Ordinal);
        Assert.Equal(WaldenHealthStatus.Unhealthy, db.GetHealth().Status);
    }

    [Fact]
    public async Task Restore_ToEachTransactionOfOneSegmentThatRewritesTheSamePages_HasExactlyThatTransactionsState()
    {
        var options = Options(WaldenArchiveMode.Async);
        options.Archive.MaxLag = TimeSpan.FromHours(1); // nothing ships before close: one segment holds every transaction
        var path = _dir.File("app.db");
        var txids = new List<long>();
        var states = new List<string>();
        const string State = "SELECT count(*) || ':' || sum(id * 31 + v) || ':' || sum(length(body)) FROM t";
        await using (var db = await WaldenDatabase.OpenAsync(path, options))
        {
            // The open's base is stored now: in the background it may come after the first transactions, and take them into
            // a segment of its round (seen in CI under load: two segments).
            Assert.Null(db.Archiver!.ShipAll());
            await db.WriteAsync(c => c.Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v INTEGER, body TEXT)"));
            await db.WriteAsync(c => c.Exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 200) " +
                "INSERT INTO t SELECT i, 0, printf('%.300c', 'b') FROM n"));
            for (var i = 1; i <= 12; i++)
            {
                txids.Add(db.Archiver!.LastTxid);
                states.Add(await db.ReadAsync(c => c.Scalar<string>(State)));
                // The same leaves rewritten by every transaction, rows added and deleted: pages change, grow, shrink and move.
                await db.WriteAsync(c => c.Exec($"UPDATE t SET v = {i} WHERE id % 3 = {i % 3}; " +
                    $"INSERT INTO t(v, body) VALUES ({i}, printf('%.{i * 400}c', 'n')); DELETE FROM t WHERE id = {i * 7}"));
            }

            txids.Add(db.Archiver!.LastTxid);
            states.Add(await db.ReadAsync(c => c.Scalar<string>(State)));
        }

        Assert.Single(Directory.EnumerateFiles(Archive, "*.wseg", SearchOption.AllDirectories));
        for (var i = 0; i < txids.Count; i++)
        {
            var restored = _dir.File($"at-{i}.db");
            var result = await WaldenArchive.RestoreAsync(Archive, restored, new WaldenArchiveRestoreOptions { Txid = txids[i] });
            Assert.True(result.Complete, result.Problem);
            using var connection = Sql.OpenDirect(restored, readOnly: true);
            Assert.Equal("ok", connection.Scalar<string>("PRAGMA integrity_check"));
            Assert.Equal(states[i], connection.Scalar<string>(State));
        }
    }

    [Fact]
    public async Task Async_WhileOneOfTwoDestinationsFails_TheOtherShipsAndBothEndWithEveryWriteWithoutAGap()
    {
        // The pages of a shipped record go back to a pool once every destination has it: one destination that is behind
        // must still get the very bytes that were committed, long after the other one stored them.
        var second = _dir.File("archive-2");
        Directory.CreateDirectory(second);
        var failing = 0;
        var flaky = new ObservedDestination(new WaldenFolderDestination(second), name =>
        {
            if (Volatile.Read(ref failing) == 1)
            {
                throw new IOException("unplugged (test)");
            }
        });
        var options = Options(WaldenArchiveMode.Async);
        options.Archive.Destinations.Add(flaky);
        options.Archive.MaxLag = TimeSpan.FromHours(1); // shipped only when the test says so
        var path = _dir.File("app.db");
        await using (var db = await WaldenDatabase.OpenAsync(path, options))
        {
            await db.WriteAsync(c => c.Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, body TEXT)"));
            Assert.Null(db.Archiver!.ShipAll());
            Volatile.Write(ref failing, 1);
            for (var round = 0; round < 6; round++)
            {
                await Task.WhenAll(Enumerable.Range(0, 20).Select(i =>
                    db.WriteAsync(c => c.Exec($"INSERT INTO t(body) VALUES (printf('%.{(round * 20) + i + 100}c', 'r'))"))));
                Assert.NotNull(db.Archiver!.ShipAll()); // the first destination ships, the second fails
                await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => db.ReadAsync(c => c.Scalar<long>("SELECT count(*) FROM t"))));
            }

            Volatile.Write(ref failing, 0);
            Assert.Null(db.Archiver!.ShipAll());
        }

        foreach (var archive in new[] { Archive, second })
        {
            var restored = _dir.File($"restored-{Path.GetFileName(archive)}.db");
            var result = await WaldenArchive.RestoreAsync(archive, restored);
            Assert.True(result.Complete, result.Problem);
            Assert.Equal(120, Count(restored));
            using var connection = Sql.OpenDirect(restored, readOnly: true);
            Assert.Equal(Enumerable.Range(0, 120).Sum(i => i + 100), connection.Scalar<long>("SELECT sum(length(body)) FROM t"));
            Assert.Equal("ok", connection.Scalar<string>("PRAGMA integrity_check"));
        }

        Assert.Single(Directory.EnumerateDirectories(second)); // caught up on the same base: no new base, no gap
    }

    [Fact]
    public async Task Async_ACommitInTheWalGenerationLastSeen_IsReadBackWithOneRead_AndCommitsAfterWalResetsAreTakenExactly()
    {
        // The writer thread waits for each commit's read-back: the WAL header (its salts) is read only when the new frames do
        // not carry the salts of the generation last seen, which is how a restarted WAL shows.
        var options = Options(WaldenArchiveMode.Async);
        options.Archive.MaxLag = TimeSpan.FromHours(1); // shipped at the close
        var path = _dir.File("app.db");
        await using (var db = await WaldenDatabase.OpenAsync(path, options))
        {
            await db.WriteAsync(c => c.Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, body BLOB)"));
            for (var round = 0; round < 6; round++)
            {
                await db.WriteAsync(c => c.Exec("INSERT INTO t(body) VALUES (randomblob(1000))")); // the first after a reset reads the header
                var before = db.Archiver!.WalReads;
                for (var i = 0; i < 10; i++)
                {
                    await db.WriteAsync(c => c.Exec("INSERT INTO t(body) VALUES (randomblob(1000))"));
                }

                Assert.Equal(10, db.Archiver!.WalReads - before); // one read per commit, the header not among them

                // A reset, then (odd rounds) a commit of more frames than the last generation held: its first new frame is read
                // where the old generation's next one would be, and carries the new salts.
                await db.CheckpointAsync(round % 3 == 0 ? WaldenCheckpointMode.Truncate : WaldenCheckpointMode.Restart);
                if (round % 2 == 1)
                {
                    await db.WriteAsync(c => c.Exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 40) " +
                        "INSERT INTO t(body) SELECT randomblob(3000) FROM n"));
                }
            }
        }

        var restored = _dir.File("restored.db");
        var result = await WaldenArchive.RestoreAsync(Archive, restored);
        Assert.True(result.Complete, result.Problem);
        Assert.Single(Directory.EnumerateDirectories(Archive)); // one base: every reset was followed without a new snapshot
        Assert.Equal(System.Security.Cryptography.SHA256.HashData(await File.ReadAllBytesAsync(path)),
            System.Security.Cryptography.SHA256.HashData(await File.ReadAllBytesAsync(restored)));
    }

    [Fact]
    public async Task Async_CommitsAfterAShip_ReadTheirFramesIntoMemoryTheShippedOnesFreed_NotIntoFreshArrays()
    {
        // The writer thread reads every commit's frames back; a fresh (or shared-pool) array per commit cost it a large-object
        // allocation, a page fault per 4 KiB and later a full GC. What a ship frees must serve the next commits.
        var options = Options(WaldenArchiveMode.Async);
        options.Archive.MaxLag = TimeSpan.FromHours(1); // shipped only when the test says so
        // The allocation counter is per thread: every commit on the writer thread (a lone caller may commit inline with Async).
        options.Faults = new WriterFaults { KeepWritesOnWriterThread = true };
        var path = _dir.File("app.db");
        var allocated = new List<long>(); // bytes the writer thread had allocated when each write's delegate started
        await using (var db = await WaldenDatabase.OpenAsync(path, options))
        {
            await db.WriteAsync(c => c.Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, body BLOB)"));
            async Task CommitsAsync(int count, bool measure)
            {
                for (var i = 0; i < count; i++)
                {
                    // One commit of about 30 new pages (120 KiB of frames) per write.
                    await db.WriteAsync(c =>
                    {
                        if (measure)
                        {
                            allocated.Add(GC.GetAllocatedBytesForCurrentThread());
                        }

                        c.Exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 30) " +
                            "INSERT INTO t(body) SELECT randomblob(3000) FROM n");
                    });
                }
            }

            await CommitsAsync(200, measure: false); // more than the shared pool keeps (ArrayPool: 32 per core)
            Assert.Null(db.Archiver!.ShipAll()); // every record stored: their memory is free
            await CommitsAsync(150, measure: true);
            Assert.Null(db.Archiver!.ShipAll());
        }

        var perCommit = (allocated[^1] - allocated[0]) / (allocated.Count - 1);
        Assert.True(perCommit < 32 * 1024, $"the writer thread allocated {perCommit:N0} bytes per commit of about 120 KiB of frames");
        var restored = _dir.File("restored.db");
        var result = await WaldenArchive.RestoreAsync(Archive, restored);
        Assert.True(result.Complete, result.Problem);
        using var source = Sql.OpenDirect(path, readOnly: true);
        using var copy = Sql.OpenDirect(restored, readOnly: true);
        const string Digest = "SELECT count(*) || ':' || sum(length(body)) || ':' || sum(unicode(hex(substr(body, 1000, 8))) * id) FROM t";
        Assert.Equal(350 * 30, copy.Scalar<long>("SELECT count(*) FROM t"));
        Assert.Equal(source.Scalar<string>(Digest), copy.Scalar<string>(Digest)); // the reused memory carried the right bytes
        Assert.Equal("ok", copy.Scalar<string>("PRAGMA integrity_check"));
    }

    [Fact]
    public async Task Async_EachShipEncodesItsSegmentIntoTheBufferTheLastShipUsed_NotIntoNewArrays()
    {
        // A segment of a few MiB every ship interval, allocated as it grows and copied once more, was large-object-heap
        // garbage every quarter second: full GCs that stop the writer too.
        var options = Options(WaldenArchiveMode.Async);
        options.Archive.MaxLag = TimeSpan.FromHours(1); // shipped only when the test says so
        var path = _dir.File("app.db");
        long allocated;
        await using (var db = await WaldenDatabase.OpenAsync(path, options))
        {
            Assert.Null(db.Archiver!.ShipAll()); // the open's base, now, not in the background after the first commits
            await db.WriteAsync(c => c.Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, body BLOB)"));
            async Task CommitsAsync()
            {
                for (var i = 0; i < 20; i++)
                {
                    // About 120 KiB of incompressible pages per commit: each segment below is over 1 MiB.
                    await db.WriteAsync(c => c.Exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 30) " +
                        "INSERT INTO t(body) SELECT randomblob(3000) FROM n"));
                }
            }

            await CommitsAsync();
            Assert.Null(db.Archiver!.ShipAll()); // the first segment sizes the buffer
            await CommitsAsync();
            var before = GC.GetAllocatedBytesForCurrentThread();
            Assert.Null(db.Archiver!.ShipAll()); // ShipAll runs on the calling thread
            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        }

        var segments = Directory.EnumerateFiles(Archive, "*.wseg", SearchOption.AllDirectories).Select(f => new FileInfo(f).Length).ToList();
        Assert.Equal(2, segments.Count);
        Assert.All(segments, length => Assert.True(length > 1 << 20, $"a segment of {length:N0} bytes"));
        Assert.True(allocated < 256 * 1024, $"shipping a segment of {segments.Min():N0} bytes allocated {allocated:N0} bytes");
        var restored = _dir.File("restored.db");
        var result = await WaldenArchive.RestoreAsync(Archive, restored);
        Assert.True(result.Complete, result.Problem);
        Assert.Equal(40 * 30, Count(restored));
    }

    /// <summary>A destination that calls <paramref name="onPut"/> before storing each object.</summary>
    private sealed class ObservedDestination(IWaldenArchiveDestination inner, Action<string> onPut) : IWaldenArchiveDestination
    {
        public string Name => inner.Name;

        public void Put(string name, Stream content)
        {
            onPut(name);
            inner.Put(name, content);
        }

        public IReadOnlyList<WaldenArchiveObject> List(string prefix) => inner.List(prefix);

        public Stream OpenRead(string name) => inner.OpenRead(name);

        public void Delete(string name) => inner.Delete(name);
    }
}
