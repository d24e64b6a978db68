using Walden.Tests.TestSupport;
using Walden.Writing;
using static Walden.Tests.Archiving.ArchiveChecks;

namespace Walden.Tests.Archiving;

/// <summary>
/// A base snapshot is copied off the writer's path: in Async mode writes go on while it is copied, and the archive still
/// restores every one of them, none twice; in Sync mode a write that needed a new base is acknowledged only once it is stored.
/// </summary>
public sealed class ArchiveBaseTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private readonly TempDirectory _dir = new();

    public ArchiveBaseTests() => Directory.CreateDirectory(Archive);

    public void Dispose() => _dir.Dispose();

    private string Archive => _dir.File("archive");

    private string Path => _dir.File("app.db");

    private WaldenOptions Options(WaldenArchiveMode mode, Action beforeBaseCopy)
    {
        var options = ArchiveChecks.Options(mode, new WaldenFolderDestination(Archive));
        options.CheckpointIdleDelay = TimeSpan.FromHours(1);
        options.Faults = new WriterFaults { BeforeBaseCopy = beforeBaseCopy };
        return options;
    }

    /// <summary>Commits through a connection of its own: the archive answers the foreign commit with a new base at Walden's next commit.</summary>
    private void CommitElsewhere(string sql)
    {
        using var foreign = Sql.OpenDirect(Path);
        foreign.Exec(sql);
    }

    [Fact]
    public async Task Async_WritesAreAcknowledgedWhileABaseIsCopied_AndTheRestoreHasEachOfThem()
    {
        using var gate = new CopyGate(Patience * 2); // holds longer than the test waits for the writes below
        var options = Options(WaldenArchiveMode.Async, gate.Hold);
        options.Archive.MaxLag = TimeSpan.FromHours(1); // shipped at close
        await using (var db = await WaldenDatabase.OpenAsync(Path, options))
        {
            await db.WriteAsync(c => c.Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, body TEXT)"));
            await Insert(db, 40, "before");
            CommitElsewhere("INSERT INTO t(body) VALUES ('foreign')");
            gate.Arm();
            var starter = db.WriteAsync(c => c.Exec("INSERT INTO t(body) VALUES ('starts the base')"));
            Assert.True(gate.Copying.Wait(Patience), "no new base was started after the foreign commit");

            // The copy is held: the write whose commit started it, and each of these, is acknowledged anyway.
            var during = Task.WhenAll(starter, Insert(db, 60, "during"));
            var finished = await Task.WhenAny(during, Task.Delay(Patience));
            Assert.True(finished == during, "the writes waited for the base snapshot's copy");
            await during;
            gate.Release.Set();
        }

        var restored = await RestoreCompleteAsync(Archive, _dir.File("restored.db"));
        using var connection = Sql.OpenDirect(restored, readOnly: true);
        Assert.Equal("ok", connection.Scalar<string>("PRAGMA integrity_check"));
        Assert.Equal(102, connection.Scalar<long>("SELECT count(*) FROM t"));
        Assert.Equal(60, connection.Scalar<long>("SELECT count(*) FROM t WHERE body LIKE 'during%'"));
        Assert.Equal(1, connection.Scalar<long>("SELECT count(*) FROM t WHERE body = 'foreign'"));
    }

    [Fact]
    public async Task Async_WhenAnotherProcessResetsTheWalWhileABaseIsEncoded_NoRestorableMomentMissesItsCommit()
    {
        // Found by a Python program writing beside `walden demo --archive`: its commit, checkpointed and its WAL reset by
        // itself between a base's copy and the end of its encoding, was missing from the transaction Walden took next,
        // which was still shipped after that base (a state that never existed, restored as complete).
        using var gate = new CopyGate(Patience * 2);
        var options = ArchiveChecks.Options(WaldenArchiveMode.Async, new WaldenFolderDestination(Archive));
        options.CheckpointIdleDelay = TimeSpan.FromHours(1);
        options.Archive.MaxLag = TimeSpan.FromHours(1); // shipped at close
        options.Faults = new WriterFaults { AfterBaseSnapshotReleased = gate.Hold };
        await using (var db = await WaldenDatabase.OpenAsync(Path, options))
        {
            await db.WriteAsync(c => c.Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, body TEXT)"));
            await Insert(db, 10, "before");
            CommitElsewhere("INSERT INTO t(body) VALUES ('foreign 1')");
            gate.Arm();
            await db.WriteAsync(c => c.Exec("INSERT INTO t(body) VALUES ('starts the base')"));
            Assert.True(gate.Copying.Wait(Patience), "no new base was started after the foreign commit");
            using (var foreign = Sql.OpenDirect(Path))
            {
                foreign.Exec("CREATE TABLE f(x); INSERT INTO f VALUES (randomblob(20000)); INSERT INTO t(body) VALUES ('foreign 2')");
                Assert.Equal(0, foreign.Scalar<long>("PRAGMA wal_checkpoint(TRUNCATE)")); // its frames leave the WAL
            }

            await db.WriteAsync(c => c.Exec("INSERT INTO t(body) VALUES ('after')"));
            gate.Release.Set();
        }

        var status = await WaldenArchive.GetStatusAsync(Archive);
        var moments = status.Bases.Where(b => b.Problem is null).SelectMany(b => LongRange(b.Txid, b.LastTxid)).ToList();
        Assert.NotEmpty(moments);
        foreach (var txid in moments.Append(long.MaxValue))
        {
            var restored = _dir.File($"restored-{txid}.db");
            var result = await WaldenArchive.RestoreAsync(Archive, restored, new() { Txid = txid == long.MaxValue ? null : txid });
            using var connection = Sql.OpenDirect(restored, readOnly: true);
            Assert.Equal("ok", connection.Scalar<string>("PRAGMA integrity_check"));
            var hasT = connection.Scalar<long>("SELECT count(*) FROM sqlite_schema WHERE name = 't'") == 1;
            if (hasT && connection.Scalar<long>("SELECT count(*) FROM t WHERE body = 'after'") == 1)
            {
                // Walden's 'after' was committed after the foreign commit: no moment has it without the foreign one.
                Assert.Equal(1, connection.Scalar<long>("SELECT count(*) FROM t WHERE body = 'foreign 2'"));
                Assert.Equal(20000, connection.Scalar<long>("SELECT length(x) FROM f"));
            }

            if (txid == long.MaxValue)
            {
                Assert.True(result.Complete, result.Problem);
                Assert.Equal(14, connection.Scalar<long>("SELECT count(*) FROM t")); // the latest moment has every commit
            }
        }
    }

    [Fact]
    public async Task Async_WhenABaseCopyFails_TheNextCommitTakesAnother_AndTheArchiveHasNoGap()
    {
        var fail = 0;
        var options = Options(WaldenArchiveMode.Async, () =>
        {
            if (Interlocked.Exchange(ref fail, 0) == 1)
            {
                throw new IOException("staging disk full (test)");
            }
        });
        options.Archive.MaxLag = TimeSpan.FromHours(1);
        await using (var db = await WaldenDatabase.OpenAsync(Path, options))
        {
            await db.WriteAsync(c => c.Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, body TEXT)"));
            CommitElsewhere("INSERT INTO t(body) VALUES ('foreign')");
            Volatile.Write(ref fail, 1);
            await Insert(db, 10, "first");
            Assert.Equal(0, Volatile.Read(ref fail)); // that base's copy ran and failed
            await Insert(db, 10, "second");
        }

        Assert.Equal(21, Count(await RestoreCompleteAsync(Archive, _dir.File("restored.db"))));
    }

    [Fact]
    public async Task Sync_AWriteThatNeedsANewBase_IsAcknowledgedOnlyOnceTheBaseIsCopied()
    {
        using var gate = new CopyGate(Patience);
        var options = Options(WaldenArchiveMode.Sync, gate.Hold);
        await using (var db = await WaldenDatabase.OpenAsync(Path, options))
        {
            await db.WriteAsync(c => c.Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, body TEXT)"));
            CommitElsewhere("INSERT INTO t(body) VALUES ('foreign')");
            gate.Arm();
            // On a thread of its own: a lone caller may commit inline (a Sync archive too), and then copies the base itself.
            var write = Task.Run(() => db.WriteAsync(c => c.Exec("INSERT INTO t(body) VALUES ('needs the base')")));
            Assert.True(gate.Copying.Wait(Patience));
            Assert.False(write.IsCompleted);
            gate.Release.Set();
            await write;
        }

        Assert.Equal(2, Count(await RestoreCompleteAsync(Archive, _dir.File("restored.db"))));
    }

    [Theory]
    [InlineData(WaldenArchiveMode.Async)]
    [InlineData(WaldenArchiveMode.Sync)]
    public async Task AnotherDatabaseArchivingIntoTheSameFolder_IsRefusedNamingTheDatabaseItHolds_AndTheFirstOnesArchiveRestoresIt(WaldenArchiveMode mode)
    {
        // Two `walden demo --archive arch` runs on two files at once: both said "archived through transaction 743", and the
        // folder restored only the second database (their bases had the same id, their segments the same names).
        var other = _dir.File("other.db");
        await using (var first = await WaldenDatabase.OpenAsync(Path, Options(mode, () => { })))
        {
            await first.WriteAsync(c => c.Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, body TEXT)"));
            var refused = await Assert.ThrowsAsync<WaldenArchiveException>(() => WaldenDatabase.OpenAsync(other, Options(mode, () => { })));
            Assert.Contains($"'{Archive}' holds the archive of '{Path}', not of '{other}'", refused.Message, StringComparison.Ordinal);
            Assert.Contains("a folder of its own", refused.Message, StringComparison.Ordinal);
            Assert.Equal(Archive, refused.Destination);
            await Insert(first, 5, "first");
        }

        Assert.Equal(5, Count(await RestoreCompleteAsync(Archive, _dir.File("restored.db"))));

        // Later too: the folder stays the first database's, which opens with it again.
        await Assert.ThrowsAsync<WaldenArchiveException>(() => WaldenDatabase.OpenAsync(other, Options(mode, () => { })));
        await using var again = await WaldenDatabase.OpenAsync(Path, Options(mode, () => { }));
        await Insert(again, 1, "again");
    }

    [Theory]
    [InlineData(WaldenArchiveMode.Async)]
    [InlineData(WaldenArchiveMode.Sync)]
    public async Task ASecondArchiverOfTheSameFile_IsRefusedByName_AndLeavesTheFirstOnesArchiveWhole(WaldenArchiveMode mode)
    {
        var options = Options(mode, () => { });
        await using (var first = await WaldenDatabase.OpenAsync(Path, options))
        {
            await first.WriteAsync(c => c.Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, body TEXT)"));
            var refused = await Assert.ThrowsAsync<WaldenArchiveException>(() => WaldenDatabase.OpenAsync(Path, Options(mode, () => { })));
            Assert.Contains($"already archived by another process (pid {Environment.ProcessId})", refused.Message, StringComparison.Ordinal);
            Assert.Contains("without WaldenOptions.Archive", refused.Message, StringComparison.Ordinal);

            // Without an archive the same file opens, and its commits reach the first one's archive through a new base.
            await using (var second = await WaldenDatabase.OpenAsync(Path, new WaldenOptions { CheckpointIdleDelay = TimeSpan.FromHours(1) }))
            {
                await second.WriteAsync(c => c.Exec("INSERT INTO t(body) VALUES ('second')"));
            }

            await Insert(first, 5, "first");
        }

        Assert.Equal(6, Count(await RestoreCompleteAsync(Archive, _dir.File("restored.db"))));

        // Once the first closed, the claim is free again.
        await using var again = await WaldenDatabase.OpenAsync(Path, Options(mode, () => { }));
        await Insert(again, 1, "again");
    }

    [Theory]
    [InlineData(WaldenArchiveMode.Async)]
    [InlineData(WaldenArchiveMode.Sync)]
    public async Task RightAfterOpen_BeforeAnyWrite_TheArchiveAlreadyRestoresTheDatabase(WaldenArchiveMode mode)
    {
        using (var before = Sql.OpenDirect(Path))
        {
            before.Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, body TEXT); INSERT INTO t(body) VALUES ('a'), ('b'), ('c')");
        }

        var options = Options(mode, () => { });
        options.Archive.MaxLag = TimeSpan.FromHours(1); // Async: no interval passes during the test
        await using var db = await WaldenDatabase.OpenAsync(Path, options);
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (!Directory.EnumerateFiles(Archive, "*.wbase", SearchOption.AllDirectories).Any())
        {
            Assert.True(mode == WaldenArchiveMode.Async, "Sync: the base was not stored when the open returned");
            Assert.True(waited.Elapsed < Patience, "Async: the base at open was not shipped before the first ship interval");
            await Task.Delay(10);
        }

        Assert.Equal(3, Count(await RestoreCompleteAsync(Archive, _dir.File("restored.db"))));
    }

    [Fact]
    public async Task AnObjectStillBeingMadeDurable_CanAlreadyBeRead_SoARestoreMeanwhileFindsIt()
    {
        // Found by RightAfterOpen_... in a fresh-clone CI run: the restore met the base between its rename and its fsync,
        // while Put still held it under an exclusive lock, and reported "holds no usable base snapshot".
        var source = new WaldenFolderDestination(Archive);
        var reads = new List<string>();
        var destination = new WaldenFolderDestination(Archive)
        {
            AfterRename = target =>
            {
                try
                {
                    using var read = source.OpenRead(System.IO.Path.GetRelativePath(Archive, target));
                    reads.Add($"read {read.Length} bytes");
                }
                catch (IOException ex)
                {
                    reads.Add(ex.Message);
                }
            },
        };
        var options = ArchiveChecks.Options(WaldenArchiveMode.Sync, destination);
        await using (var db = await WaldenDatabase.OpenAsync(Path, options))
        {
            await db.WriteAsync(c => c.Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, body TEXT)"));
        }

        Assert.NotEmpty(reads);
        Assert.All(reads, r => Assert.StartsWith("read ", r, StringComparison.Ordinal));
    }

    /// <summary>Once armed, holds the next base copies (on their thread) until released, or for at most the given time.</summary>
    private sealed class CopyGate(TimeSpan atMost) : IDisposable
    {
        private int _armed;

        public ManualResetEventSlim Copying { get; } = new();

        public ManualResetEventSlim Release { get; } = new();

        public void Arm() => Volatile.Write(ref _armed, 1);

        public void Hold()
        {
            if (Volatile.Read(ref _armed) == 1)
            {
                Copying.Set();
                Release.Wait(atMost);
            }
        }

        public void Dispose()
        {
            Copying.Dispose();
            Release.Dispose();
        }
    }

    private static IEnumerable<long> LongRange(long first, long last)
    {
        for (var i = first; i <= last; i++)
        {
            yield return i;
        }
    }

    private static Task Insert(WaldenDatabase db, int rows, string body) =>
        Task.WhenAll(Enumerable.Range(0, rows).Select(i => db.WriteAsync(c => c.Exec($"INSERT INTO t(body) VALUES ('{body} {i}')"))));
}
