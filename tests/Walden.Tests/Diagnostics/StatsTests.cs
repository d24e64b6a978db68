using Walden.Checkpointing;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Diagnostics;

public sealed class StatsTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task GetStatsAsync_ReportsFilesPagesCountsLatenciesAndTheLastCheckpoint()
    {
        var path = _dir.File("app.db");
        // No idle TRUNCATE in the middle (it would empty the -wal whose size is checked below) on a slow machine.
        await using var db = await WaldenDatabase.OpenAsync(path, new WaldenOptions { CheckpointIdleDelay = TimeSpan.FromHours(1) });
        var empty = await db.GetStatsAsync();
        Assert.Null(empty.AckLatencyP50);
        Assert.Null(empty.LastCheckpoint);

        await db.WriteAsync(c => c.Exec(Sql.LogTable));
        await Task.WhenAll(Enumerable.Range(0, 100).Select(i => db.WriteAsync(c => Sql.Insert(c, i, 0))));
        await Assert.ThrowsAsync<InvalidOperationException>(() => db.WriteAsync(c => throw new InvalidOperationException("refused")));
        // A caller hears its outcome before the writer counts its batch (outcomes first, figures after): wait for the count.
        Assert.True(SpinWait.SpinUntil(() => db.GetStatsAsync().GetAwaiter().GetResult() is { WritesCommitted: 101, WritesFailed: 1 },
            TimeSpan.FromSeconds(30)), "the writer never counted the 101 committed writes and the failed one");
        var before = await db.GetStatsAsync();
        var checkpoint = await db.CheckpointAsync(WaldenCheckpointMode.Passive);
        var stats = await db.GetStatsAsync();

        Assert.Equal(path, stats.Path);
        Assert.Equal(new FileInfo(path).Length, stats.DatabaseFileBytes);
        Assert.Equal(new FileInfo(path + "-wal").Length, stats.WalFileBytes);
        Assert.Equal(new FileInfo(path + "-shm").Length, stats.ShmFileBytes);
        Assert.True(before.WalFileBytes > 0);
        Assert.Equal(4096, stats.PageSize);
        Assert.True(stats.PageCount >= 3);
        Assert.Equal(0, stats.FreelistCount);
        Assert.Equal(101, stats.WritesCommitted);
        Assert.Equal(1, stats.WritesFailed);
        Assert.InRange(stats.Commits, 2, 101);
        Assert.Equal(0, stats.WriteQueueDepth);
        Assert.Equal(10_000, stats.WriteQueueCapacity);
        Assert.True(stats.AckLatencyP50 > TimeSpan.Zero);
        Assert.True(stats.AckLatencyP99 >= stats.AckLatencyP50);
        Assert.Equal(checkpoint, stats.LastCheckpoint);
        Assert.True(stats.LastCheckpoint!.CheckpointedFrames > 0);
        Assert.False(stats.CheckpointStarved);
    }
}
