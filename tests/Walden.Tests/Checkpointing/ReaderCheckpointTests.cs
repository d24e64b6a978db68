using Walden.Checkpointing;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Checkpointing;

/// <summary>
/// While reads run, PASSIVE checkpoints come every <see cref="CheckpointScheduler.ReaderPassiveBytes"/> of WAL
/// instead of every eighth of the limit, so readers find recent pages in the mapped database file.
/// </summary>
public sealed class ReaderCheckpointTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task PassiveCheckpoint_ComesAfterTheShortIntervalOnlyOnceReadsRun()
    {
        var name = "reader-checkpoints-" + Guid.NewGuid().ToString("N");
        using var metrics = new MetricsCollector(name);
        await using var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), new WaldenOptions
        {
            Name = name,
            WalSizeLimit = 64L * 1024 * 1024, // an eighth: 8 MiB of WAL between PASSIVE checkpoints without readers
            CheckpointIdleDelay = TimeSpan.FromHours(1),
            MaintenanceInterval = TimeSpan.Zero,
            TimeProvider = new FakeTimeProvider(),
        });
        await db.WriteAsync(c => c.Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, body BLOB NOT NULL)"));

        // About 2 MiB of WAL: over the 1 MiB reader interval, far under the 8 MiB one.
        await db.WriteAsync(c => c.Exec("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 500) INSERT INTO t(body) SELECT randomblob(3500) FROM s"));
        await db.Checkpointer.EvaluateAsync();

        // No read yet (GetStatsAsync would be one): the WAL may grow to an eighth of the limit.
        Assert.Empty(metrics.Values("walden.checkpoint.duration"));
        Assert.True(new FileInfo(db.Path + "-wal").Length > CheckpointScheduler.ReaderPassiveBytes, "the WAL should hold over 1 MiB");

        Assert.Equal(500, await db.ReadAsync(c => c.Scalar<long>("SELECT count(*) FROM t")));
        await db.Checkpointer.EvaluateAsync();

        Assert.Single(metrics.Values("walden.checkpoint.duration"));
        Assert.Equal(WaldenCheckpointMode.Passive, (await db.GetStatsAsync()).LastCheckpoint?.Mode);
    }
}
