using Walden.Checkpointing;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Diagnostics;

public sealed class MetricsTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>Every instrument the README documents, with its unit.</summary>
    public static readonly Dictionary<string, string> Documented = new()
    {
        ["walden.write.queue.depth"] = "{write}",
        ["walden.write.batch.size"] = "{write}",
        ["walden.write.commit.duration"] = "s",
        ["walden.write.ack.latency"] = "s",
        ["walden.writes"] = "{write}",
        ["walden.busy.retries"] = "{retry}",
        ["walden.checkpoint.duration"] = "s",
        ["walden.checkpoint.frames"] = "{frame}",
        ["walden.checkpoint.starvations"] = "{event}",
        ["walden.wal.size"] = "By",
        ["walden.database.size"] = "By",
        ["walden.readers.active"] = "{read}",
        ["walden.integrity.status"] = "1",
    };

    [Fact]
    public async Task MeterListener_ObservesEveryDocumentedInstrument_WithSensibleValues()
    {
        var name = "metrics-" + Guid.NewGuid().ToString("N");
        using var metrics = new MetricsCollector(name);
        await using var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), new WaldenOptions { Name = name });
        await db.WriteAsync(c => c.Exec(Sql.LogTable));
        await Task.WhenAll(Enumerable.Range(0, 200).Select(i => db.WriteAsync(c => Sql.Insert(c, i, 0))));
        await Assert.ThrowsAsync<InvalidOperationException>(() => db.WriteAsync(c => throw new InvalidOperationException("refused")));
        await db.CheckpointAsync(WaldenCheckpointMode.Truncate);
        await db.ReadAsync(c =>
        {
            metrics.Collect(); // while this read runs
            return 0;
        });

        foreach (var (instrument, unit) in Documented)
        {
            Assert.True(metrics.Published.TryGetValue(instrument, out var published), $"{instrument} was not published.");
            Assert.Equal(unit, published.Unit);
            Assert.False(string.IsNullOrWhiteSpace(published.Description));
        }

        Assert.Equal(201, metrics.Values("walden.writes", "walden.write.outcome", "committed").Sum());
        Assert.Equal(1, metrics.Values("walden.writes", "walden.write.outcome", "failed").Sum());
        var batches = metrics.Values("walden.write.batch.size");
        Assert.Equal(202, batches.Sum());
        Assert.All(batches, b => Assert.InRange(b, 1, 1000));
        Assert.All(metrics.Values("walden.write.commit.duration"), d => Assert.InRange(d, 1e-7, 10));
        var acks = metrics.Values("walden.write.ack.latency");
        Assert.Equal(201, acks.Length);
        Assert.All(acks, d => Assert.InRange(d, 1e-7, 30));
        Assert.Contains(metrics.Values("walden.checkpoint.duration", "walden.checkpoint.mode", "truncate"), d => d is >= 0 and < 10);
        Assert.True(metrics.Values("walden.checkpoint.frames").Sum() > 0);
        Assert.Equal([0.0], metrics.Values("walden.write.queue.depth"));
        Assert.Single(metrics.Values("walden.busy.retries"), r => r >= 0);
        Assert.Equal([0.0], metrics.Values("walden.wal.size")); // just truncated, nothing written since
        Assert.Single(metrics.Values("walden.database.size"), s => s >= 4096 * 3);
        Assert.Equal([1.0], metrics.Values("walden.readers.active"));
        Assert.Equal([1.0], metrics.Values("walden.integrity.status"));
    }

    [Fact]
    public async Task ADisposedDatabase_IsNoLongerObserved()
    {
        var name = "metrics-" + Guid.NewGuid().ToString("N");
        using var metrics = new MetricsCollector(name);
        var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), new WaldenOptions { Name = name });
        await db.DisposeAsync();
        metrics.Collect();
        Assert.Empty(metrics.Values("walden.wal.size"));
    }
}
