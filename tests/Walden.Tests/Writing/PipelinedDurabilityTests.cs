using Microsoft.Data.Sqlite;
using Walden.Tests.TestSupport;
using Walden.Writing;

namespace Walden.Tests.Writing;

/// <summary>
/// <see cref="WaldenDurability.FullPipelined"/>: a write is acknowledged only after an fsync of the WAL that covers it,
/// and a failed fsync fails what it covered and everything after it. The fsync is held and failed through the
/// writer's fault seam, which stands in for the real <c>xSync</c> of SQLite's WAL file.
/// </summary>
public sealed class PipelinedDurabilityTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60); // a safety net only: every wait below completes at once

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task WriteAsync_InFullPipelined_IsAcknowledgedOnlyAfterTheFsyncThatCoversIt_ThoughReadersSeeTheRowBefore()
    {
        using var release = new ManualResetEventSlim(initialState: true);
        var syncing = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var options = new WaldenOptions
        {
            Durability = WaldenDurability.FullPipelined,
            Faults = new WriterFaults
            {
                WalSyncResult = () =>
                {
                    syncing.TrySetResult();
                    release.Wait();
                    return 0;
                },
            },
        };
        await using var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), options);
        await db.WriteAsync(c => c.Exec(Sql.LogTable)).WaitAsync(Bound);

        release.Reset();
        syncing = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var write = db.WriteAsync(c => Sql.Insert(c, 1, 1));
        await syncing.Task.WaitAsync(Bound); // committed, and its fsync has started

        // The weaker point, as documented: a reader already sees the committed row...
        Assert.Equal(1L, await db.ReadAsync(c => Count(c)).WaitAsync(Bound));
        // ...but the write is not acknowledged while its fsync runs.
        Assert.False(write.IsCompleted, "The write was acknowledged before the fsync that covers it returned.");

        release.Set();
        Assert.Equal(1, await write.WaitAsync(Bound));
    }

    [Fact]
    public async Task WriteAsync_InFullPipelined_WhenAnFsyncFails_TheWritesItCoveredAndEveryLaterWriteFailAndHealthIsUnhealthy()
    {
        var fail = 0;
        var options = new WaldenOptions
        {
            Durability = WaldenDurability.FullPipelined,
            Faults = new WriterFaults { WalSyncResult = () => Volatile.Read(ref fail) == 1 ? 10 : 0 }, // SQLITE_IOERR
        };
        var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), options);
        await db.WriteAsync(c => c.Exec(Sql.LogTable)).WaitAsync(Bound);
        await db.WriteAsync(c => Sql.Insert(c, 1, 1)).WaitAsync(Bound);

        Volatile.Write(ref fail, 1);
        var covered = await Assert.ThrowsAsync<WaldenException>(() => db.WriteAsync(c => Sql.Insert(c, 1, 2)).WaitAsync(Bound));
        Assert.Contains("fsync of the WAL", covered.Message, StringComparison.Ordinal);
        Assert.Contains("not acknowledged", covered.Message, StringComparison.Ordinal);

        Volatile.Write(ref fail, 0); // a later fsync that succeeds must not make anything after the failure durable
        var later = await Assert.ThrowsAsync<WaldenException>(() => db.WriteAsync(c => Sql.Insert(c, 1, 3)).WaitAsync(Bound));
        Assert.Contains("fsync of the WAL", later.ToString(), StringComparison.Ordinal);
        Assert.Equal(WaldenHealthStatus.Unhealthy, db.GetHealth().Status);
        await db.DisposeAsync().AsTask().WaitAsync(Bound);
    }

    [Fact]
    public async Task WriteAsync_InFullPipelined_ManyProducers_EveryAcknowledgedWriteIsStoredExactlyOnce()
    {
        var options = new WaldenOptions { Durability = WaldenDurability.FullPipelined };
        var path = _dir.File("app.db");
        await using (var db = await WaldenDatabase.OpenAsync(path, options))
        {
            await db.WriteAsync(c => c.Exec(Sql.LogTable)).WaitAsync(Bound);
            await Task.WhenAll(Enumerable.Range(0, 16).Select(p => Task.Run(async () =>
            {
                for (var seq = 0; seq < 50; seq++)
                {
                    await db.WriteAsync(c => Sql.Insert(c, p, seq));
                }
            }))).WaitAsync(Bound);
            Assert.Equal(1L, await db.WriteAsync(c => c.Scalar<long>("PRAGMA synchronous"))); // NORMAL: the fsync runs beside the writer
        }

        await using var reopened = await WaldenDatabase.OpenAsync(path);
        Assert.Equal(16L * 50, await reopened.ReadAsync(c => Count(c)));
    }

    private static long Count(SqliteConnection connection)
    {
        using var command = new SqliteCommand("SELECT count(*) FROM log", connection);
        return (long)command.ExecuteScalar()!;
    }
}
