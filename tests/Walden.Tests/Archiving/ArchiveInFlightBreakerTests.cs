using Microsoft.Extensions.Time.Testing;
using Walden.Archiving;
using Walden.Tests.TestSupport;
using static Walden.Tests.Archiving.ArchiveChecks;

namespace Walden.Tests.Archiving;

/// <summary>
/// Breaker tests (breaker-32) for the pages in flight (Archiver.Continue.cs: AheadOfMap, NoteInFlight, NoteSideBase; and
/// PagesInFlight.cs): a kill right after a segment's store (simulated by putting back the staging files as they were at
/// that store), then whatever another program does to the file while Walden is closed, and the next open. The guarantee
/// attacked: the latest restore equals the file and says Complete, or the open takes a base.
/// </summary>
public sealed class ArchiveInFlightBreakerTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public ArchiveInFlightBreakerTests() => Directory.CreateDirectory(Archive);

    public void Dispose() => _dir.Dispose();

    private string Archive => _dir.File("archive");

    private string Path => _dir.File("app.db");

    private string Staging => ArchiveLineage.StagingFolder(Path);

    private string MapFile => System.IO.Path.Combine(Staging, PageMap.FileName);

    private string InFlightFile => System.IO.Path.Combine(Staging, PagesInFlight.FileName);

    private WaldenOptions Options(IWaldenArchiveDestination? destination = null, WaldenArchiveMode mode = WaldenArchiveMode.Async)
    {
        var options = ArchiveChecks.Options(mode, destination ?? new WaldenFolderDestination(Archive));
        options.CheckpointIdleDelay = TimeSpan.FromHours(1);
        return options;
    }

    /// <summary>Opens, writes rows [first, first + count) (400 older rows first when first is 0), closes; returns the open's continued pages (-1: a base).</summary>
    private async Task<int> RunAsync(int first, int count, WaldenOptions? options = null)
    {
        await using var db = await WaldenDatabase.OpenAsync(Path, options ?? Options());
        var continued = db.Archiver!.ContinuedPages;
        await WriteRowsAsync(db, first, count, older: first == 0);

        return continued;
    }

    private List<string> Bases() => [.. new WaldenFolderDestination(Archive).List(string.Empty).Select(o => o.Name)
        .Where(n => n.EndsWith(ArchiveFormat.BaseFileName, StringComparison.Ordinal)).Order(StringComparer.Ordinal)];

    private static string Integrity(string path)
    {
        using var connection = Sql.OpenDirect(path, readOnly: true);
        return connection.Scalar<string>("PRAGMA integrity_check");
    }

    /// <summary>The latest restore, and whether it is complete and equals the file (a message saying what differs, or null).</summary>
    private async Task<string?> LatestDiffersAsync(string name)
    {
        WaldenArchiveRestoreResult result;
        try
        {
            result = await WaldenArchive.RestoreAsync(Archive, _dir.File(name));
        }
        catch (Exception ex) when (ex is WaldenArchiveException or Microsoft.Data.Sqlite.SqliteException)
        {
            return $"the latest restore failed: {ex.GetType().Name}: {ex.Message}";
        }

        if (!result.Complete)
        {
            return $"the latest restore is not complete: {result.Problem}";
        }

        var integrity = Integrity(_dir.File(name));
        if (integrity != "ok")
        {
            return $"the latest restore (Complete, txid {result.Txid}) fails integrity_check: {integrity}";
        }

        var file = Content(Path);
        var restored = Content(_dir.File(name));
        return file == restored ? null
            : $"the latest restore (Complete, txid {result.Txid}) differs from the file: {Count(_dir.File(name))} rows restored, {Count(Path)} in the file";
    }

    private void PutStagingBack(byte[] map, byte[] inFlight)
    {
        File.WriteAllBytes(MapFile, map);
        if (inFlight.Length == 0)
        {
            File.Delete(InFlightFile);
        }
        else
        {
            File.WriteAllBytes(InFlightFile, inFlight);
        }
    }

    /// <summary>
    /// A round that shrank the file (auto_vacuum: the DELETE's commit gives the tail pages back, without writing them) is
    /// stored, then a kill before the map's save. While Walden is closed another program puts back the copy of the file
    /// it kept from before the round (an ordinary "restore my backup" with SQLite's backup API): the tail pages are back,
    /// byte for byte as the map knows them. The open finds the destinations ahead of the map, marks the pages the round
    /// wrote Unknown, and compares the rest with the map, which still describes the map's transaction, when the file was
    /// longer; the tail pages, cut off in the archive at the round's end, match the map and are not shipped.
    /// </summary>
    [Fact]
    public async Task AKillAfterARoundThatShrankTheFile_ThenAnOlderCopyPutBack_TheLatestRestoreIsTheFile()
    {
        using (var first = Sql.OpenDirect(Path))
        {
            first.Exec("PRAGMA auto_vacuum = FULL; PRAGMA journal_mode = WAL");
        }

        Assert.Equal(-1, await RunAsync(0, 20));
        var saved = _dir.File("saved.db");
        using (var source = Sql.OpenDirect(Path, readOnly: true))
        using (var copy = Sql.OpenDirect(saved))
        {
            source.BackupDatabase(copy); // the user's own backup of the file, while Walden is closed
        }

        long pages;
        using (var before = Sql.OpenDirect(Path))
        {
            pages = before.Scalar<long>("PRAGMA page_count");
        }

        var destination = new StagingCapture(Archive, Path);
        await using (var db = await WaldenDatabase.OpenAsync(Path, Options(destination)))
        {
            Assert.True(db.Archiver!.ContinuedPages >= 0);
            await db.WriteAsync(c => c.Exec("DELETE FROM t WHERE a < -100"));
        }

        using (var after = Sql.OpenDirect(Path))
        {
            Assert.True(after.Scalar<long>("PRAGMA page_count") < pages - 10, "the round did not shrink the file");
        }

        var (_, map, inFlight) = destination.AtStores[^1]; // a kill right after the round's store, before the map's save
        PutStagingBack(map, inFlight);

        using (var source = Sql.OpenDirect(saved, readOnly: true))
        using (var target = Sql.OpenDirect(Path))
        {
            source.BackupDatabase(target); // another program puts the older copy back
        }

        var continued = await RunAsync(1000, 2);
        var problem = await LatestDiffersAsync("latest.db");
        Assert.True(problem is null, $"{problem} (the open continued with {continued} pages)");
    }

    /// <summary>
    /// A base whose body is damaged (bit rot, a torn copy of the archive) with its header intact: the open reads only the
    /// header (EndOf: DecodeBase with no output) and the last segment whole, continues the chain, and every later restore
    /// of the latest stops at the damage, with no new base until the chain grows past NewBaseAfterBytes (before the
    /// continuation, the open took a base and the latest restored again). The last segment is checked whole for this very
    /// reason (ArchiveContinueBreakerTests.ALastSegmentDamagedInsideItsPayload_IsNotContinued...); the base is not.
    /// </summary>
    [Fact]
    public async Task ABaseDamagedInsideItsBody_IsNotContinued_SoTheLatestRestoreStaysComplete()
    {
        Assert.Equal(-1, await RunAsync(0, 20));
        var baseFile = System.IO.Path.Combine(Archive, Assert.Single(Bases()));
        using (var stream = new FileStream(baseFile, FileMode.Open, FileAccess.ReadWrite))
        {
            stream.Position = stream.Length / 2; // inside the compressed payload, well past the header
            var b = stream.ReadByte();
            stream.Position--;
            stream.WriteByte((byte)(b ^ 0x5a));
        }

        var continued = await RunAsync(20, 5);
        var problem = await LatestDiffersAsync("latest.db");
        Assert.True(problem is null, $"{problem} (the open continued the damaged base's chain with {continued} pages; bases: {string.Join(", ", Bases())})");
    }

    /// <summary>
    /// With drills on, an open reads the base whole (its SHA-256) only when it was not known whole within the drill interval
    /// (BasesChecked): a base is as large as the database, a download from an object store at every open otherwise. Known
    /// whole: stored by this archiver, or read whole by an earlier open. Fails with the base read whole at every open.
    /// </summary>
    [Fact]
    public async Task WithDrillsOn_AnOpenReadsTheBaseWhole_OnlyWhenItWasNotKnownWholeWithinTheDrillInterval()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 2, 12, 0, 0, TimeSpan.Zero));
        var destination = new ReadMeasuringDestination(new WaldenFolderDestination(Archive));
        WaldenOptions Drilled()
        {
            var options = ArchiveChecks.Options(WaldenArchiveMode.Async, destination, time);
            options.CheckpointIdleDelay = TimeSpan.FromHours(1);
            options.Archive.DrillInterval = TimeSpan.FromHours(1);
            return options;
        }

        void Verified() => Assert.True(WaldenArchive.Verify(new WaldenFolderDestination(Archive), time, CancellationToken.None, null).Complete);

        Assert.Equal(-1, await RunAsync(0, 20, Drilled()));
        ForgetPageMap(Path);
        Assert.Equal(-1, await RunAsync(20, 2, Drilled())); // a base of the 400 rows, stored: known whole from now
        Verified();
        var length = new FileInfo(System.IO.Path.Combine(Archive, Bases()[^1])).Length;

        destination.BaseBytesRead = 0;
        Assert.True(await RunAsync(22, 2, Drilled()) >= 0);
        Assert.True(destination.BaseBytesRead < length / 4, $"{destination.BaseBytesRead} of the base's {length} bytes read by an open right after its store");

        time.Advance(TimeSpan.FromHours(1));
        Verified(); // a drill's record at the new time, so that none comes due while the opens below run
        destination.BaseBytesRead = 0;
        Assert.True(await RunAsync(24, 2, Drilled()) >= 0);
        Assert.True(destination.BaseBytesRead >= length, $"{destination.BaseBytesRead} of {length} bytes read an interval later"); // read whole, and known whole again from now

        destination.BaseBytesRead = 0;
        Assert.True(await RunAsync(26, 2, Drilled()) >= 0);
        Assert.True(destination.BaseBytesRead < length / 4, $"{destination.BaseBytesRead} of {length} bytes read right after a whole read");

        File.WriteAllText(System.IO.Path.Combine(Staging, BasesChecked.FileName), "{\"torn"); // a torn record knows nothing
        destination.BaseBytesRead = 0;
        Assert.True(await RunAsync(28, 2, Drilled()) >= 0);
        Assert.True(destination.BaseBytesRead >= length, $"{destination.BaseBytesRead} of {length} bytes read after the record was torn");
        Assert.Null(await LatestDiffersAsync("latest.db"));
    }

    /// <summary>
    /// The other side of the rule above: a base damaged inside its body right after its store is continued by an open
    /// within the drill interval (it is not read whole), and the drill finds the damage and heals it with a side base, so
    /// the latest restore is complete again; an open an interval later reads it whole and takes a base instead.
    /// </summary>
    [Fact]
    public async Task WithDrillsOn_ABaseDamagedRightAfterItsStore_IsHealedByTheDrill_AndReadWholeAnIntervalLater()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 2, 12, 0, 0, TimeSpan.Zero));
        WaldenOptions Drilled()
        {
            var options = ArchiveChecks.Options(WaldenArchiveMode.Async, new WaldenFolderDestination(Archive), time);
            options.CheckpointIdleDelay = TimeSpan.FromHours(1);
            options.Archive.DrillInterval = TimeSpan.FromHours(1);
            return options;
        }

        Assert.Equal(-1, await RunAsync(0, 20, Drilled()));
        ForgetPageMap(Path);
        Assert.Equal(-1, await RunAsync(20, 2, Drilled())); // a base of the 400 rows, stored: known whole from now
        DamageBody(System.IO.Path.Combine(Archive, Bases()[^1]));
        await using (var db = await WaldenDatabase.OpenAsync(Path, Drilled()))
        {
            Assert.True(db.Archiver!.ContinuedPages >= 0, "the open within the interval read the base whole");
            db.Archiver.DrillScratchFolder = _dir.File("drill");
            Directory.CreateDirectory(db.Archiver.DrillScratchFolder);
            await db.WriteAsync(c => c.Exec("INSERT INTO t(a, body) VALUES (22, 'x')"));
            Assert.Null(db.Archiver.ShipAll());
            Assert.False(db.Archiver.RunDrill().Complete); // the damage found: a side base at the next write
            await db.WriteAsync(c => c.Exec("INSERT INTO t(a, body) VALUES (23, 'after the drill')"));
            Assert.Null(db.Archiver.ShipAll());
            db.Archiver.FinishSideBaseForTests();
            Assert.Null(db.Archiver.ShipAll());
            Assert.True(db.Archiver.RunDrill().Complete);
        }

        Assert.Null(await LatestDiffersAsync("healed.db"));
        Assert.Equal(3, Bases().Count);

        DamageBody(System.IO.Path.Combine(Archive, Bases()[^1]));
        time.Advance(TimeSpan.FromHours(1));
        Assert.Equal(-1, await RunAsync(24, 2, Drilled())); // read whole an interval later: damaged, so a new base
        Assert.Null(await LatestDiffersAsync("latest.db"));
    }

    /// <summary>
    /// A kill right after the resume transaction of an open that continued past the map (the map saved at open with its
    /// Unknown pages): either before that transaction's segment was stored, or right after. Then another program writes a
    /// page the stored round had written back to what it was, and a row; the next open. Passing: covers the map saved
    /// with Unknown digests being read back by a later open (not covered before).
    /// </summary>
    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task AKillAfterTheResumeTransaction_ThenAnotherProgramWrites_TheLatestRestoreIsTheFile(bool resumeStored)
    {
        Assert.Equal(-1, await RunAsync(0, 20));
        var first = new StagingCapture(Archive, Path);
        await using (var db = await WaldenDatabase.OpenAsync(Path, Options(first)))
        {
            await db.WriteAsync(c => c.Exec("INSERT INTO t(a, body) VALUES (20, 'x')"));
            Assert.Null(db.Archiver!.ShipAll());
            await db.WriteAsync(c => c.Exec("UPDATE t SET body = printf('%.300c', 'b') WHERE a = -5"));
        }

        var (_, map1, inFlight1) = first.AtStores[^1];
        PutStagingBack(map1, inFlight1);

        var second = new StagingCapture(Archive, Path);
        await using (var db = await WaldenDatabase.OpenAsync(Path, Options(second)))
        {
            Assert.True(db.Archiver!.ContinuedPages > 0, "the open after the kill did not continue past the map");
        }

        var (segment, map2, inFlight2) = second.AtStores[0]; // the resume transaction's segment
        PutStagingBack(map2, inFlight2);
        if (!resumeStored)
        {
            File.Delete(System.IO.Path.Combine(Archive, segment));
        }

        using (var other = Sql.OpenDirect(Path))
        {
            other.Exec("UPDATE t SET body = printf('%.300c', 'o') WHERE a = -5; INSERT INTO t(a, body) VALUES (5000, 'theirs')");
        }

        var continued = await RunAsync(30, 2);
        var problem = await LatestDiffersAsync("latest.db");
        Assert.True(problem is null, $"{problem} (the open continued with {continued} pages)");
    }

    /// <summary>
    /// One round split into several segments (SegmentTargetBytes at its minimum, large transactions), a kill between two of
    /// them, at each possible point; then another program writes back one of the round's rows. Passing: covers a
    /// destination ending inside a round (an end NoteInFlight adds per slice), not covered before.
    /// </summary>
    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    public async Task AKillBetweenTwoSegmentsOfOneRound_ThenAnotherProgramWrites_TheLatestRestoreIsTheFile(int keptSegments)
    {
        Assert.Equal(-1, await RunAsync(0, 20));
        await using (var db = await WaldenDatabase.OpenAsync(Path, Options()))
        {
            // Enough pages that the round's are fewer than half of them (else the open takes a base by rule).
            await db.WriteAsync(c => c.Exec("WITH RECURSIVE n(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM n WHERE v < 3000) " +
                "INSERT INTO t(a, body) SELECT 100000 + v, printf('%.300c', 'f') FROM n"));
        }

        var destination = new StagingCapture(Archive, Path);
        var options = Options(destination);
        options.Archive.SegmentTargetBytes = 64 << 10;
        options.Archive.MaxLag = TimeSpan.FromHours(1);
        await using (var db = await WaldenDatabase.OpenAsync(Path, options))
        {
            for (var i = 0; i < 4; i++)
            {
                var k = i;
                await db.WriteAsync(c => c.Exec($"WITH RECURSIVE n(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM n WHERE v < 30) " +
                    $"INSERT INTO t(a, body) SELECT {10_000 * (k + 1)} + v, printf('%.3000c', 'r') FROM n"));
            }
        }

        Assert.True(destination.AtStores.Count >= 4, $"the round was stored in {destination.AtStores.Count} segments");
        foreach (var (name, _, _) in destination.AtStores.Skip(keptSegments + 1))
        {
            File.Delete(System.IO.Path.Combine(Archive, name)); // never stored: the kill came first
        }

        var (_, map, inFlight) = destination.AtStores[keptSegments];
        PutStagingBack(map, inFlight);
        using (var other = Sql.OpenDirect(Path))
        {
            other.Exec("DELETE FROM t WHERE a BETWEEN 10001 AND 10010; UPDATE t SET body = 'theirs' WHERE a = 20005");
        }

        var m = PageMap.TryLoad(MapFile, out var w1);
        var f = PagesInFlight.TryLoad(InFlightFile, out var w2);
        var dbg = $"map {m?.BaseId} {m?.Txid} {w1}; inflight {f?.BaseId} {f?.From} ends [{string.Join(",", f?.Ends.Keys.ToList() ?? [])}] {w2}; segs {string.Join(",", destination.AtStores.Select(a => a.Segment))}";
        var continued = await RunAsync(30, 2);
        Assert.True(continued >= 0, $"the open after the kill took a base (segments stored: {string.Join(", ", destination.AtStores.Select(a => a.Segment))})");
        var problem = await LatestDiffersAsync("latest.db");
        Assert.True(problem is null, $"{problem} (the open continued with {continued} pages)");
    }

    private static void DamageBody(string file)
    {
        using var stream = new FileStream(file, FileMode.Open, FileAccess.ReadWrite);
        stream.Position = stream.Length / 2; // inside the compressed payload, well past the header
        var b = stream.ReadByte();
        stream.Position--;
        stream.WriteByte((byte)(b ^ 0x5a));
    }

    /// <summary>
    /// The drill's heal when the damaged object is the base (Async: a side base), and a kill after the side base's store,
    /// before the switch to it. The next open continues the damaged base's chain beside the side base (EndOf reads the
    /// base's header only; the side base was noted). A restore of the latest then takes the chain that reaches furthest,
    /// finds its base damaged, falls back to the side base, which ends at the heal, and says Complete, since the base it
    /// skipped has a smaller id than the side base (ArchiveRestorer: only "newer" bases, by id, make it incomplete): every
    /// row written after the heal is missing from a restore that says it is the latest state.
    /// </summary>
    [Fact]
    public async Task TheHealOfADamagedBase_AKillBeforeTheSwitch_ThenTheNextOpen_TheLatestRestoreIsNotAnOlderStateSaidComplete()
    {
        var destination = new StagingCapture(Archive, Path);
        var options = Options(destination);
        options.Archive.MaxLag = TimeSpan.FromHours(1);
        long healedAt;
        await using (var db = await WaldenDatabase.OpenAsync(Path, options))
        {
            await db.WriteAsync(c => c.Exec("CREATE TABLE t(a INTEGER PRIMARY KEY, body TEXT)"));
            await db.WriteAsync(c => c.Exec("WITH RECURSIVE n(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM n WHERE v < 400) " +
                "INSERT INTO t(a, body) SELECT -v, printf('%.300c', 'o') FROM n"));
            Assert.Null(db.Archiver!.ShipAll());
            for (var i = 0; i < 3; i++)
            {
                var value = i;
                await db.WriteAsync(c => c.Exec($"INSERT INTO t(a, body) VALUES ({value}, 'x')"));
                Assert.Null(db.Archiver.ShipAll());
            }

            DamageBody(System.IO.Path.Combine(Archive, Assert.Single(Bases())));
            Assert.False(db.Archiver.RunDrill().Complete); // heals: a side base at the next write

            await db.WriteAsync(c => c.Exec("INSERT INTO t(a, body) VALUES (1000, 'after the drill')"));
            healedAt = db.Archiver.LastTxid;
            Assert.Null(db.Archiver.ShipAll());
            db.Archiver.FinishSideBaseForTests();
            for (var i = 1001; i < 1005; i++)
            {
                var value = i;
                await db.WriteAsync(c => c.Exec($"INSERT INTO t(a, body) VALUES ({value}, 'x')"));
            }
        }

        // The kill: the side base stored, nothing after it, the staging folder as it was then.
        Assert.Equal(2, Bases().Count);
        foreach (var segment in Directory.EnumerateFiles(System.IO.Path.GetDirectoryName(System.IO.Path.Combine(Archive, Bases()[^1]))!, "*.wseg"))
        {
            File.Delete(segment);
        }

        var (map, inFlight) = destination.AfterSecondBase ?? throw new InvalidOperationException("the side base was not stored");
        PutStagingBack(map, inFlight);

        var continued = await RunAsync(2000, 3);
        var problem = await LatestDiffersAsync("latest.db");
        Assert.True(problem is null, $"{problem} (the open continued with {continued} pages; the heal's side base is at transaction {healedAt})");
    }

    /// <summary>A folder whose objects can be read, but whose Put is refused once <see cref="ReadOnly"/> (a folder the service user may no longer write: EACCES).</summary>
    private sealed class TurnsReadOnly(string folder) : IWaldenArchiveDestination
    {
        private readonly WaldenFolderDestination _inner = new(folder);

        public string Name => _inner.Name;

        public bool ReadOnly { get; set; }

        public void Put(string name, Stream content)
        {
            if (ReadOnly)
            {
                throw new UnauthorizedAccessException($"Access to the path '{name}' is denied.");
            }

            _inner.Put(name, content);
        }

        public IReadOnlyList<WaldenArchiveObject> List(string prefix) => _inner.List(prefix);

        public Stream OpenRead(string name) => _inner.OpenRead(name);

        public void Delete(string name) => _inner.Delete(name);
    }

    /// <summary>
    /// The drill on a destination that has become read-only for this user (Put throws UnauthorizedAccessException, as .NET
    /// does for EACCES) after a segment was damaged: the drill's restore fails, then its record of the outcome in
    /// verifications/ throws (WaldenArchive.Verify catches only IOException there), RunDrill lets it out, and the
    /// maintenance loop swallows it: health keeps saying the last drill was ok and the heal never runs.
    /// </summary>
    [Fact]
    public async Task ADrillOnADestinationThatTurnedReadOnly_AfterDamage_StillReportsTheFailureInHealth()
    {
        var destination = new TurnsReadOnly(Archive);
        var options = Options(destination);
        options.Archive.MaxLag = TimeSpan.FromHours(1);
        await using var db = await WaldenDatabase.OpenAsync(Path, options);
        await db.WriteAsync(c => c.Exec("CREATE TABLE t(a INTEGER PRIMARY KEY, body TEXT)"));
        for (var i = 0; i < 3; i++)
        {
            var value = i;
            await db.WriteAsync(c => c.Exec($"INSERT INTO t(a, body) VALUES ({value}, 'x')"));
            Assert.Null(db.Archiver!.ShipAll());
        }

        Assert.True(db.Archiver!.RunDrill().Complete);
        var segment = Directory.EnumerateFiles(Archive, "*.wseg", SearchOption.AllDirectories).Order().Skip(1).First();
        var bytes = await File.ReadAllBytesAsync(segment);
        bytes[^40] ^= 1;
        await File.WriteAllBytesAsync(segment, bytes);
        destination.ReadOnly = true;

        string outcome;
        try
        {
            var drill = db.Archiver.RunDrill();
            outcome = $"returned Complete={drill.Complete}";
        }
        catch (Exception ex)
        {
            outcome = $"threw {ex.GetType().Name}: {ex.Message}";
        }

        var health = db.GetHealth(new WaldenHealthThresholds { SlowCommit = TimeSpan.FromMinutes(10) });
        Assert.True(health.Reasons.Any(r => r.Contains("drill failed", StringComparison.Ordinal)),
            $"the drill {outcome}; health: {health.Status}: {string.Join(" / ", health.Reasons)}");
    }
}
