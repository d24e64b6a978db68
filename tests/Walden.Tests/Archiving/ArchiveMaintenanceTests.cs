using Microsoft.Extensions.Time.Testing;
using Walden.Archiving;
using Walden.Tests.TestSupport;
using static Walden.Tests.Archiving.ArchiveChecks;

namespace Walden.Tests.Archiving;

/// <summary>The restore drill, compaction and retention.</summary>
public sealed class ArchiveMaintenanceTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public ArchiveMaintenanceTests() => Directory.CreateDirectory(Archive);

    public void Dispose() => _dir.Dispose();

    private string Archive => _dir.File("archive");

    /// <param name="time">The clock.</param>
    /// <param name="segmentPerBatch">Store each Sync batch as its own segment object (as an object store does) instead of in
    /// the folder's append log, for the tests about segment objects.</param>
    private WaldenOptions Options(TimeProvider? time = null, bool segmentPerBatch = false)
    {
        var options = new WaldenOptions { TimeProvider = time ?? TimeProvider.System };
        options.Archive.Mode = WaldenArchiveMode.Sync;
        options.Archive.DrillInterval = null;
        options.Archive.Destinations.Add(new WaldenFolderDestination(Archive) { UseAppendLog = !segmentPerBatch });
        return options;
    }

    /// <summary>
    /// The drill's schedule outlives the process: the first drill after an open is due an interval after the last
    /// verification recorded in the archive (at once when that is overdue), an interval after the open only when there is
    /// none. Fails with the first drill an interval after every open: a process restarted more often never drilled.
    /// </summary>
    [Fact]
    public async Task TheFirstDrillAfterAnOpen_IsDueAnIntervalAfterTheLastVerification_NotAfterTheOpen()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 2, 12, 0, 0, TimeSpan.Zero));
        WaldenOptions Drilled()
        {
            var options = Options(time);
            options.Archive.DrillInterval = TimeSpan.FromHours(1);
            return options;
        }

        await using (var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), Drilled()))
        {
            Assert.Equal(TimeSpan.FromHours(1), db.Archiver!.DrillDueIn); // no verification yet: an interval after the open
            await db.WriteAsync(c => c.Exec("CREATE TABLE t(a); INSERT INTO t VALUES (1)"));
            Assert.True(db.Archiver.RunDrill().Complete);
        }

        time.Advance(TimeSpan.FromMinutes(50));
        await using (var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), Drilled()))
        {
            Assert.Equal(TimeSpan.FromMinutes(10), db.Archiver!.DrillDueIn);
        }

        time.Advance(TimeSpan.FromHours(2));
        var verifiedBefore = (await WaldenArchive.GetStatusAsync(Archive)).LastVerification!.At;
        await using (var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), Drilled()))
        {
            // Overdue: due at once (the maintenance loop may already have run it, and then the next is an interval away).
            var due = db.Archiver!.DrillDueIn;
            var ran = (await WaldenArchive.GetStatusAsync(Archive)).LastVerification!.At > verifiedBefore;
            Assert.True(due <= TimeSpan.Zero || ran, $"the overdue drill is due in {due}");
        }
    }

    [Fact]
    public async Task Drill_WhenASegmentIsDamaged_MakesHealthDegradedNamingTheSegment()
    {
        await using var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), Options(segmentPerBatch: true));
        await db.WriteAsync(c => c.Exec("CREATE TABLE t(a)"));
        for (var i = 0; i < 3; i++)
        {
            await db.WriteAsync(c => c.Exec($"INSERT INTO t VALUES ({i})"));
        }

        Assert.True(db.Archiver!.RunDrill().Complete);
        // The subject is the drill, not commit latency: a loaded machine's slow first commits (p99 1,015 ms once in CI) must not count.
        var drillOnly = new WaldenHealthThresholds { SlowCommit = TimeSpan.FromMinutes(10) };
        Assert.True(db.GetHealth(drillOnly).Status == WaldenHealthStatus.Healthy, string.Join(" / ", db.GetHealth(drillOnly).Reasons));

        var segment = Directory.EnumerateFiles(Archive, "*.wseg", SearchOption.AllDirectories).Order().Skip(1).First();
        var bytes = await File.ReadAllBytesAsync(segment);
        bytes[^40] ^= 1;
        await File.WriteAllBytesAsync(segment, bytes);

        Assert.False(db.Archiver!.RunDrill().Complete);
        var health = db.GetHealth();
        Assert.Equal(WaldenHealthStatus.Degraded, health.Status);
        Assert.Contains(health.Reasons, r => r.Contains(Path.GetFileName(segment), StringComparison.Ordinal));
        var status = await WaldenArchive.GetStatusAsync(Archive);
        Assert.False(status.LastVerification!.Ok);
    }

    [Theory]
    [InlineData(WaldenArchiveMode.Sync, false)]
    [InlineData(WaldenArchiveMode.Async, false)]
    [InlineData(WaldenArchiveMode.Async, true)]
    public async Task Drill_WhenASegmentIsDamaged_TakesANewBase_SoTheLatestStateRestoresAgain_AndKeepsTheDamagedSegment(WaldenArchiveMode mode, bool missing)
    {
        var path = _dir.File("app.db");
        var options = Options(segmentPerBatch: true);
        options.Archive.Mode = mode;
        options.CheckpointIdleDelay = TimeSpan.FromHours(1);
        await using var db = await WaldenDatabase.OpenAsync(path, options);
        await db.WriteAsync(c => c.Exec("CREATE TABLE t(a)"));
        for (var i = 0; i < 3; i++)
        {
            await db.WriteAsync(c => c.Exec($"INSERT INTO t VALUES ({i})"));
            Assert.Null(db.Archiver!.ShipAll());
        }

        var segment = Directory.EnumerateFiles(Archive, "*.wseg", SearchOption.AllDirectories).Order().Skip(1).First();
        var bytes = await File.ReadAllBytesAsync(segment);
        bytes[^40] ^= 1;
        await File.WriteAllBytesAsync(segment, bytes);
        if (missing)
        {
            File.Move(segment, _dir.File("lost.wseg")); // a segment deleted by hand
        }

        Assert.False(db.Archiver!.RunDrill().Complete);

        await db.WriteAsync(c => c.Exec("INSERT INTO t VALUES (3)")); // the writer takes the base the drill asked for
        db.Archiver.FinishSideBaseForTests();
        await db.WriteAsync(c => c.Exec("INSERT INTO t VALUES (4)"));
        Assert.Null(db.Archiver.ShipAll());

        Assert.Equal(2, Directory.EnumerateFiles(Archive, "base.wbase", SearchOption.AllDirectories).Count());
        Assert.Equal(bytes, await File.ReadAllBytesAsync(missing ? _dir.File("lost.wseg") : segment)); // kept as found
        var drill = db.Archiver.RunDrill();
        Assert.True(drill.Complete, drill.Problem);
        Assert.DoesNotContain(db.GetHealth().Reasons, r => r.Contains("drill", StringComparison.Ordinal));
        var restored = await RestoreCompleteAsync(Archive, _dir.File("restored.db"));
        Assert.Equal(5, Count(restored));
    }

    [Fact]
    public async Task Compaction_MergesSegments_AndEveryTransactionStaysRestorable()
    {
        var txids = new List<long>();
        await using (var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), Options(segmentPerBatch: true)))
        {
            await db.WriteAsync(c => c.Exec("CREATE TABLE t(a)"));
            for (var i = 1; i <= 30; i++)
            {
                await db.WriteAsync(c => c.Exec($"INSERT INTO t VALUES ({i})"));
                txids.Add(db.Archiver!.LastTxid);
            }
        }

        var before = Directory.EnumerateFiles(Archive, "*.wseg", SearchOption.AllDirectories).Count();
        Archiver.Compact(new WaldenFolderDestination(Archive), 1024 * 1024);
        var after = Directory.EnumerateFiles(Archive, "*.wseg", SearchOption.AllDirectories).Count();

        Assert.True(after < before / 4, $"{before} segments became {after}");
        var latest = await WaldenArchive.RestoreAsync(Archive, _dir.File("latest.db"));
        Assert.True(latest.Complete, latest.Problem);
        Assert.Equal(30, Count(_dir.File("latest.db")));
        var middle = await WaldenArchive.RestoreAsync(Archive, _dir.File("middle.db"), new WaldenArchiveRestoreOptions { Txid = txids[11] });
        Assert.True(middle.Complete, middle.Problem);
        Assert.Equal(12, Count(_dir.File("middle.db")));
    }

    [Fact]
    public async Task Retention_DeletesOnlyBasesOlderThanAVerifiedBaseOutsideTheWindow()
    {
        var time = new FakeTimeProvider();
        for (var run = 0; run < 3; run++)
        {
            ForgetPageMap(_dir.File("app.db")); // each open takes a base
            await using var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), Options(time));
            await db.WriteAsync(c => c.Exec("CREATE TABLE IF NOT EXISTS t(a); INSERT INTO t VALUES (1)"));
            time.Advance(TimeSpan.FromDays(1));
        }

        var destination = new WaldenFolderDestination(Archive);
        Assert.Equal(0, Archiver.ApplyRetention(destination, TimeSpan.FromHours(1), time.GetUtcNow())); // never verified: nothing goes
        Assert.True(WaldenArchive.Verify(destination, time, CancellationToken.None).Complete);

        // The window reaches back 1.5 days: the base of day 2 (1 day old) is needed for it, day 1's base only as a start before it.
        Assert.Equal(1, Archiver.ApplyRetention(destination, TimeSpan.FromDays(1.5), time.GetUtcNow()));
        Assert.Equal(2, Directory.EnumerateDirectories(Archive).Count(d => !d.EndsWith("verifications", StringComparison.Ordinal)));
        var result = await WaldenArchive.RestoreAsync(Archive, _dir.File("restored.db"));
        Assert.True(result.Complete, result.Problem);
        Assert.Equal(3, Count(_dir.File("restored.db")));
    }
}
