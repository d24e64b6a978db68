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
    public async Task ReadAsync_ManyConcurrentReadsShareTheBoundedPool()
    {
        await using var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), new WaldenOptions { ReaderPoolSize = 2 });
        await db.WriteAsync(c => c.Exec(Sql.LogTable));
        var maxActive = 0;
        var reads = Enumerable.Range(0, 50).Select(_ => db.ReadAsync(c =>
        {
            var active = db.ActiveReaders;
            InterlockedMax(ref maxActive, active);
            return c.Scalar<long>("SELECT count(*) FROM log");
        }));
        await Task.WhenAll(reads);
        Assert.InRange(maxActive, 1, 2);
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int current;
        while (value > (current = Volatile.Read(ref target)) && Interlocked.CompareExchange(ref target, value, current) != current)
        {
        }
    }
}
