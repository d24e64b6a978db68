using Microsoft.Data.Sqlite;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Reading;

public sealed class ReaderPoolTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task ReadAsync_SeesOneSnapshotWhileTheWriterCommitsUnblocked()
    {
        await using var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"));
        await db.WriteAsync(c => c.Exec(Sql.LogTable));
        await db.WriteAsync(c => Sql.Insert(c, 1, 1));

        var firstCountTaken = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var writerDone = new ManualResetEventSlim();
        var read = db.ReadAsync(c =>
        {
            var before = c.Scalar<long>("SELECT count(*) FROM log");
            firstCountTaken.SetResult();
            writerDone.Wait(); // hold the snapshot open while the writer commits
            return (before, after: c.Scalar<long>("SELECT count(*) FROM log"));
        });

        await firstCountTaken.Task;
        await db.WriteAsync(c => Sql.Insert(c, 2, 2)); // completes while the reader still holds its snapshot
        writerDone.Set();
        var (before, after) = await read;

        Assert.Equal(1, before);
        Assert.Equal(1, after);
        Assert.Equal(2, await db.ReadAsync(c => c.Scalar<long>("SELECT count(*) FROM log")));
    }

    [Fact]
    public async Task ReadAsync_RunsOnAQueryOnlyConnection()
    {
        await using var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"));
        await db.WriteAsync(c => c.Exec(Sql.LogTable));

        var error = await Assert.ThrowsAsync<SqliteException>(() => db.ReadAsync(c => Sql.Insert(c, 1, 1)));
        Assert.Equal(8, error.SqliteErrorCode); // SQLITE_READONLY
        Assert.Equal(0, await db.ReadAsync(c => c.Scalar<long>("SELECT count(*) FROM log")));
    }

    [Fact]
    public async Task ReadAsync_RunsExactlyReaderPoolSizeReadsAtOnce_AndQueuesTheRest()
    {
        const int PoolSize = 3;
        const int Reads = 10;
        await using var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), new WaldenOptions { ReaderPoolSize = PoolSize });
        await db.WriteAsync(c => c.Exec(Sql.LogTable));
        using var gate = new ManualResetEventSlim();
        var inside = 0;
        var maxInside = 0;
        var reads = Enumerable.Range(0, Reads).Select(_ => db.ReadAsync(c =>
        {
            InterlockedMax(ref maxInside, Interlocked.Increment(ref inside));
            gate.Wait(); // hold every read that got in until the test has counted
            Interlocked.Decrement(ref inside);
            return c.Scalar<long>("SELECT count(*) FROM log");
        })).ToArray();

        // Wait for a state, not for time: either the pool filled and the rest are queued, or too many got in.
        var settled = SpinWait.SpinUntil(
            () => Volatile.Read(ref inside) > PoolSize || (Volatile.Read(ref inside) == PoolSize && db.ReadsWaiting == Reads - PoolSize),
            TimeSpan.FromSeconds(30));

        Assert.True(settled, $"{Volatile.Read(ref inside)} reads running, {db.ReadsWaiting} waiting.");
        Assert.Equal(PoolSize, Volatile.Read(ref inside));
        gate.Set();
        await Task.WhenAll(reads);
        Assert.Equal(PoolSize, maxInside);
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int current;
        while (value > (current = Volatile.Read(ref target)) && Interlocked.CompareExchange(ref target, value, current) != current)
        {
        }
    }
}
