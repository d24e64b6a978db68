using System.Text.Json;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Cli;

public sealed class StatsCheckpointSoakCommandTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Stats_Json_ReportsPagesAndFileSizes_AndLeavesTheJournalModeAlone()
    {
        var path = _dir.File("plain.db");
        using (var direct = Sql.OpenDirect(path))
        {
            direct.Exec("PRAGMA journal_mode=DELETE");
            direct.Exec("CREATE TABLE t(b BLOB)");
            direct.Exec("INSERT INTO t VALUES (randomblob(20000))");
        }

        var (exit, stdout, stderr) = await WaldenCli.RunAsync("stats", path, "--json");

        Assert.True(exit == 0, stderr);
        using var json = JsonDocument.Parse(stdout);
        var root = json.RootElement;
        Assert.Equal("rollback", root.GetProperty("journalMode").GetString());
        Assert.Equal(new FileInfo(path).Length, root.GetProperty("databaseFileBytes").GetInt64());
        Assert.Equal(4096, root.GetProperty("pageSize").GetInt64());
        Assert.Equal(new FileInfo(path).Length / 4096, root.GetProperty("pageCount").GetInt64());
        Assert.Equal(JsonValueKind.Null, root.GetProperty("walFileBytes").ValueKind); // no -wal: null, as walden info says, not 0 bytes
        Assert.False(File.Exists(path + "-wal"));
        using var after = Sql.OpenDirect(path, readOnly: true);
        Assert.Equal("delete", after.Scalar<string>("PRAGMA journal_mode"));
    }

    [Fact]
    public async Task Stats_OnAMissingFile_SaysSo()
    {
        var (exit, _, stderr) = await WaldenCli.RunAsync("stats", _dir.File("missing.db"));
        Assert.Equal(2, exit);
        Assert.Contains("does not exist", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Checkpoint_PrintsTheTriple_AndTruncateEmptiesTheWal()
    {
        var path = _dir.File("app.db");
        using var holder = Sql.OpenDirect(path); // kept open so the WAL outlives the writes
        holder.Exec("PRAGMA journal_mode=WAL");
        holder.Exec("PRAGMA wal_autocheckpoint=0");
        holder.Exec("CREATE TABLE t(b BLOB)");
        for (var i = 0; i < 10; i++)
        {
            holder.Exec("INSERT INTO t VALUES (randomblob(8000))");
        }

        var (exit, stdout, stderr) = await WaldenCli.RunAsync("checkpoint", path, "--mode", "passive", "--json");
        Assert.True(exit == 0, stderr);
        using (var json = JsonDocument.Parse(stdout))
        {
            var root = json.RootElement;
            Assert.False(root.GetProperty("busy").GetBoolean());
            Assert.True(root.GetProperty("logFrames").GetInt32() >= 20);
            Assert.Equal(root.GetProperty("logFrames").GetInt32(), root.GetProperty("checkpointedFrames").GetInt32());
        }

        (exit, stdout, stderr) = await WaldenCli.RunAsync("checkpoint", path, "--mode", "truncate");
        Assert.True(exit == 0, stderr);
        Assert.Contains("busy 0, log 0 frames, checkpointed 0 frames", stdout.ReplaceLineEndings(" "), StringComparison.Ordinal);
        Assert.Equal(0, new FileInfo(path + "-wal").Length);
        Assert.Equal(10, holder.Scalar<long>("SELECT count(*) FROM t"));
    }

    [Fact]
    public async Task Checkpoint_WhileAnotherProcessHoldsTheDatabaseExclusively_GivesUpAfterItsBusyTimeout_AndSaysSo()
    {
        var path = _dir.File("app.db");
        using (var direct = Sql.OpenDirect(path))
        {
            direct.Exec("PRAGMA journal_mode=WAL; CREATE TABLE t(x); INSERT INTO t VALUES (1);");
        }

        using var shell = new SqliteShell(path); // an application in exclusive locking mode: nobody else may even read
        await shell.RunAsync("PRAGMA locking_mode=EXCLUSIVE; BEGIN EXCLUSIVE; INSERT INTO t VALUES (2);");

        var (exit, stdout, stderr) = await WaldenCli.RunAsync("checkpoint", path, "--busy-timeout", "0.3");

        Assert.True(exit == 2, stdout + stderr); // could not run: locked (SqliteCommand's own 30 s of retries ended in exit 1)
        Assert.Contains("--busy-timeout 0.3", stderr, StringComparison.Ordinal);
        var waited = double.Parse(System.Text.RegularExpressions.Regex.Match(stderr, @"waited ([0-9.]+) s").Groups[1].Value,
            System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(waited, 0.3, 10); // its own timeout, not SqliteCommand's 30 s
    }

    [Fact]
    public async Task Soak_AShortRun_ReportsThePeakWalAgainstTheLimit_AndAnEmptyWalAfterIdle()
    {
        var (exit, stdout, stderr) = await WaldenCli.RunAsync(
            "soak", "--db", _dir.File("soak.db"), "--minutes", "0.05", "--producers", "8", "--readers", "2", "--wal-limit-mib", "1", "--json");

        Assert.True(exit is 0 or 1, stderr);
        using var json = JsonDocument.Parse(stdout);
        var root = json.RootElement;
        var limit = root.GetProperty("walSizeLimitBytes").GetInt64();
        var peak = root.GetProperty("peakWalBytes").GetInt64();
        Assert.Equal(1024 * 1024, limit);
        Assert.True(root.GetProperty("writes").GetInt64() > 0);
        Assert.True(peak > 0 && peak <= limit + (limit / 4), $"peak {peak}");
        Assert.Equal(peak <= limit ? 0 : 1, exit);
        Assert.Equal(0, root.GetProperty("walBytesAfterIdle").GetInt64());
    }
}
