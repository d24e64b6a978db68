using Dapper;
using Microsoft.Extensions.Logging;
using Walden.Checkpointing;
using Walden.Diagnostics;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Writing;

/// <summary>Once COMMIT returned OK, nothing that runs after it (metric listeners, loggers) turns a success into a failure.</summary>
public sealed class AcknowledgementTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60); // a safety net only: every wait below completes at once

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task WriteAsync_WhenAMeterListenerThrowsOnEveryInstrument_EveryWriteSucceedsAndIsStoredExactlyOnce()
    {
        var name = "throwing-listener-" + Guid.NewGuid().ToString("N");
        var logs = new ListLoggerFactory();
        using var listener = new ThrowingMeterListener(name);
        var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), new WaldenOptions { Name = name, LoggerFactory = logs });
        await db.WriteAsync(c => c.Exec(Sql.LogTable)).WaitAsync(Bound);

        // Rounds of 50 concurrent writes: batches of one and of many, acknowledgement after acknowledgement.
        for (var round = 0; round < 4; round++)
        {
            var r = round;
            var writes = Enumerable.Range(0, 50).Select(i => db.WriteAsync(c => Sql.Insert(c, r, i))).ToList();
            Assert.All(await Task.WhenAll(writes).WaitAsync(Bound), inserted => Assert.Equal(1, inserted));
        }

        var failed = await Assert.ThrowsAsync<InvalidOperationException>(() => db.WriteAsync(c => throw new InvalidOperationException("own failure")).WaitAsync(Bound));
        Assert.Equal("own failure", failed.Message);
        await db.CheckpointAsync(WaldenCheckpointMode.Truncate).WaitAsync(Bound);

        var (rows, distinct) = await db.ReadAsync(c => (
            c.Scalar<long>("SELECT count(*) FROM log"),
            c.Scalar<long>("SELECT count(*) FROM (SELECT DISTINCT producer, seq FROM log)")));
        Assert.Equal(200, rows);
        Assert.Equal(200, distinct);
        Assert.Contains("walden.write.ack.latency", listener.Instruments);
        Assert.Contains("walden.write.batch.size", listener.Instruments);
        Assert.Contains("walden.checkpoint.duration", listener.Instruments);
        HealthForTests.AssertHealthy(db);
        Assert.Single(logs.Lines, l => l.EventId.Id == 1103); // logged once, not once per measurement
        await db.DisposeAsync().AsTask().WaitAsync(Bound);
    }

    [Fact]
    public async Task WriteAsync_WhenTheLoggerThrowsOnEveryLine_OutcomesAreReportedAsTheyHappened()
    {
        var gate = new WriterGate();
        long failingBatch = -1;
        var logs = new ThrowingLoggerFactory(LogLevel.Warning);
        var options = new WaldenOptions { LoggerFactory = logs, Faults = gate.Faults(failCommit: n => n == Volatile.Read(ref failingBatch)) };
        var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), options);
        await db.WriteAsync(c => c.Exec(Sql.LogTable)).WaitAsync(Bound);

        var held = gate.HoldNextBatch();
        var blocker = db.WriteAsync(c => Sql.Insert(c, 0, 0));
        await held.WaitAsync(Bound);
        Volatile.Write(ref failingBatch, 3); // the batch after the blocker: its COMMIT fails, and the writer logs that
        var doomed = Enumerable.Range(1, 5).Select(i => db.WriteAsync(c => Sql.Insert(c, i, 0))).ToList();
        gate.Release();
        await blocker.WaitAsync(Bound);
        foreach (var write in doomed)
        {
            var error = await Assert.ThrowsAnyAsync<WaldenException>(() => write.WaitAsync(Bound));
            Assert.Contains("not acknowledged", error.Message, StringComparison.Ordinal);
        }

        Assert.Equal(1, await db.WriteAsync(c => Sql.Insert(c, 9, 0)).WaitAsync(Bound)); // the writer goes on
        Assert.True(logs.Thrown > 0);
        Assert.Equal([0, 9], await db.ReadAsync(c => c.Query<long>("SELECT producer FROM log ORDER BY producer").ToList()));
        await db.DisposeAsync().AsTask().WaitAsync(Bound);
    }
}
