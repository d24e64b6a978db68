using System.Text.Json;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Cli;

/// <summary>
/// The commands on a database whose -wal holds committed transactions past a damaged frame (SQLite ignores them): check exits 1
/// naming them, checkpoint refuses in every mode (exit 2) with every file unchanged, backup writes nothing (exit 1), recover
/// says the result is incomplete (exit 1) and keeps the original with its -wal. Before: healthy, a "verified" backup, "usable",
/// and a TRUNCATE checkpoint that destroyed the 79 transactions.
/// </summary>
public sealed class WalChainBreakCommandTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private async Task<(string Path, int Before, int Past)> DamagedAsync(string program = "python")
    {
        var path = _dir.File("app.db");
        await (program == "python" ? DamagedWal.PythonAsync(path) : DamagedWal.ShellAsync(path));
        var commits = DamagedWal.CommitFrames(path);
        DamagedWal.Damage(path, 21, "data");
        return (path, commits.Count(f => f < 21), commits.Count(f => f > 21));
    }

    [Fact]
    public async Task Check_ExitsOne_NamingTheFrameAndTheIgnoredCommits()
    {
        var (path, before, past) = await DamagedAsync();

        var (exit, stdout, stderr) = await WaldenCli.RunAsync("check", path);
        var json = await WaldenCli.RunAsync("check", path, "--json");

        Assert.True(exit == 1, stdout + stderr);
        Assert.Contains("corrupt", stdout, StringComparison.Ordinal);
        Assert.Contains($"damaged at frame 21 of", stdout, StringComparison.Ordinal);
        Assert.Contains($"ignores the {past} committed transactions", stdout, StringComparison.Ordinal);
        Assert.Contains($"reads the {before} committed transactions", stdout, StringComparison.Ordinal);
        Assert.Equal(1, json.ExitCode);
        using var document = JsonDocument.Parse(json.Stdout);
        Assert.Equal("corrupt", document.RootElement.GetProperty("status").GetString());
    }

    [Theory]
    [InlineData("passive")]
    [InlineData("full")]
    [InlineData("restart")]
    [InlineData("truncate")]
    public async Task Checkpoint_InAnyMode_RefusesWithExitTwo_AndLeavesEveryFrameInTheWal(string mode)
    {
        var (path, _, past) = await DamagedAsync(mode == "full" ? "shell" : "python");
        var before = ForeignProgram.Snapshot(_dir.Path);

        var (exit, stdout, stderr) = await WaldenCli.RunAsync("checkpoint", path, "--mode", mode);

        Assert.True(exit == 2, stdout + stderr);
        Assert.Contains("refused; nothing was opened or changed", stderr, StringComparison.Ordinal);
        Assert.Contains($"ignores the {past} committed transactions", stderr, StringComparison.Ordinal);
        Assert.Equal(before, ForeignProgram.Snapshot(_dir.Path));
    }

    [Fact]
    public async Task Checkpoint_OnAWalReusedAfterARestart_Runs()
    {
        var path = _dir.File("app.db");
        await ForeignProgram.RunPythonAsync(DamagedWal.PythonGuards, new Dictionary<string, string>(), path, "restarted");

        var (exit, stdout, stderr) = await WaldenCli.RunAsync("checkpoint", path, "--mode", "truncate");

        Assert.True(exit == 0, stdout + stderr);
        Assert.Equal(105, DamagedWal.RowsSqliteReads(path, _dir.File("scratch")));
    }

    [Fact]
    public async Task Backup_WritesNoBackup_ExitsOne_AndChangesNothing()
    {
        var (path, _, past) = await DamagedAsync();
        var folder = Path.Combine(Path.GetTempPath(), "walden-test-" + Guid.NewGuid().ToString("N"));
        var before = ForeignProgram.Snapshot(_dir.Path);
        try
        {
            var (exit, stdout, stderr) = await WaldenCli.RunAsync("backup", path, folder);

            Assert.True(exit == 1, stdout + stderr);
            Assert.Contains("No backup of", stderr, StringComparison.Ordinal);
            Assert.Contains($"ignores the {past} committed transactions", stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("verified backup", stdout, StringComparison.Ordinal);
            Assert.True(!Directory.Exists(folder) || !Directory.EnumerateFiles(folder).Any(), "no backup file written");
            Assert.Equal(before, ForeignProgram.Snapshot(_dir.Path));
        }
        finally
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
    }

    [Fact]
    public async Task RecoverToOutput_SaysIncomplete_ExitsOne_AndLeavesTheInputWithItsWal()
    {
        var (path, before, past) = await DamagedAsync();
        var output = _dir.File("out.db");
        var input = ForeignProgram.Snapshot(_dir.Path);

        var (exit, stdout, stderr) = await WaldenCli.RunAsync("recover", path, "--output", output);

        Assert.True(exit == 1, stdout + stderr);
        Assert.Contains("usable but incomplete", stdout, StringComparison.Ordinal);
        Assert.Contains($"Incomplete: the write-ahead log '{path}-wal' is damaged at frame 21", stdout, StringComparison.Ordinal);
        Assert.Equal(before, DamagedWal.RowsSqliteReads(output, _dir.File("scratch")));
        var after = ForeignProgram.Snapshot(_dir.Path);
        foreach (var (file, hash) in input)
        {
            Assert.Equal(hash, after[file]); // the input and its -wal, byte for byte
        }

        var json = await WaldenCli.RunAsync("recover", path, "--output", _dir.File("out2.db"), "--json");
        using var document = JsonDocument.Parse(json.Stdout);
        Assert.Equal(past, document.RootElement.GetProperty("report").GetProperty("walCommitsIgnored").GetInt32());
        Assert.Equal(1, json.ExitCode);
    }

    [Fact]
    public async Task RecoverInPlace_KeepsTheOriginalWithItsWalInQuarantine_AndExitsOne()
    {
        var (path, before, _) = await DamagedAsync();
        var damagedWal = File.ReadAllBytes(path + "-wal");

        var (exit, stdout, stderr) = await WaldenCli.RunAsync("recover", path, "--in-place");

        Assert.True(exit == 1, stdout + stderr);
        Assert.Contains("usable but incomplete", stdout, StringComparison.Ordinal);
        var kept = Assert.Single(Directory.GetDirectories(Path.Combine(_dir.Path, "walden-quarantine")));
        Assert.Equal(damagedWal, File.ReadAllBytes(Path.Combine(kept, "app.db-wal")));
        Assert.Equal(before, DamagedWal.RowsSqliteReads(path, _dir.File("scratch")));
    }

    [Fact]
    public async Task Doctor_CallsItADanger_WithTheSameFacts_AndChangesNothing()
    {
        var (path, _, past) = await DamagedAsync();
        var before = ForeignProgram.Snapshot(_dir.Path);

        var (exit, stdout, stderr) = await WaldenCli.RunAsync("doctor", path, "--json");

        Assert.True(exit == 1, stdout + stderr);
        using var document = JsonDocument.Parse(stdout);
        var finding = document.RootElement.GetProperty("findings").EnumerateArray()
            .Single(f => f.GetProperty("seen").GetString()!.Contains("damaged at frame 21", StringComparison.Ordinal));
        Assert.Equal("danger", finding.GetProperty("severity").GetString());
        Assert.Contains($"ignores the {past} committed transactions", finding.GetProperty("seen").GetString(), StringComparison.Ordinal);
        Assert.Contains("Keep the -wal", finding.GetProperty("action").GetString(), StringComparison.Ordinal);
        Assert.Equal(before, ForeignProgram.Snapshot(_dir.Path));
    }

    [Theory]
    [InlineData("info")]
    [InlineData("stats")]
    public async Task InfoAndStats_SayInANote_ThatSqliteIgnoresTheCommitsPastTheDamagedFrame(string command)
    {
        var (path, _, past) = await DamagedAsync();

        var (exit, stdout, stderr) = await WaldenCli.RunAsync(command, path, "--json");

        Assert.True(exit == 0, stdout + stderr);
        using var document = JsonDocument.Parse(stdout);
        Assert.Contains(document.RootElement.GetProperty("notes").EnumerateArray(), note =>
            note.GetString()!.Contains($"damaged at frame 21", StringComparison.Ordinal) &&
            note.GetString()!.Contains($"ignores the {past} committed transactions", StringComparison.Ordinal));
    }
}
