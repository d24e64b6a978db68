using Walden.Files;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Checkpointing;

/// <summary>
/// The idle TRUNCATE (CheckpointScheduler.CheckIdle): after <see cref="WaldenOptions.CheckpointIdleDelay"/> without a
/// commit, the WAL is emptied with the writer paused between batches. It must find the WAL still idle once it has the
/// pause: a batch running when the idle time was read, which then commits, means writes resumed.
/// </summary>
public sealed class IdleTruncateTests : IDisposable
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30); // a safety net only

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task AfterTheIdleDelay_TheWalIsTruncated()
    {
        var time = new FakeTimeProvider();
        var path = _dir.File("app.db");
        await using var db = await WaldenDatabase.OpenAsync(path, new WaldenOptions { TimeProvider = time });
        await db.WriteAsync(c => c.Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, body TEXT)"));
        Assert.True(DatabaseFiles.SizeOf(path + "-wal") > 0);

        time.Advance(TimeSpan.FromSeconds(2));
        await db.Checkpointer.EvaluateAsync().WaitAsync(Bound);

        Assert.Equal(0, DatabaseFiles.SizeOf(path + "-wal"));
    }

    /// <summary>
    /// Found by a test that failed in CI under load (TurnFairnessTests, stop 34): a TRUNCATE decided while a write's batch
    /// ran waited for that batch, then ran right after its commit, in the middle of a burst (and handed another process the
    /// write turn the writer had kept for its next transaction).
    /// </summary>
    [Fact]
    public async Task ABatchRunningWhenTheWalLooksIdle_ThatThenCommits_CallsOffTheIdleTruncate()
    {
        var time = new FakeTimeProvider();
        var path = _dir.File("app.db");
        await using var db = await WaldenDatabase.OpenAsync(path, new WaldenOptions { TimeProvider = time });
        await db.WriteAsync(c => c.Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, body TEXT)"));

        using var running = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        // From a pool thread: a caller that finds the writer idle runs the batch on its own thread (GroupCommitWriter.Inline),
        // and this one blocks in it.
        var write = Task.Run(() => db.WriteAsync(c =>
        {
            running.Set();
            Assert.True(release.Wait(Bound));
            c.Exec("INSERT INTO t(body) VALUES ('after a quiet second')");
        }));
        Assert.True(running.Wait(Bound));

        // No commit for longer than the idle delay, while the batch is still running: the TRUNCATE waits for the pause.
        time.Advance(TimeSpan.FromSeconds(2));
        var evaluation = db.Checkpointer.EvaluateAsync();
        Assert.True(await BenchWorker.WaitUntilAsync(() => db.Checkpointer.Pause.Requested, Bound));

        release.Set();
        await write.WaitAsync(Bound);
        await evaluation.WaitAsync(Bound);

        Assert.True(DatabaseFiles.SizeOf(path + "-wal") > 0, "the idle TRUNCATE ran right after a commit");
        Assert.Equal(1, await db.ReadAsync(c => c.Scalar<long>("SELECT count(*) FROM t")));
    }
}
