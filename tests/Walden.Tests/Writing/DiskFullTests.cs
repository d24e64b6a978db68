using Microsoft.Extensions.Logging;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Writing;

/// <summary>A disk that really fills up (a 20 MB tmpfs) and then gets space back.</summary>
public sealed class DiskFullTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [SmallVolumeFact]
    public async Task Writes_OnAFullDisk_FailTyped_SayHowMuchIsNeeded_AndResumeOnceThatMuchIsFree()
    {
        using var volume = new SmallVolume(_dir.File("vol"), 20);
        var filler = Path.Combine(volume.Path, "filler.bin");
        await File.WriteAllBytesAsync(filler, new byte[8 * 1024 * 1024]);
        var logs = new ListLoggerFactory();
        await using var db = await WaldenDatabase.OpenAsync(Path.Combine(volume.Path, "app.db"), new WaldenOptions { LoggerFactory = logs });
        await db.WriteAsync(c => c.Exec("CREATE TABLE blobs(id INTEGER PRIMARY KEY, body BLOB)"));

        WaldenDiskFullException? full = null;
        for (var i = 0; i < 400 && full is null; i++)
        {
            try
            {
                await db.WriteAsync(c => c.Exec("INSERT INTO blobs(body) VALUES (randomblob(65536))"));
            }
            catch (WaldenDiskFullException ex)
            {
                full = ex;
            }
        }

        Assert.NotNull(full);
        Assert.Matches(@"resume once about [\d,]+ bytes are free", full.Message);
        Assert.Equal(WaldenHealthStatus.Unhealthy, db.GetHealth().Status);

        // The same failure again and again is logged once, not once per batch.
        for (var i = 0; i < 20; i++)
        {
            await Assert.ThrowsAsync<WaldenDiskFullException>(() => db.WriteAsync(c => c.Exec("INSERT INTO blobs(body) VALUES (randomblob(65536))")));
        }

        Assert.True(logs.Lines.Count(l => l.Level >= LogLevel.Error) <= 2,
            string.Join(Environment.NewLine, logs.Lines.Where(l => l.Level >= LogLevel.Error).Select(l => l.Message)));

        var needed = long.Parse(System.Text.RegularExpressions.Regex.Match(full.Message, @"about ([\d,]+) bytes").Groups[1].Value.Replace(",", "", StringComparison.Ordinal),
            System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(needed < 8 * 1024 * 1024, $"The message asks for {needed:N0} bytes; the test frees 8 MiB.");
        File.Delete(filler);

        // Space is back: the very next write goes through, nothing to restart.
        await db.WriteAsync(c => c.Exec("INSERT INTO blobs(body) VALUES (randomblob(65536))"));
        // Disk full is cleared; what may remain is Degraded only: checkpoints that failed while the disk was full, until the
        // next one succeeds.
        var health = db.GetHealth();
        Assert.NotEqual(WaldenHealthStatus.Unhealthy, health.Status);
        Assert.DoesNotContain(health.Reasons, r => r.Contains("disk full", StringComparison.Ordinal));
    }
}
