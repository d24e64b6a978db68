using System.Text.Json;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Torture;

/// <summary>
/// <c>walden torture --power-loss</c>, small: real worker processes on the fault VFS, cut all at once, the files left as
/// the page-cache model says a power cut leaves them, then the checker.
/// </summary>
public sealed class PowerLossTortureTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task TorturePowerLoss_Full_LosesNoAcknowledgedWriteAndKeepsIntegrity()
    {
        var (exitCode, stdout, stderr) = await WaldenCli.RunAsync(
            "torture", "--power-loss", "--dir", _dir.Path, "--processes", "2", "--cycles", "3", "--seconds-per-cycle", "0.5", "--seed", "5", "--json");

        Assert.True(exitCode == 0, $"torture --power-loss failed ({exitCode}): {stderr}{stdout}");
        using var json = JsonDocument.Parse(stdout);
        var report = json.RootElement;
        Assert.Equal(3, report.GetProperty("cycles").GetInt32());
        Assert.True(report.GetProperty("writesAcknowledged").GetInt64() > 0, "the workers wrote and acknowledged records");
        Assert.Equal(0, report.GetProperty("writesLost").GetInt64());
        Assert.Equal(0, report.GetProperty("integrityFailures").GetInt32());
        Assert.Equal(0, report.GetProperty("damagedRecords").GetInt64());
        Assert.Equal(0, report.GetProperty("powerLoss").GetProperty("lostToCuts").GetInt64());
        Assert.All(report.GetProperty("cycleResults").EnumerateArray(), c => Assert.Equal(JsonValueKind.Object, c.GetProperty("powerCut").ValueKind));
        Assert.DoesNotContain(Directory.EnumerateFiles(_dir.Path), f => f.EndsWith(".fault-undo", StringComparison.Ordinal));
    }

    [Fact]
    public async Task TorturePowerLoss_SyncOffHazard_IsCaughtAsAcknowledgedWritesLost()
    {
        var (exitCode, stdout, stderr) = await WaldenCli.RunAsync(
            "torture", "--power-loss", "--hazard", "sync-off", "--dir", _dir.Path, "--processes", "1", "--cycles", "5",
            "--seconds-per-cycle", "0.5", "--seed", "3", "--json");

        Assert.True(exitCode == 0, $"a detected hazard exits 0 ({exitCode}): {stderr}{stdout}");
        using var json = JsonDocument.Parse(stdout);
        Assert.True(json.RootElement.GetProperty("hazardDetected").GetBoolean(), stdout);
    }
}
