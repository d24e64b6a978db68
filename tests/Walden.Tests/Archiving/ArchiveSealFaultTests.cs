using System.Diagnostics;
using System.Diagnostics.Metrics;
using Walden.Archiving;
using Walden.Tests.TestSupport;
using Xunit.Abstractions;
using static Walden.Tests.Archiving.ArchiveChecks;

namespace Walden.Tests.Archiving;

/// <summary>
/// A seal of the Sync archive's append log that fails (a full or read-only destination, a record damaged in the log
/// file): health is Degraded naming the log and the reason, the failure is counted, it is retried with a back-off on the
/// options' clock, and health is Healthy again once a seal succeeds, with nothing acknowledged lost and no gap.
/// </summary>
public sealed class ArchiveSealFaultTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly ITestOutputHelper _output;

    public ArchiveSealFaultTests(ITestOutputHelper output) => _output = output;

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData(true)] // the destination's disk is full: the records still go into the log's allocated blocks
    [InlineData(false)] // the destination is read-only
    public async Task Sync_WhenTheLogsSealFails_HealthNamesTheLog_ItIsRetriedWithABackOff_AndRecoversWithNothingLost(bool full)
    {
        using var mount = SmallMount.TryCreate(16, out var reason);
        if (mount is null)
        {
            _output.WriteLine(reason);
            return;
        }

        var time = new FakeTimeProvider();
        var archive = mount.File("archive");
        Directory.CreateDirectory(archive);
        var destination = new WaldenFolderDestination(archive);
        var log = destination.AppendLog;
        var acknowledged = new List<int>();
        var path = _dir.File("app.db");
        using var failures = new SealFailureCounter(Path.GetFileName(path));
        await using (var db = await WaldenDatabase.OpenAsync(path, Options(WaldenArchiveMode.Sync, destination, time)))
        {
            await db.WriteAsync(c => c.Exec("CREATE TABLE t(a)"));
            for (var i = 1; i <= 5; i++)
            {
                await Insert(db, i);
                acknowledged.Add(i);
            }

            if (full)
            {
                mount.Fill(bytesLeft: 0);
            }
            else
            {
                mount.MakeReadOnly();
            }

            // The maintenance's seal (every 30 s) fails: the records stay in the log, and health says so.
            Assert.ThrowsAny<IOException>(() => log.SealAll(TimeSpan.Zero));
            var health = db.GetHealth();
            Assert.Equal(WaldenHealthStatus.Degraded, health.Status);
            var said = Assert.Single(health.Reasons, r => r.Contains("could not be sealed", StringComparison.Ordinal));
            Assert.Contains(Path.Combine(archive, "sync-0.wlog"), said, StringComparison.Ordinal);
            Assert.Contains(full ? "No space left" : "Read-only", said, StringComparison.OrdinalIgnoreCase);
            Assert.Contains("sync-0.wlog", (string)health.Data["archiveSealFailure"], StringComparison.Ordinal);
            Assert.True((long)health.Data["archiveUnsealedBytes"] > 0);
            Assert.Equal(1, failures.Count);
            Assert.Equal(1, log.SealProblem!.Attempts);
            Assert.Empty(Directory.EnumerateFiles(archive, "*.wseg", SearchOption.AllDirectories));

            if (full)
            {
                for (var i = 6; i <= 8; i++)
                {
                    await Insert(db, i); // still acknowledged: written into blocks the other log file already has
                    acknowledged.Add(i);
                }
            }

            // Retried on the options' clock: not before the back-off (1 s), then doubling (2 s) while it still fails.
            time.Advance(ArchiveAppendLog.FirstSealRetry / 2);
            db.Archiver!.RetrySeals();
            Assert.Equal(1, log.SealProblem!.Attempts);
            time.Advance(ArchiveAppendLog.FirstSealRetry / 2);
            db.Archiver!.RetrySeals();
            Assert.Equal(2, log.SealProblem!.Attempts);
            Assert.Equal(time.GetUtcNow() + (2 * ArchiveAppendLog.FirstSealRetry), log.SealProblem!.NextAttemptAt);
            Assert.Equal(2, failures.Count);
            Assert.Equal(WaldenHealthStatus.Degraded, db.GetHealth().Status);

            // The destination is back: the next try seals the records, and health is Healthy again.
            if (full)
            {
                File.Delete(mount.File("filler.bin"));
            }
            else
            {
                Remount(mount.Path, "rw");
            }

            time.Advance(2 * ArchiveAppendLog.FirstSealRetry);
            db.Archiver!.RetrySeals();
            Assert.Null(log.SealProblem);
            HealthForTests.AssertHealthy(db);
            Assert.NotEmpty(Directory.EnumerateFiles(archive, "*.wseg", SearchOption.AllDirectories));

            await Insert(db, 9);
            acknowledged.Add(9);
        }

        var restored = _dir.File("restored.db");
        AssertHoldsAcknowledged(await WaldenArchive.RestoreAsync(archive, restored), restored, acknowledged);
    }

    [Fact]
    public async Task Sync_WhenARecordInTheLogIsDamaged_TheSealFails_AndHealthNamesTheLogAndTheRecord()
    {
        var time = new FakeTimeProvider();
        var archive = _dir.File("archive");
        Directory.CreateDirectory(archive);
        var destination = new WaldenFolderDestination(archive);
        await using var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), Options(WaldenArchiveMode.Sync, destination, time));
        await db.WriteAsync(c => c.Exec("CREATE TABLE t(a)"));
        for (var i = 1; i <= 3; i++)
        {
            await Insert(db, i);
        }

        // A bit flipped on the disk in the first record's segment, after its append.
        var logPath = Path.Combine(archive, "sync-0.wlog");
        var at = ArchiveAppendLog.HeaderBytes + ArchiveAppendLog.RecordHeaderBytes + 200;
        using (var file = File.OpenHandle(logPath, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite))
        {
            var one = new byte[1];
            RandomAccess.Read(file, one, at);
            one[0] ^= 0x10;
            RandomAccess.Write(file, one, at);
        }

        Assert.Throws<InvalidDataException>(() => destination.AppendLog.SealAll(TimeSpan.Zero));
        var health = db.GetHealth();
        Assert.Equal(WaldenHealthStatus.Degraded, health.Status);
        var said = Assert.Single(health.Reasons, r => r.Contains("could not be sealed", StringComparison.Ordinal));
        Assert.Contains(logPath, said, StringComparison.Ordinal);
        Assert.Contains($"byte {ArchiveAppendLog.HeaderBytes} of the archive log sync-0.wlog", said, StringComparison.Ordinal);

        // Tried again after its back-off, and still failing: still Degraded (the damage does not go away by itself).
        time.Advance(ArchiveAppendLog.FirstSealRetry);
        db.Archiver!.RetrySeals();
        Assert.Equal(2, destination.AppendLog.SealProblem!.Attempts);
        Assert.Equal(WaldenHealthStatus.Degraded, db.GetHealth().Status);
    }

    private static void Remount(string path, string mode)
    {
        using var process = Process.Start(new ProcessStartInfo("mount", ["-o", $"remount,{mode}", path]) { RedirectStandardError = true })!;
        process.WaitForExit();
        Assert.Equal(0, process.ExitCode);
    }

    /// <summary>Counts <c>walden.archive.seal.failures</c> for one database.</summary>
    private sealed class SealFailureCounter : IDisposable
    {
        private readonly MeterListener _listener = new();
        private long _count;

        public SealFailureCounter(string database)
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Name == "walden.archive.seal.failures")
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
            {
                foreach (var tag in tags)
                {
                    if (tag.Key == "walden.database.name" && Equals(tag.Value, database))
                    {
                        Interlocked.Add(ref _count, value);
                    }
                }
            });
            _listener.Start();
        }

        public long Count => Interlocked.Read(ref _count);

        public void Dispose() => _listener.Dispose();
    }
}
