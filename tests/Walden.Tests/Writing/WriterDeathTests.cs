using Microsoft.Extensions.Logging;
using Walden.Diagnostics;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Writing;

/// <summary>If the writer loop ever dies, nobody waits forever: queued and later writes fail fast, and the database says Unhealthy.</summary>
public sealed class WriterDeathTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60); // a safety net only: every wait below completes at once

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // and the logger throws too, as the writer reports its death
    public async Task WriteAsync_WhenTheWriterLoopDies_QueuedAndLaterWritesFailNamingTheCauseAndHealthIsUnhealthy(bool throwingLogger)
    {
        var gate = new WriterGate();
        var die = 0;
        var options = new WaldenOptions
        {
            MaxBatchSize = 4,
            LoggerFactory = throwingLogger ? new ThrowingLoggerFactory(LogLevel.Warning) : new ListLoggerFactory(),
            Faults = gate.Faults(beforeBatch: size =>
            {
                if (Volatile.Read(ref die) == 1 && size > 1) // not the held batch of one: the batch of the writes queued behind it
                {
                    throw new InvalidOperationException("injected writer fault");
                }
            }),
        };
        var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), options);
        await db.WriteAsync(c => c.Exec(Sql.LogTable)).WaitAsync(Bound);

        var held = gate.HoldNextBatch();
        var blocker = db.WriteAsync(c => Sql.Insert(c, 0, 0));
        await held.WaitAsync(Bound);
        var queued = Enumerable.Range(1, 10).Select(i => db.WriteAsync(c => Sql.Insert(c, i, 0))).ToList(); // one batch of 4, 6 left queued
        Volatile.Write(ref die, 1);
        gate.Release();
        await blocker.WaitAsync(Bound);

        foreach (var write in queued)
        {
            var error = await Assert.ThrowsAsync<WaldenException>(() => write.WaitAsync(Bound));
            Assert.Contains("injected writer fault", error.Message, StringComparison.Ordinal);
            Assert.IsType<InvalidOperationException>(error.InnerException);
        }

        // Every later write fails at once, with the same cause, instead of waiting for a writer that is gone.
        var later = db.WriteAsync(c => Sql.Insert(c, 99, 0));
        Assert.True(later.IsCompleted);
        var laterError = await Assert.ThrowsAsync<WaldenException>(() => later);
        Assert.Contains("injected writer fault", laterError.Message, StringComparison.Ordinal);
        Assert.Contains("open it again", laterError.Message, StringComparison.Ordinal);

        var health = db.GetHealth();
        Assert.Equal(WaldenHealthStatus.Unhealthy, health.Status);
        Assert.Contains(health.Reasons, r => r.Contains("injected writer fault", StringComparison.Ordinal));
        Assert.Equal(1, await db.ReadAsync(c => c.Scalar<long>("SELECT count(*) FROM log")).WaitAsync(Bound)); // only the blocker

        await db.DisposeAsync().AsTask().WaitAsync(Bound);
        await Assert.ThrowsAsync<WaldenClosedException>(() => db.WriteAsync(c => Sql.Insert(c, 100, 0)).WaitAsync(Bound));
    }

    [Fact]
    public async Task WriteAsync_WhenTheWriterDiesWhileTheQueueIsFull_TheWaitingWriteFailsToo()
    {
        var gate = new WriterGate();
        var die = 0;
        var options = new WaldenOptions
        {
            WriteQueueCapacity = 2,
            Faults = gate.Faults(beforeBatch: size =>
            {
                if (Volatile.Read(ref die) == 1 && size > 1) // not the held batch of one: the batch of the writes queued behind it
                {
                    throw new InvalidOperationException("injected writer fault");
                }
            }),
        };
        var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), options);
        await db.WriteAsync(c => c.Exec(Sql.LogTable)).WaitAsync(Bound);
        var held = gate.HoldNextBatch();
        var blocker = db.WriteAsync(c => Sql.Insert(c, 0, 0));
        await held.WaitAsync(Bound);
        var queued = new[] { db.WriteAsync(c => Sql.Insert(c, 1, 0)), db.WriteAsync(c => Sql.Insert(c, 2, 0)) };
        var waiting = db.WriteAsync(c => Sql.Insert(c, 3, 0)); // the queue is full: this one waits for room
        Assert.False(waiting.IsCompleted);

        Volatile.Write(ref die, 1);
        gate.Release();
        await blocker.WaitAsync(Bound);
        foreach (var write in queued.Append(waiting))
        {
            var error = await Assert.ThrowsAsync<WaldenException>(() => write.WaitAsync(Bound));
            Assert.Contains("injected writer fault", error.Message, StringComparison.Ordinal);
        }

        await db.DisposeAsync().AsTask().WaitAsync(Bound);
    }
}
