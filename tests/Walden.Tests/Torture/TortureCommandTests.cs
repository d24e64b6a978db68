using System.Text.Json;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Torture;

/// <summary>
/// The real thing, small: the walden CLI as a child process starts real worker processes, SIGKILLs them
/// and checks the database. Each run takes a few seconds.
/// </summary>
public sealed class TortureCommandTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Torture_ShortRunWithSigkills_LosesNoAcknowledgedWriteAndKeepsIntegrity()
    {
        var (exitCode, stdout, stderr) = await WaldenCli.RunAsync(
            "torture", "--dir", _dir.Path, "--processes", "2", "--cycles", "4", "--seconds-per-cycle", "1", "--seed", "7", "--json");

        Assert.True(exitCode == 0, $"torture failed ({exitCode}): {stderr}{stdout}");
        using var json = JsonDocument.Parse(stdout);
        var report = json.RootElement;
        Assert.Equal(4, report.GetProperty("cycles").GetInt32());
        Assert.True(report.GetProperty("kills").GetInt32() >= 4, "every cycle kills at least one worker");
        Assert.True(report.GetProperty("writesAcknowledged").GetInt64() > 0, "the workers wrote and acknowledged records");
        Assert.Equal(0, report.GetProperty("writesLost").GetInt64());
        Assert.Equal(0, report.GetProperty("integrityFailures").GetInt32());
        Assert.Equal(0, report.GetProperty("duplicateRecords").GetInt64());
        Assert.Equal(0, report.GetProperty("damagedRecords").GetInt64());
        Assert.Equal(0, report.GetProperty("workerFailures").GetInt32());

        // What the workers acknowledged is in the file the CLI left behind, and SQLite finds it sound.
        using var check = Sql.OpenDirect(_dir.File("torture.db"));
        Assert.Equal("ok", check.Scalar<string>("PRAGMA integrity_check"));
        Assert.True(check.Scalar<long>("SELECT count(*) FROM torture_record") >= report.GetProperty("cycleResults")[3].GetProperty("writesAcknowledged").GetInt64());
    }

    [Fact]
    public async Task Torture_KilledWorkers_LeaveNoDotnetDiagnosticFilesInTmpdir()
    {
        // A killed .NET process cannot remove its IPC files: each worker killed used to leave three in TMPDIR for good.
        var tmp = Directory.CreateDirectory(_dir.File("tmp")).FullName;
        var (exitCode, stdout, stderr) = await WaldenCli.RunAsync(
            new Dictionary<string, string> { ["TMPDIR"] = tmp },
            "torture", "--dir", Directory.CreateDirectory(_dir.File("run")).FullName, "--processes", "1", "--producers", "2", "--cycles", "3", "--seconds-per-cycle", "0.5",
            "--seed", "3", "--json");

        Assert.True(exitCode == 0, $"torture failed ({exitCode}): {stderr}{stdout}");
        using var json = JsonDocument.Parse(stdout);
        Assert.True(json.RootElement.GetProperty("kills").GetInt32() >= 3, "every cycle kills its worker");
        var left = Directory.EnumerateFileSystemEntries(tmp).Select(Path.GetFileName)
            .Where(name => name!.StartsWith("dotnet-diagnostic-", StringComparison.Ordinal) || name.StartsWith("clr-debug-pipe-", StringComparison.Ordinal))
            .ToList();
        Assert.True(left.Count == 0, $"left in TMPDIR: {string.Join(", ", left)}");
    }

    [Fact]
    public async Task Torture_MixedWithAForeignSqliteWriter_LosesNoAcknowledgedWaldenWrite()
    {
        var (exitCode, stdout, stderr) = await WaldenCli.RunAsync(
            "torture", "--dir", _dir.Path, "--processes", "2", "--cycles", "3", "--seconds-per-cycle", "1", "--seed", "15", "--json",
            "--foreign-writer", SqliteShell.BinaryPath);

        Assert.True(exitCode == 0, $"torture failed ({exitCode}): {stderr}{stdout}");
        using var json = JsonDocument.Parse(stdout);
        var report = json.RootElement;
        Assert.Equal(3, report.GetProperty("cycles").GetInt32());
        Assert.Equal(0, report.GetProperty("writesLost").GetInt64());
        Assert.Equal(0, report.GetProperty("integrityFailures").GetInt32());
        Assert.Equal(0, report.GetProperty("workerFailures").GetInt32());
        // The shell did commit beside the workers, and its rows are in the file.
        var foreign = report.GetProperty("foreignCommits").GetInt64();
        Assert.True(foreign > 0, "the foreign writer committed nothing");
        using var check = Sql.OpenDirect(_dir.File("torture.db"));
        Assert.True(check.Scalar<long>("SELECT count(*) FROM foreign_record") >= foreign);
    }

    [Fact]
    public async Task Torture_DeleteWalHazard_IsReportedAsAcknowledgedWritesLost()
    {
        var (exitCode, stdout, stderr) = await WaldenCli.RunAsync(
            "torture", "--dir", _dir.Path, "--processes", "2", "--cycles", "3", "--seconds-per-cycle", "1", "--seed", "11", "--hazard", "delete-wal", "--json");

        Assert.True(exitCode == 0, $"a detected hazard exits 0 ({exitCode}): {stderr}{stdout}");
        using var json = JsonDocument.Parse(stdout);
        var report = json.RootElement;
        Assert.True(report.GetProperty("hazardDetected").GetBoolean());
        var cycles = report.GetProperty("cycleResults");
        var hazard = cycles[cycles.GetArrayLength() - 1].GetProperty("hazard");
        Assert.Equal("delete-wal", hazard.GetProperty("mode").GetString());
        Assert.True(hazard.GetProperty("writesLost").GetInt64() > 0 || !hazard.GetProperty("integrityOk").GetBoolean() ||
            cycles[cycles.GetArrayLength() - 1].GetProperty("corruptionsSeenByWorkers").GetInt64() > 0,
            $"deleting the WAL under the writers must lose acknowledged writes or corrupt the file: {hazard}");
        Assert.StartsWith("hazard detected", report.GetProperty("verdict").GetString(), StringComparison.Ordinal);

        // The evidence stays for diagnosis.
        Assert.True(File.Exists(report.GetProperty("failureLog").GetString()));
        Assert.True(File.Exists(_dir.File("torture.db")));
    }

    [Fact]
    public async Task Torture_CopyWhileWritingHazard_FindsTheCopyIncomplete()
    {
        var (exitCode, stdout, stderr) = await WaldenCli.RunAsync(
            "torture", "--dir", _dir.Path, "--processes", "2", "--cycles", "3", "--seconds-per-cycle", "1", "--seed", "5", "--hazard", "copy-while-writing", "--json");

        Assert.True(exitCode == 0, $"a detected hazard exits 0 ({exitCode}): {stderr}{stdout}");
        using var json = JsonDocument.Parse(stdout);
        var report = json.RootElement;
        Assert.True(report.GetProperty("hazardDetected").GetBoolean());
        Assert.Equal(0, report.GetProperty("writesLost").GetInt64()); // the real database lost nothing; only the copy did
        Assert.Equal(0, report.GetProperty("integrityFailures").GetInt32());
    }

    [Fact]
    public async Task Torture_WithBadOptions_SaysWhatToChange()
    {
        var (exitCode, _, stderr) = await WaldenCli.RunAsync("torture", "--processes", "0", "--seconds-per-cycle", "0.01");

        Assert.Equal(2, exitCode);
        var message = string.Join(' ', stderr.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)); // the console wraps long lines
        Assert.Contains("--processes must be 1 to 64 (currently 0)", message, StringComparison.Ordinal);
        Assert.Contains("--seconds-per-cycle must be 0.2 to 3600", message, StringComparison.Ordinal);
    }
}
