using Walden.Cli.Bench;
using Walden.Tests.TestSupport;

namespace Walden.Tests.CrossProcess;

/// <summary>Several Walden processes on one file: one checkpointer, writers taking turns (issue 15 items 1 and 2).</summary>
public sealed class ProcessCoordinationTests : IDisposable
{
    private const long SmallWal = 1024 * 1024; // a PASSIVE checkpoint every 128 KiB of WAL
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private async Task<string> CreateAsync()
    {
        var path = _dir.File("shared.db");
        await using var setup = await WaldenDatabase.OpenAsync(path);
        await setup.WriteAsync(c => c.Exec(Workload.Schema));
        return path;
    }

    [Fact]
    public async Task TwoWaldenProcesses_OnlyTheLeaseHolderCheckpoints_AndItCheckpointsTheOthersCommits()
    {
        var path = await CreateAsync();
        await using var holder = await WaldenDatabase.OpenAsync(path, new WaldenOptions { WalSizeLimit = SmallWal });
        Assert.True((await holder.GetStatsAsync()).IsCheckpointHolder);

        using var other = await BenchWorker.StartAsync(path, producers: 4, writesPerProducer: 400, walSizeLimit: SmallWal);
        var result = await other.RunAsync();

        Assert.Equal(1600, result.Rows);
        Assert.False(result.CheckpointHolder);
        Assert.Equal(0, result.Checkpoints); // it left checkpoints to the holder: no second checkpointer on the WAL
        // The holder wrote nothing itself: it learned of the other process's commits from the lock file and checkpointed them.
        // (Without the published frame count it would never checkpoint: nothing of its own calls for one.)
        Assert.True(await BenchWorker.WaitUntilAsync(() => holder.GetStatsAsync().Result.Checkpoints > 0, TimeSpan.FromSeconds(20)),
            "the lease holder never checkpointed the other process's commits");
    }

    [Fact]
    public async Task WhenTheCheckpointLeaseHolderIsKilled_AnotherProcessTakesItOver()
    {
        var path = await CreateAsync();
        using var first = await BenchWorker.StartAsync(path, producers: 1, writesPerProducer: 1);
        await using var second = await WaldenDatabase.OpenAsync(path);
        Assert.False((await second.GetStatsAsync()).IsCheckpointHolder); // the first process holds the lease

        first.Kill();

        Assert.True(await BenchWorker.WaitUntilAsync(() => second.GetStatsAsync().Result.IsCheckpointHolder, TimeSpan.FromSeconds(10)),
            "the lease was not taken over after its holder died");
        await second.WriteAsync(c => c.Exec("INSERT INTO agent_log(task_id, ts, type, body) VALUES ('t', 1, 'x', 'y')"));
        var checkpoint = await second.CheckpointAsync(WaldenCheckpointMode.Truncate);
        Assert.False(checkpoint.Busy);
    }

    [Fact]
    public async Task TwoWaldenProcessesWritingAtOnce_TakeTurns_SoNeitherWaitsOnSqlitesLockAndNothingIsLost()
    {
        var path = await CreateAsync();
        await using var parent = await WaldenDatabase.OpenAsync(path, new WaldenOptions { Durability = WaldenDurability.Normal });
        // The child writes far more than the parent, and the parent starts once the child's first rows are committed, so the
        // two write at once (without that, a child slow to start under load could begin after the parent had finished).
        using var child = await BenchWorker.StartAsync(path, producers: 8, writesPerProducer: 2000);
        var childRun = child.RunAsync();
        using (var watch = Sql.OpenDirect(path, readOnly: true))
        {
            Assert.True(await BenchWorker.WaitUntilAsync(() => watch.Scalar<long>("SELECT count(*) FROM agent_log") > 0,
                TimeSpan.FromMinutes(1)), "the child never committed a row");
        }

        var workload = new Workload(1);
        var states = Enumerable.Range(0, 8).Select(_ => new ProducerState()).ToArray();
        var budget = Budget.PerProducer(new BenchConfig { Folder = _dir.Path, WritesPerProducer = 300 });
        await WaldenScenario.ProduceAsync(parent, workload, states, budget, seqOffset: 0);
        var childWasStillWriting = !childRun.IsCompleted;
        var result = await childRun;
        var stats = await parent.GetStatsAsync();

        Assert.True(childWasStillWriting, "the parent finished before the child: the run did not test two writers at once");
        Assert.Equal(2400, states.Sum(s => s.Acknowledged));
        Assert.Equal(16000, result.Rows);
        Assert.Equal(0, stats.BusyRetries);
        Assert.Equal(0, result.BusyRetries);
        Assert.True(stats.WriteLockWaitMax > TimeSpan.Zero);
        using var check = Sql.OpenDirect(path);
        Assert.Equal(18400, check.Scalar<long>("SELECT count(*) FROM agent_log"));
    }
}
