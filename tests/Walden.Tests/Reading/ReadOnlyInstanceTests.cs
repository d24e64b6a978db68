using Walden.Cli.Bench;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Reading;

/// <summary>A process that only reads opens the reader pool and nothing else (issue 15 item 3).</summary>
public sealed class ReadOnlyInstanceTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task AReadOnlyInstance_ReadsWhatAnotherProcessWrites_RefusesWrites_AndLeavesCheckpointsToTheWriter()
    {
        var path = _dir.File("shared.db");
        await using (var setup = await WaldenDatabase.OpenAsync(path))
        {
            await setup.WriteAsync(c => c.Exec(Workload.Schema));
        }

        // Opened first, it still takes nothing a writing process needs: the writer opened after it holds the checkpoint lease.
        await using var reader = await WaldenDatabase.OpenReadOnlyAsync(path);
        using var writer = await BenchWorker.StartAsync(path, producers: 4, writesPerProducer: 250);
        var written = await writer.RunAsync();

        Assert.True(written.CheckpointHolder);
        Assert.Equal(1000, await reader.ReadAsync(c => c.Scalar<long>("SELECT count(*) FROM agent_log")));
        Assert.True(reader.IsReadOnly);

        var refused = await Assert.ThrowsAsync<WaldenReadOnlyException>(() => reader.WriteAsync(c => c.Exec("DELETE FROM agent_log")));
        Assert.Contains("OpenReadOnlyAsync", refused.Message, StringComparison.Ordinal);
        Assert.Contains("WaldenDatabase.OpenAsync", refused.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<WaldenReadOnlyException>(() => reader.CheckpointAsync(WaldenCheckpointMode.Truncate));

        var stats = await reader.GetStatsAsync();
        Assert.True(stats.IsReadOnly);
        Assert.False(stats.IsCheckpointHolder);
        Assert.Equal(0, stats.Checkpoints);
        Assert.Equal(0, stats.Commits);
        Assert.True(stats.PageCount > 1);
        Assert.Equal(WaldenHealthStatus.Healthy, reader.GetHealth().Status);
        Assert.True(reader.CheckpointerStopped); // none was started
        Assert.True(reader.WriterCompletion.IsCompleted);
    }

    [Fact]
    public async Task OpenReadOnly_OnADatabaseNotInWalMode_RefusesAndChangesNothing()
    {
        var path = _dir.File("journal.db");
        using (var plain = Sql.OpenDirect(path))
        {
            plain.Exec("CREATE TABLE t(x); INSERT INTO t VALUES (1);");
        }

        var before = ForeignProgram.Snapshot(_dir.Path);
        var refused = await Assert.ThrowsAsync<WaldenConfigurationException>(() => WaldenDatabase.OpenReadOnlyAsync(path));

        Assert.Contains("not in WAL mode", refused.Message, StringComparison.Ordinal);
        Assert.Equal(before, ForeignProgram.Snapshot(_dir.Path));
    }

    [Fact]
    public async Task OpenReadOnly_OnAMissingFile_RefusesInsteadOfCreatingIt()
    {
        var path = _dir.File("missing.db");
        await Assert.ThrowsAsync<WaldenConfigurationException>(() => WaldenDatabase.OpenReadOnlyAsync(path));
        Assert.False(File.Exists(path));
    }
}
