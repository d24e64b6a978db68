using Microsoft.Data.Sqlite;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Writing;

/// <summary>Misuse of the write API is refused at once, with a message that says what to do instead; none of it hangs or writes outside Walden's transaction.</summary>
public sealed class WriteMisuseTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60); // a safety net only: every wait below completes at once

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private async Task<WaldenDatabase> OpenAsync(ListLoggerFactory? logs = null)
    {
        var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), new WaldenOptions { LoggerFactory = logs ?? new ListLoggerFactory() });
        await db.WriteAsync(c => c.Exec(Sql.LogTable)).WaitAsync(Bound);
        return db;
    }

    /// <summary>What <paramref name="call"/> threw before returning its task (null when it returned one).</summary>
    private static Exception? ThrownAtOnce(Func<object> call)
    {
        try
        {
            call();
            return null;
        }
        catch (Exception ex)
        {
            return ex;
        }
    }

    [Fact]
    public async Task WriteAsync_WithAnAsyncDelegate_IsRefusedAtOnceAndNeverRuns()
    {
        await using var db = await OpenAsync();
        var ran = 0;

        // Async lambdas bind to WriteAsync<T> with T a task: refused before anything runs, with what to do instead.
        var error = Assert.IsType<ArgumentException>(ThrownAtOnce(() => db.WriteAsync(async c =>
        {
            Interlocked.Increment(ref ran);
            await Task.Yield();
            Sql.Insert(c, 1, 0);
        })));
        Assert.Contains("must be synchronous", error.Message, StringComparison.Ordinal);
        Assert.Contains("Await what you need before WriteAsync", error.Message, StringComparison.Ordinal);
        Assert.IsType<ArgumentException>(ThrownAtOnce(() => db.WriteAsync(async c =>
        {
            Interlocked.Increment(ref ran);
            await Task.Yield();
            return Sql.Insert(c, 1, 0);
        })));
        Assert.IsType<ArgumentException>(ThrownAtOnce(() => db.ReadAsync(async c =>
        {
            Interlocked.Increment(ref ran);
            await Task.Yield();
            return c.Scalar<long>("SELECT 1");
        })));

        Assert.Equal(0, ran);
        Assert.Equal(0, await db.ReadAsync(c => c.Scalar<long>("SELECT count(*) FROM log")).WaitAsync(Bound));
        Assert.Equal(1, await db.WriteAsync(c => Sql.Insert(c, 2, 0)).WaitAsync(Bound)); // the writer goes on
    }

    [Fact]
    public async Task WriteAsync_WithADelegateReturningAValueTaskOrAnotherAwaitable_IsRefusedAtOnceAndNeverRuns()
    {
        await using var db = await OpenAsync();
        var ran = 0;

        Assert.IsType<ArgumentException>(ThrownAtOnce(() => db.WriteAsync(async ValueTask (SqliteConnection c) =>
        {
            Interlocked.Increment(ref ran);
            await Task.Yield();
            Sql.Insert(c, 1, 0);
        })));
        Assert.IsType<ArgumentException>(ThrownAtOnce(() => db.ReadAsync(async ValueTask<long> (SqliteConnection c) =>
        {
            Interlocked.Increment(ref ran);
            await Task.Yield();
            return c.Scalar<long>("SELECT 1");
        })));
        Assert.IsType<ArgumentException>(ThrownAtOnce(() => db.WriteAsync(c => Task.Yield())));
        Assert.IsType<ArgumentException>(ThrownAtOnce(() => db.WriteAsync(c => Task.FromResult(Interlocked.Increment(ref ran)).ConfigureAwait(false))));

        Assert.Equal(0, ran);
        Assert.Equal(1, await db.WriteAsync(c => Sql.Insert(c, 2, 0)).WaitAsync(Bound)); // the writer goes on
    }

    [Fact]
    public async Task WriteAsync_WithAnAsyncVoidDelegate_FailsAndWhatItDidBeforeItsFirstAwaitIsRolledBack()
    {
        await using var db = await OpenAsync();
        var resumed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var proceed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Action<SqliteConnection> write = async c =>
        {
            Sql.Insert(c, 1, 0);
            await proceed.Task;
            resumed.TrySetResult(); // the rest of an async void delegate: it must not touch the connection, and this one does not
        };

        var error = await Assert.ThrowsAsync<WaldenException>(() => db.WriteAsync(write).WaitAsync(Bound));
        Assert.Contains("async void", error.Message, StringComparison.Ordinal);
        proceed.SetResult();
        await resumed.Task.WaitAsync(Bound);
        Assert.Equal(0, await db.ReadAsync(c => c.Scalar<long>("SELECT count(*) FROM log")).WaitAsync(Bound));
        Assert.Equal(1, await db.WriteAsync(c => Sql.Insert(c, 2, 0)).WaitAsync(Bound)); // the writer goes on
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)] // from work the delegate started and waits for
    public async Task WriteAsync_CalledAndWaitedOnInsideAWriteDelegate_IsRefusedAtOnceInsteadOfWaitingForever(bool fromStartedWork)
    {
        await using var db = await OpenAsync();
        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => db.WriteAsync(c =>
        {
            Sql.Insert(c, 1, 0);
            var inner = fromStartedWork ? Task.Run(() => db.WriteAsync(c2 => Sql.Insert(c2, 2, 0))) : db.WriteAsync(c2 => Sql.Insert(c2, 2, 0));
            return inner.GetAwaiter().GetResult();
        }).WaitAsync(Bound));

        Assert.Contains("inside a write delegate", error.Message, StringComparison.Ordinal);
        Assert.Contains("Do the work in the delegate itself", error.Message, StringComparison.Ordinal);
        Assert.Equal(0, await db.ReadAsync(c => c.Scalar<long>("SELECT count(*) FROM log")).WaitAsync(Bound));
        Assert.Equal(1, await db.WriteAsync(c => Sql.Insert(c, 3, 0)).WaitAsync(Bound));
    }

    [Fact]
    public async Task AConnectionKeptAfterItsWriteDelegate_CannotCommitOutsideWaldensTransactionAndIsReported()
    {
        var logs = new ListLoggerFactory();
        await using var db = await OpenAsync(logs);
        var kept = await db.WriteAsync(c => c).WaitAsync(Bound);

        var refused = Assert.Throws<SqliteException>(() => kept.Exec("INSERT INTO log(producer, seq) VALUES (1, 0)"));
        Assert.Equal(531, refused.SqliteExtendedErrorCode); // SQLITE_CONSTRAINT_COMMITHOOK: SQLite rolled it back
        Assert.Contains(logs.Lines, l => l.EventId.Id == 1104 && l.Message.Contains("must not keep the connection", StringComparison.Ordinal));

        Assert.Equal(0, await db.ReadAsync(c => c.Scalar<long>("SELECT count(*) FROM log")).WaitAsync(Bound));
        Assert.Equal(1, await db.WriteAsync(c => Sql.Insert(c, 2, 0)).WaitAsync(Bound)); // Walden's own writes go on
        Assert.Equal(1, await db.ReadAsync(c => c.Scalar<long>("SELECT count(*) FROM log")).WaitAsync(Bound));
    }
}
