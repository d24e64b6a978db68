using Walden.Tests.TestSupport;

namespace Walden.Tests.Checkpointing;

public sealed class CheckpointOptionsTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task OpenAsync_WithCheckpointOptionsOutOfRange_ListsEachProblem()
    {
        var error = await Assert.ThrowsAsync<WaldenConfigurationException>(() => WaldenDatabase.OpenAsync(_dir.File("app.db"), new WaldenOptions
        {
            WalSizeLimit = 1000,
            CheckpointIdleDelay = TimeSpan.Zero,
            CheckpointStarvationThreshold = TimeSpan.FromDays(2),
            MaxReadLeaseDuration = TimeSpan.Zero,
            MaintenanceInterval = TimeSpan.FromMilliseconds(10),
            IncrementalVacuumPages = -1,
        }));

        Assert.Equal(6, error.Problems.Count);
        Assert.Contains(error.Problems, p => p.StartsWith("WalSizeLimit must be between 1,048,576 and", StringComparison.Ordinal) && p.Contains("(currently 1,000)", StringComparison.Ordinal));
        Assert.Contains(error.Problems, p => p.StartsWith("CheckpointIdleDelay", StringComparison.Ordinal));
        Assert.Contains(error.Problems, p => p.StartsWith("CheckpointStarvationThreshold", StringComparison.Ordinal));
        Assert.Contains(error.Problems, p => p.StartsWith("MaxReadLeaseDuration", StringComparison.Ordinal) && p.Contains("or null for no limit", StringComparison.Ordinal));
        Assert.Contains(error.Problems, p => p.StartsWith("MaintenanceInterval", StringComparison.Ordinal) && p.Contains("zero to turn maintenance off", StringComparison.Ordinal));
        Assert.Contains(error.Problems, p => p.StartsWith("IncrementalVacuumPages", StringComparison.Ordinal));
    }
}
