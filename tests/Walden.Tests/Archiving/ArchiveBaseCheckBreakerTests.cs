using Microsoft.Extensions.Time.Testing;
using Walden.Archiving;
using Walden.Tests.TestSupport;
using static Walden.Tests.Archiving.ArchiveChecks;

namespace Walden.Tests.Archiving;

/// <summary>
/// Breaker tests (breaker-33) for the open's base check skipped within the drill interval (BasesChecked.cs, EndOf in
/// Archiver.Continue.cs) and the first drill after an open counted from the last verification (FirstDrillAfter in
/// Archiver.Maintenance.cs). What is attacked: anything the open no longer checks must be found by the drill (health
/// Degraded) and healed; the latest restore equals the file and says Complete, or says it is not complete.
/// </summary>
public sealed class ArchiveBaseCheckBreakerTests : IDisposable
{
    private static readonly DateTimeOffset T0 = new(2026, 12, 2, 12, 0, 0, TimeSpan.Zero);
    private static readonly WaldenHealthThresholds DrillOnly = new() { SlowCommit = TimeSpan.FromMinutes(10) };

    private readonly TempDirectory _dir = new();

    public ArchiveBaseCheckBreakerTests()
    {
        Directory.CreateDirectory(Archive);
        Directory.CreateDirectory(Second);
        Directory.CreateDirectory(Scratch);
    }

    public void Dispose() => _dir.Dispose();

    private string Archive => _dir.File("archive");

    private string Second => _dir.File("second");

    private string Scratch => _dir.File("scratch");

    private string Path => _dir.File("app.db");

    private string Staging => ArchiveLineage.StagingFolder(Path);

    private string RecordFile => System.IO.Path.Combine(Staging, BasesChecked.FileName);

    private WaldenOptions Drilled(TimeProvider time, WaldenArchiveMode mode = WaldenArchiveMode.Async, TimeSpan? interval = null,
        bool segmentObjects = false, bool second = false)
    {
        var options = ArchiveChecks.Options(mode, new WaldenFolderDestination(Archive) { UseAppendLog = !segmentObjects }, time);
        if (second)
        {
            options.Archive.Destinations.Add(new WaldenFolderDestination(Second) { UseAppendLog = !segmentObjects });
        }

        options.CheckpointIdleDelay = TimeSpan.FromHours(1);
        options.Archive.DrillInterval = interval ?? TimeSpan.FromHours(1);
        return options;
    }

    /// <summary>Opens, writes rows [first, first + count) (400 older rows first when first is 0), ships, closes; returns the open's continued pages (-1: a base).</summary>
    private async Task<int> RunAsync(int first, int count, WaldenOptions options)
    {
        await using var db = await WaldenDatabase.OpenAsync(Path, options);
        db.Archiver!.DrillScratchFolder = Scratch;
        var continued = db.Archiver.ContinuedPages;
        await WriteAsync(db, first, count);
        return continued;
    }

    private static Task WriteAsync(WaldenDatabase db, int first, int count, char fill = 'x') =>
        WriteRowsAsync(db, first, count, older: first == 0, fill, ship: true);

    private static List<string> BasesIn(string archive) => [.. new WaldenFolderDestination(archive).List(string.Empty).Select(o => o.Name)
        .Where(n => n.EndsWith(ArchiveFormat.BaseFileName, StringComparison.Ordinal)).Order(StringComparer.Ordinal)];

    private static void DamageBody(string file)
    {
        using var stream = new FileStream(file, FileMode.Open, FileAccess.ReadWrite);
        stream.Position = stream.Length / 2; // inside the compressed payload, well past the header
        var b = stream.ReadByte();
        stream.Position--;
        stream.WriteByte((byte)(b ^ 0x5a));
    }

    /// <summary>Damages a segment object of the archive that is neither the first nor the last (the open reads the last whole).</summary>
    private string DamageMiddleSegment()
    {
        var segments = Directory.EnumerateFiles(Archive, "*.wseg", SearchOption.AllDirectories).Order(StringComparer.Ordinal).ToList();
        Assert.True(segments.Count >= 3, $"{segments.Count} segment objects");
        var segment = segments[segments.Count / 2];
        var bytes = File.ReadAllBytes(segment);
        bytes[^40] ^= 1;
        File.WriteAllBytes(segment, bytes);
        return segment;
    }

    /// <summary>The latest restore of <paramref name="archive"/>: null when it is complete and equals the file, else what differs.</summary>
    private async Task<string?> LatestDiffersAsync(string archive, string name)
    {
        WaldenArchiveRestoreResult result;
        try
        {
            result = await WaldenArchive.RestoreAsync(archive, _dir.File(name));
        }
        catch (Exception ex) when (ex is WaldenArchiveException or Microsoft.Data.Sqlite.SqliteException)
        {
            return $"the latest restore failed: {ex.GetType().Name}: {ex.Message}";
        }

        if (!result.Complete)
        {
            return $"the latest restore is not complete: {result.Problem}";
        }

        return Content(Path) == Content(_dir.File(name)) ? null
            : $"the latest restore (Complete, txid {result.Txid}) differs from the file: {Count(_dir.File(name))} rows restored, {Count(Path)} in the file";
    }

    // ---------------------------------------------------------------- FirstDrillAfter

    /// <summary>
    /// The clock was an hour fast when a drill passed (its verification is named by its ticks, an hour ahead), then put
    /// right (NTP). A segment is damaged; the next drill fails and is recorded, named by the corrected clock, so it sorts
    /// before the earlier one when names were the clock's ticks (now the newest written sorts last). The process stops before
    /// the heal (Async: a side base at the next write, and there was none). The next open must drill at once (the last drill
    /// failed); it found the passed one "last" and scheduled the drill an interval later; a process restarted more often never finds the damage
    /// again, and health says Healthy while the latest restore stops at the damaged segment.
    /// </summary>
    [Fact]
    public async Task AClockPutBackAfterAPassedDrill_ThenAFailedDrill_TheNextOpenStillDrillsAtOnce()
    {
        var ahead = new FakeTimeProvider(T0 + TimeSpan.FromHours(1));
        await using (var db = await WaldenDatabase.OpenAsync(Path, Drilled(ahead, WaldenArchiveMode.Async, segmentObjects: true)))
        {
            db.Archiver!.DrillScratchFolder = Scratch;
            await WriteAsync(db, 0, 6);
            Assert.True(db.Archiver.RunDrill().Complete);
        }

        var time = new FakeTimeProvider(T0); // the clock put right: an hour back
        await using (var db = await WaldenDatabase.OpenAsync(Path, Drilled(time, WaldenArchiveMode.Async, segmentObjects: true)))
        {
            db.Archiver!.DrillScratchFolder = Scratch;
            DamageMiddleSegment();
            Assert.False(db.Archiver.RunDrill().Complete); // recorded as failed; the heal (a side base at the next write) never comes: the process stops
        }

        time.Advance(TimeSpan.FromMinutes(5));
        var status = await WaldenArchive.GetStatusAsync(Archive);
        await using (var db = await WaldenDatabase.OpenAsync(Path, Drilled(time, WaldenArchiveMode.Async, segmentObjects: true)))
        {
            db.Archiver!.DrillScratchFolder = Scratch;
            var due = db.Archiver.DrillDueIn;
            var latest = await LatestDiffersAsync(Archive, "latest.db");
            Assert.True(due <= TimeSpan.Zero,
                $"bases {string.Join(", ", BasesIn(Archive))}; the open after a failed drill schedules the next drill in {due} (last verification by name: {status.LastVerification}); " +
                $"health {db.GetHealth(DrillOnly).Status}; {latest ?? "the latest restore is complete"}");
        }
    }

    /// <summary>
    /// A verification object from the far future (a clock set to year 9999 once, or a hand-written one) with a time at
    /// DateTimeOffset's end: FirstDrillAfter added the interval to it, which threw ArgumentOutOfRangeException, not one of
    /// the exceptions it caught, and the database could not be opened at all. Now it subtracts, and a date after now counts
    /// as no schedule of its own.
    /// </summary>
    [Theory]
    [InlineData("9999-12-31T23:59:59.9999999+00:00\tok\t1\t1\t")]
    [InlineData("9999-12-31T23:00:00.0000000+00:00\tfailed\t1\t1\tsomething")]
    [InlineData("0001-01-01T00:00:00.0000000+00:00\tok\t1\t1\t")]
    [InlineData("2026-12-02T12:00:00.0000000+00:00\tok\t99999999999999999999999\t1\t")]
    [InlineData("2026-12-02T12:00:00.0000000+00:00\tok\tx\t1\t")]
    [InlineData("not a time\tok\t1\t1\t")]
    public async Task AVerificationObjectWithAnExtremeOrMalformedTime_DoesNotStopTheOpen(string body)
    {
        var time = new FakeTimeProvider(T0);
        Assert.Equal(-1, await RunAsync(0, 3, Drilled(time)));
        File.WriteAllText(System.IO.Path.Combine(Directory.CreateDirectory(System.IO.Path.Combine(Archive, "verifications")).FullName,
            "99999999999999999999.txt"), body);

        time.Advance(TimeSpan.FromMinutes(5));
        string? failure = null;
        try
        {
            await using var db = await WaldenDatabase.OpenAsync(Path, Drilled(time));
            db.Archiver!.DrillScratchFolder = Scratch;
            Assert.True(db.Archiver.DrillDueIn <= TimeSpan.FromHours(1));
            await WriteAsync(db, 3, 1);
        }
        catch (Exception ex) when (ex is not Xunit.Sdk.XunitException)
        {
            failure = $"{ex.GetType().Name}: {ex.Message}";
        }

        Assert.True(failure is null, $"the open with verification '{body.Replace('\t', ' ')}' threw {failure}");
        Assert.Null(await LatestDiffersAsync(Archive, "latest.db"));
    }

    /// <summary>
    /// A process restarted more often than the drill interval, from the archive's first open, never records a
    /// verification: with none, the first drill of every open was due an interval after that open (now after the oldest
    /// base was taken), so it never came,
    /// and a segment damaged meanwhile is never found (health Healthy, the latest restore stopping at it), which is what
    /// the schedule that outlives the process was for.
    /// </summary>
    [Fact]
    public async Task RestartsMoreOftenThanTheInterval_BeforeAnyVerification_StillDrillWithinAnInterval()
    {
        var time = new FakeTimeProvider(T0);
        await using (var db = await WaldenDatabase.OpenAsync(Path, Drilled(time, WaldenArchiveMode.Sync, segmentObjects: true)))
        {
            db.Archiver!.DrillScratchFolder = Scratch;
            await WriteAsync(db, 0, 6);
        }

        DamageMiddleSegment();
        var dues = new List<string>();
        for (var run = 1; run <= 4; run++)
        {
            time.Advance(TimeSpan.FromMinutes(40));
            await using var db = await WaldenDatabase.OpenAsync(Path, Drilled(time, WaldenArchiveMode.Sync, segmentObjects: true));
            db.Archiver!.DrillScratchFolder = Scratch;
            dues.Add($"{time.GetUtcNow() - T0:hh\\:mm} due in {db.Archiver.DrillDueIn}");
            if (db.Archiver.DrillDueIn <= TimeSpan.Zero)
            {
                return; // the drill is due (the loop runs it): the schedule did not restart with the process
            }

            await WriteAsync(db, 100 * run, 1);
        }

        var status = await WaldenArchive.GetStatusAsync(Archive);
        Assert.Fail($"160 minutes of restarts every 40 (interval 1 h) and no drill was ever due ({string.Join("; ", dues)}); " +
            $"last verification: {status.LastVerification?.ToString() ?? "none"}; {await LatestDiffersAsync(Archive, "latest.db") ?? "latest complete"}");
    }

    /// <summary>
    /// Passing: the last verification failed (recorded), then a restart: the open drills at once even though the
    /// failure is recent (not overdue). Covers FirstDrillAfter's "failed" branch at an open.
    /// </summary>
    [Fact]
    public async Task AFailedVerification_TheNextOpenDrillsAtOnce()
    {
        var time = new FakeTimeProvider(T0);
        await using (var db = await WaldenDatabase.OpenAsync(Path, Drilled(time, WaldenArchiveMode.Sync, segmentObjects: true)))
        {
            db.Archiver!.DrillScratchFolder = Scratch;
            await WriteAsync(db, 0, 6);
            DamageMiddleSegment();
            Assert.False(db.Archiver.RunDrill().Complete);
        }

        time.Advance(TimeSpan.FromMinutes(1));
        await using (var db = await WaldenDatabase.OpenAsync(Path, Drilled(time, WaldenArchiveMode.Sync, segmentObjects: true)))
        {
            var ran = (await WaldenArchive.GetStatusAsync(Archive)).LastVerification!.At > T0;
            Assert.True(db.Archiver!.DrillDueIn <= TimeSpan.Zero || ran, $"due in {db.Archiver.DrillDueIn}");
        }
    }

    /// <summary>
    /// Passing: a verification from the future (a clock that ran ahead) does not push the first drill further than an
    /// interval away; the interval shortened between runs shortens the wait (due min(last + new interval - now, new interval)).
    /// </summary>
    [Fact]
    public async Task AVerificationFromTheFuture_OrAShorterInterval_NeverDelaysTheFirstDrillPastAnInterval()
    {
        var time = new FakeTimeProvider(T0);
        Assert.Equal(-1, await RunAsync(0, 3, Drilled(time, interval: TimeSpan.FromHours(6))));
        var verifications = Directory.CreateDirectory(System.IO.Path.Combine(Archive, "verifications")).FullName;
        File.WriteAllText(System.IO.Path.Combine(verifications, $"{(T0 + TimeSpan.FromDays(30)).UtcTicks:D20}.txt"),
            $"{T0 + TimeSpan.FromDays(30):O}\tok\t1\t1\t");

        time.Advance(TimeSpan.FromMinutes(5));
        await using (var db = await WaldenDatabase.OpenAsync(Path, Drilled(time, interval: TimeSpan.FromHours(2))))
        {
            Assert.Equal(TimeSpan.FromHours(2), db.Archiver!.DrillDueIn);
        }

        File.Delete(Directory.EnumerateFiles(verifications).Single());
        File.WriteAllText(System.IO.Path.Combine(verifications, $"{T0.UtcTicks:D20}.txt"), $"{T0:O}\tok\t1\t1\t");
        await using (var db = await WaldenDatabase.OpenAsync(Path, Drilled(time, interval: TimeSpan.FromMinutes(30))))
        {
            Assert.Equal(TimeSpan.FromMinutes(25), db.Archiver!.DrillDueIn);
        }
    }

    // ---------------------------------------------------------------- BasesChecked

    /// <summary>
    /// Two destinations: the second's base is damaged right after its store. The open within the interval continues it
    /// (not read whole, BasesChecked). Failed when the drill restored only the first destination: it passed, health said
    /// Healthy, and the second destination's latest restore stopped at the damaged base for as long as the process ran,
    /// past any number of drill intervals. README: "the latest restore can stop at it for at most one drill interval".
    /// </summary>
    [Fact]
    public async Task TwoDestinations_TheSecondsBaseDamagedAfterItsStore_IsFoundWithinADrillInterval()
    {
        var time = new FakeTimeProvider(T0);
        Assert.Equal(-1, await RunAsync(0, 5, Drilled(time, second: true)));
        DamageBody(System.IO.Path.Combine(Second, Assert.Single(BasesIn(Second))));

        time.Advance(TimeSpan.FromMinutes(10));
        await using (var db = await WaldenDatabase.OpenAsync(Path, Drilled(time, second: true)))
        {
            db.Archiver!.DrillScratchFolder = Scratch;
            var continued = db.Archiver.ContinuedPages;
            await WriteAsync(db, 5, 2);
            for (var i = 0; i < 3; i++)
            {
                time.Advance(TimeSpan.FromHours(1));
                db.Archiver.RunDrill(); // what the loop does every interval (the first destination is whole)
                await WriteAsync(db, 10 + i, 1);
            }

            db.Archiver.FinishSideBaseForTests();
            Assert.Null(db.Archiver.ShipAll());
            var health = db.GetHealth(DrillOnly);
            var second = await LatestDiffersAsync(Second, "second.db");
            Assert.True(second is null || health.Status != WaldenHealthStatus.Healthy,
                $"three drill intervals after the damage (the open continued with {continued} pages), health {health.Status} " +
                $"({string.Join(" / ", health.Reasons)}) and the second destination's {second}");
        }
    }

    /// <summary>
    /// Passing: the clock put back after a base's store (the record's time is after now): the record is not trusted, the
    /// base is read whole, found damaged, and a base taken; and the clock moved far forward (record older than the interval).
    /// </summary>
    [Theory]
    [InlineData(-2)]
    [InlineData(24 * 365)]
    public async Task TheClockMovedAroundTheRecord_ADamagedBaseIsReadWhole(int hours)
    {
        var ahead = new FakeTimeProvider(T0 + TimeSpan.FromHours(3));
        Assert.Equal(-1, await RunAsync(0, 5, Drilled(ahead)));
        DamageBody(System.IO.Path.Combine(Archive, Assert.Single(BasesIn(Archive))));

        var time = new FakeTimeProvider(T0 + TimeSpan.FromHours(3) + TimeSpan.FromHours(hours));
        Assert.Equal(-1, await RunAsync(5, 2, Drilled(time)));
        Assert.Null(await LatestDiffersAsync(Archive, "latest.db"));
    }

    /// <summary>
    /// Passing: the record cannot be fooled by a base of another length (truncated, or another base copied over it), by a
    /// record of another destination (copied from another database's staging folder), or a record with a negative or
    /// missing length or time; with drills turned off between runs the base is read whole whatever the record says.
    /// </summary>
    [Theory]
    [InlineData("truncated")]
    [InlineData("other-destination")]
    [InlineData("negative-length")]
    [InlineData("missing-fields")]
    [InlineData("drills-off")]
    [InlineData("interval-shortened")]
    public async Task ARecordThatDoesNotMatchTheBase_TheBaseIsReadWhole(string how)
    {
        var time = new FakeTimeProvider(T0);
        Assert.Equal(-1, await RunAsync(0, 5, Drilled(time)));
        var baseFile = System.IO.Path.Combine(Archive, Assert.Single(BasesIn(Archive)));
        var baseId = long.Parse(System.IO.Path.GetFileName(System.IO.Path.GetDirectoryName(baseFile))!, System.Globalization.CultureInfo.InvariantCulture);
        var length = new FileInfo(baseFile).Length;
        var options = Drilled(time);
        switch (how)
        {
            case "truncated":
                using (var stream = new FileStream(baseFile, FileMode.Open, FileAccess.ReadWrite))
                {
                    stream.SetLength(stream.Length - 1);
                }

                break;
            case "other-destination":
                DamageBody(baseFile);
                File.WriteAllText(RecordFile, $"{{\"{_dir.File("elsewhere").Replace("\\", "\\\\", StringComparison.Ordinal)}\":{{\"BaseId\":{baseId},\"Length\":{length},\"At\":\"{T0:O}\"}}}}");
                break;
            case "negative-length":
                DamageBody(baseFile);
                File.WriteAllText(RecordFile, $"{{\"{Archive}\":{{\"BaseId\":{baseId},\"Length\":-1,\"At\":\"{T0:O}\"}}}}");
                break;
            case "missing-fields":
                DamageBody(baseFile);
                File.WriteAllText(RecordFile, $"{{\"{Archive}\":{{\"BaseId\":{baseId}}}}}");
                break;
            case "drills-off":
                DamageBody(baseFile);
                options.Archive.DrillInterval = null;
                break;
            case "interval-shortened":
                DamageBody(baseFile);
                time.Advance(TimeSpan.FromMinutes(20));
                options.Archive.DrillInterval = TimeSpan.FromMinutes(15);
                break;
        }

        time.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(-1, await RunAsync(5, 2, options));
        Assert.Null(await LatestDiffersAsync(Archive, "latest.db"));
    }

    /// <summary>
    /// Passing: a side base (the drill's heal, Async) is recorded when stored; a kill before the switch to it leaves a
    /// record of the side base, not of the damaged base the next open continues beside it: that open reads the damaged
    /// base whole and takes a base, so the latest restore stays complete.
    /// </summary>
    [Fact]
    public async Task ARecordOfASideBase_DoesNotVouchForTheBaseItHeals()
    {
        var time = new FakeTimeProvider(T0);
        var options = Drilled(time);
        options.Archive.MaxLag = TimeSpan.FromHours(1);
        await using (var db = await WaldenDatabase.OpenAsync(Path, options))
        {
            db.Archiver!.DrillScratchFolder = Scratch;
            await WriteAsync(db, 0, 3);
            DamageBody(System.IO.Path.Combine(Archive, Assert.Single(BasesIn(Archive))));
            Assert.False(db.Archiver.RunDrill().Complete);
            await db.WriteAsync(c => c.Exec("INSERT INTO t(a, body) VALUES (1000, 'after the drill')"));
            Assert.Null(db.Archiver.ShipAll());
            db.Archiver.FinishSideBaseForTests();
            Assert.Null(db.Archiver.ShipAll());
        }

        Assert.Equal(2, BasesIn(Archive).Count);
        time.Advance(TimeSpan.FromMinutes(5));
        await RunAsync(2000, 2, Drilled(time));
        Assert.Null(await LatestDiffersAsync(Archive, "latest.db"));
    }

    /// <summary>
    /// Passing: another archive's base with the same id (base ids are Unix seconds: two databases whose bases were taken
    /// in the same second) and the same length copied over this archive's base within the interval. The open reads only
    /// its header and continues; the latest restore then finds the first segment does not continue the base's chain and
    /// says it is not complete (never the other database said Complete); the drill finds it and heals it with a side base.
    /// </summary>
    [Fact]
    public async Task AnotherArchivesBaseOfTheSameIdAndLength_CopiedOverTheBase_IsNeverRestoredAsComplete()
    {
        var other = _dir.File("other.db");
        var otherArchive = _dir.File("other-archive");
        Directory.CreateDirectory(otherArchive);
        var lengths = new List<long>();
        foreach (var (path, archive, fill) in new[] { (Path, Archive, 'x'), (other, otherArchive, 'y') })
        {
            var time = new FakeTimeProvider(T0);
            WaldenOptions Of()
            {
                var options = ArchiveChecks.Options(WaldenArchiveMode.Async, new WaldenFolderDestination(archive), time);
                options.CheckpointIdleDelay = TimeSpan.FromHours(1);
                options.Archive.DrillInterval = TimeSpan.FromHours(1);
                return options;
            }

            await using (var db = await WaldenDatabase.OpenAsync(path, Of()))
            {
                await WriteAsync(db, 0, 20, fill);
            }

            ForgetPageMap(path);
            time.Advance(TimeSpan.FromMinutes(1));
            await using (var db = await WaldenDatabase.OpenAsync(path, Of()))
            {
                await WriteAsync(db, 20, 3, fill);
            }

            lengths.Add(new FileInfo(System.IO.Path.Combine(archive, BasesIn(archive)[^1])).Length);
        }

        Assert.Equal(BasesIn(Archive)[^1], BasesIn(otherArchive)[^1]);
        Assert.True(lengths[0] == lengths[1], $"the two bases are {lengths[0]} and {lengths[1]} bytes long");
        File.Copy(System.IO.Path.Combine(otherArchive, BasesIn(otherArchive)[^1]), System.IO.Path.Combine(Archive, BasesIn(Archive)[^1]), overwrite: true);

        var now = new FakeTimeProvider(T0 + TimeSpan.FromMinutes(5));
        await using (var db = await WaldenDatabase.OpenAsync(Path, Drilled(now)))
        {
            db.Archiver!.DrillScratchFolder = Scratch;
            Assert.True(db.Archiver.ContinuedPages >= 0, "the open read the base whole (it is whole: its own checksum holds)");
            await WriteAsync(db, 30, 2);
            var latest = await WaldenArchive.RestoreAsync(Archive, _dir.File("swapped.db"));
            Assert.False(latest.Complete, $"another database's base restored as Complete (txid {latest.Txid}, {Count(_dir.File("swapped.db"))} rows)");
            Assert.False(db.Archiver.RunDrill().Complete);
            await WriteAsync(db, 40, 1);
            db.Archiver.FinishSideBaseForTests();
            await WriteAsync(db, 41, 1);
            Assert.True(db.Archiver.RunDrill().Complete);
        }

        Assert.Null(await LatestDiffersAsync(Archive, "healed.db"));
    }
}
