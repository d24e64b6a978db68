using Microsoft.Data.Sqlite;
using Walden.Checkpointing;
using Walden.Diagnostics;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Checkpointing;

public sealed class StarvationTests : IDisposable
{
    private const long Limit = 1024 * 1024;
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task AStuckReader_TriggersStarvation_AndTheMaxReadLeaseEndsIt()
    {
        var time = new FakeTimeProvider();
        var logs = new ListLoggerFactory();
        var path = _dir.File("app.db");
        var name = "starved-" + Guid.NewGuid().ToString("N");
        using var metrics = new MetricsCollector(name);
        await using var db = await WaldenDatabase.OpenAsync(path, new WaldenOptions
        {
            Name = name,
            WalSizeLimit = Limit,
            CheckpointStarvationThreshold = TimeSpan.FromSeconds(10),
            CheckpointIdleDelay = TimeSpan.FromHours(1),
            MaxReadLeaseDuration = TimeSpan.FromSeconds(60),
            BusyTimeout = TimeSpan.FromMilliseconds(500), // how long the manual TRUNCATE below waits for the stuck reader
            TimeProvider = time,
            LoggerFactory = logs,
        });
        await db.WriteAsync(c => c.Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, body BLOB NOT NULL)"));
        await db.WriteAsync(c => c.Exec("INSERT INTO t(body) VALUES (x'00')"));

        // A read that takes its snapshot and then hangs on to it.
        var snapshotTaken = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var release = new ManualResetEventSlim();
        var stuck = db.ReadAsync(c =>
        {
            var count = c.Scalar<long>("SELECT count(*) FROM t");
            snapshotTaken.SetResult();
            release.Wait();
            return count;
        });
        await snapshotTaken.Task;
        try
        {
            await StarveAndEndAsync(db, time, logs, path, stuck, release);
            Assert.Equal(1, metrics.Values("walden.checkpoint.starvations").Sum());
        }
        finally
        {
            release.Set(); // never leave the read hanging: disposing the database waits for it
        }
    }

    private static async Task StarveAndEndAsync(WaldenDatabase db, FakeTimeProvider time, ListLoggerFactory logs, string path, Task<long> stuck, ManualResetEventSlim release)
    {
        // The reader has held its snapshot for 2 s (a long read, not a short one that lost the CPU) when twice
        // the limit goes through the WAL; its snapshot keeps checkpoints from resetting it.
        time.Advance(TimeSpan.FromSeconds(2));
        for (var i = 0; i < 15; i++)
        {
            await db.WriteAsync(c => c.Exec("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 50) INSERT INTO t(body) SELECT randomblob(3000) FROM s"));
        }

        await db.Checkpointer.EvaluateAsync();
        var before = await db.GetStatsAsync();
        Assert.True(before.WalFileBytes > Limit, $"The WAL should be over the limit; it is {before.WalFileBytes:N0} bytes.");
        Assert.False(before.CheckpointStarved);

        time.Advance(TimeSpan.FromSeconds(10));
        await db.Checkpointer.EvaluateAsync();

        var starved = await db.GetStatsAsync();
        Assert.True(starved.CheckpointStarved);
        Assert.Equal(1, starved.CheckpointStarvations);
        Assert.Equal(TimeSpan.FromSeconds(12), starved.OldestReadLeaseAge);
        var warning = Assert.Single(logs.Lines, l => l.EventId.Id == 1202);
        Assert.Contains("oldest read has held its snapshot for 12 s", warning.Message, StringComparison.Ordinal);
        Assert.Equal(WaldenHealthStatus.Degraded, db.GetHealth().Status);
        Assert.True((await db.CheckpointAsync(WaldenCheckpointMode.Truncate)).Busy, "The stuck reader must still block a TRUNCATE here.");

        // The lease runs out: Walden ends the snapshot although the read's code is still blocked.
        time.Advance(TimeSpan.FromSeconds(48));
        var truncate = await db.CheckpointAsync(WaldenCheckpointMode.Truncate);
        Assert.False(truncate.Busy);
        Assert.Equal(0, new FileInfo(path + "-wal").Length);
        await db.Checkpointer.EvaluateAsync();
        Assert.False((await db.GetStatsAsync()).CheckpointStarved);

        release.Set();
        var error = await Assert.ThrowsAsync<WaldenReadLeaseExpiredException>(() => stuck);
        Assert.Contains("MaxReadLeaseDuration (currently 60 s)", error.Message, StringComparison.Ordinal);
        Assert.Equal(751, await db.ReadAsync(c => c.Scalar<long>("SELECT count(*) FROM t"))); // the pool goes on with a fresh connection
    }

    [Fact]
    public async Task AnExpiredLease_ReleasesTheSnapshot_OfAReadParkedBetweenRows_SoTruncateSucceeds()
    {
        var time = new FakeTimeProvider();
        var path = _dir.File("app.db");
        await using var db = await WaldenDatabase.OpenAsync(path, new WaldenOptions
        {
            MaxReadLeaseDuration = TimeSpan.FromSeconds(60),
            CheckpointIdleDelay = TimeSpan.FromHours(1),
            BusyTimeout = TimeSpan.FromMilliseconds(200), // how long the TRUNCATE before the expiry waits for the parked read
            TimeProvider = time,
        });
        await db.WriteAsync(c => c.Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, body BLOB NOT NULL)"));
        await db.WriteAsync(c => c.Exec("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 100) INSERT INTO t(body) SELECT randomblob(100) FROM s"));

        // The read's code stops between two rows of an open data reader: its statement is busy and holds the snapshot.
        var parked = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var gate = new ManualResetEventSlim();
        var read = db.ReadAsync(c =>
        {
            using var command = c.CreateCommand();
            command.CommandText = "SELECT id FROM t";
            using var rows = command.ExecuteReader();
            var seen = rows.Read() ? 1 : 0;
            parked.SetResult();
            gate.Wait();
            while (rows.Read())
            {
                seen++;
            }

            return seen + c.Scalar<long>("SELECT count(*) FROM t");
        });
        await parked.Task;
        try
        {
            await db.WriteAsync(c => c.Exec("INSERT INTO t(body) VALUES (x'01')"));
            Assert.True((await db.CheckpointAsync(WaldenCheckpointMode.Truncate)).Busy, "The parked read must block a TRUNCATE before its lease ends.");

            time.Advance(TimeSpan.FromSeconds(60));

            var truncate = await db.CheckpointAsync(WaldenCheckpointMode.Truncate);
            Assert.False(truncate.Busy, "The expired lease must have released the parked read's snapshot.");
            Assert.Equal(0, new FileInfo(path + "-wal").Length);
            Assert.False(read.IsCompleted, "The read's code is still parked on its gate.");
        }
        finally
        {
            gate.Set();
        }

        // After the expiry the data reader ends (its statement was reset) and a new statement fails at once:
        // neither takes a new snapshot.
        var error = await Assert.ThrowsAsync<WaldenReadLeaseExpiredException>(() => read);
        Assert.Equal(9, Assert.IsType<SqliteException>(error.InnerException).SqliteErrorCode); // SQLITE_INTERRUPT
        Assert.Equal(101, await db.ReadAsync(c => c.Scalar<long>("SELECT count(*) FROM t")));
    }

    [Fact]
    public async Task MaxReadLease_InterruptsARunningStatement()
    {
        var time = new FakeTimeProvider();
        await using var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), new WaldenOptions
        {
            MaxReadLeaseDuration = TimeSpan.FromSeconds(5),
            TimeProvider = time,
        });
        var running = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var endless = db.ReadAsync(c =>
        {
            c.CreateFunction("signal_running", () =>
            {
                running.TrySetResult();
                return 1L;
            });
            return c.Scalar<long>("WITH RECURSIVE n(x) AS (SELECT signal_running() UNION ALL SELECT x + 1 FROM n) SELECT count(*) FROM n");
        });
        await running.Task;

        time.Advance(TimeSpan.FromSeconds(5));

        var error = await Assert.ThrowsAsync<WaldenReadLeaseExpiredException>(() => endless);
        var interrupted = Assert.IsType<SqliteException>(error.InnerException);
        Assert.Equal(9, interrupted.SqliteErrorCode); // SQLITE_INTERRUPT
        Assert.Equal(1, await db.ReadAsync(c => c.Scalar<long>("SELECT 1")));
    }

    [Fact]
    public async Task ReadsWithinTheLease_AreUntouched()
    {
        var time = new FakeTimeProvider();
        await using var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), new WaldenOptions
        {
            MaxReadLeaseDuration = TimeSpan.FromSeconds(5),
            TimeProvider = time,
        });
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal(i, await db.ReadAsync(c => c.Scalar<long>($"SELECT {i}")));
            time.Advance(TimeSpan.FromSeconds(4));
        }
    }
}
