using System.Text.Json;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Cli;

/// <summary>
/// The read-only commands and backup on files other programs leave behind: schemas that need the app's own
/// collations and functions, hot rollback journals, WAL files without their -shm, closed WAL databases.
/// Inputs are made by Python's sqlite3, as a foreign program would.
/// </summary>
public sealed class ForeignFileCommandTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Check_OnAnAndroidLocalizedCollation_IsHealthy_AndNamesTheStandIn()
    {
        var path = _dir.File("android.db");
        await ForeignProgram.RunPythonAsync(ForeignProgram.LocalizedCollation, path);

        foreach (var full in new[] { false, true })
        {
            var (exit, stdout, stderr) = full ? await WaldenCli.RunAsync("check", "--full", path) : await WaldenCli.RunAsync("check", path);

            Assert.True(exit == 0, stdout + stderr);
            Assert.Contains("healthy", stdout, StringComparison.Ordinal);
            Assert.Contains("LOCALIZED", stdout, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Check_Full_OnAppFunctionsInCheckIndexGeneratedColumnViewAndTrigger_IsHealthy_AndSaysWhatToReCheck()
    {
        var path = _dir.File("functions.db");
        await ForeignProgram.RunPythonAsync(ForeignProgram.AppFunctions, path);

        var (exit, stdout, stderr) = await WaldenCli.RunAsync("check", "--full", "--json", path);

        Assert.True(exit == 0, stdout + stderr);
        using var json = JsonDocument.Parse(stdout);
        Assert.Equal("healthy", json.RootElement.GetProperty("status").GetString());
        var notes = string.Join(" ", json.RootElement.GetProperty("notes").EnumerateArray().Select(note => note.GetString()));
        Assert.Contains("valid_email", notes, StringComparison.Ordinal);
        Assert.Contains("domain_of", notes, StringComparison.Ordinal);
        Assert.Contains("users_domain", notes, StringComparison.Ordinal); // its findings were set aside, and said so
    }

    [Fact]
    public async Task Backup_OfSchemasNeedingAppCollationsAndFunctions_CopiesEveryRow_NamesTheStandIns_AndRestores()
    {
        var android = _dir.File("android.db");
        var functions = _dir.File("functions.db");
        await ForeignProgram.RunPythonAsync(ForeignProgram.LocalizedCollation, android);
        await ForeignProgram.RunPythonAsync(ForeignProgram.AppFunctions, functions);
        var expected = new Dictionary<string, (string Table, long Rows, string StandIn)[]>
        {
            [android] = [("names", 2000, "LOCALIZED"), ("plain", 100, "LOCALIZED")],
            [functions] = [("users", 2000, "valid_email"), ("audit", 2000, "domain_of")],
        };

        foreach (var (path, tables) in expected)
        {
            var (exit, stdout, stderr) = await WaldenCli.RunAsync("backup", path, _dir.File("backups"), "--json");

            Assert.True(exit == 0, stdout + stderr);
            using var json = JsonDocument.Parse(stdout);
            var backup = json.RootElement.GetProperty("backup");
            var notes = string.Join(" ", backup.GetProperty("notes").EnumerateArray().Select(note => note.GetString()));
            foreach (var (table, rows, standIn) in tables)
            {
                Assert.Equal(rows, backup.GetProperty("tableRows").GetProperty(table).GetInt64());
                Assert.Contains(standIn, notes, StringComparison.Ordinal);
            }

            var restored = _dir.File("restored-" + Path.GetFileName(path));
            var restore = await WaldenCli.RunAsync("restore", json.RootElement.GetProperty("path").GetString()!, restored);
            Assert.True(restore.ExitCode == 0, restore.Stdout + restore.Stderr);
            using var copy = Sql.OpenDirect(restored, readOnly: true);
            Assert.Equal(tables[0].Rows, copy.Scalar<long>($"SELECT count(*) FROM {tables[0].Table}"));
        }
    }

    [Fact]
    public async Task HotJournal_CheckInfoAndStats_ReadTheCommittedState_SayItWasHot_AndChangeNoFile()
    {
        var folder = Directory.CreateDirectory(_dir.File("app")).FullName;
        var path = Path.Combine(folder, "killed.db");
        await ForeignProgram.RunPythonAsync(ForeignProgram.KilledMidTransaction, path);
        Assert.True(new FileInfo(path + "-journal").Length > 0);
        var before = ForeignProgram.Snapshot(folder);

        var check = await WaldenCli.RunAsync("check", "--full", "--json", path);
        var info = await WaldenCli.RunAsync("info", "--json", path);
        var stats = await WaldenCli.RunAsync("stats", "--json", path);

        Assert.True(check.ExitCode == 0, check.Stdout + check.Stderr);
        Assert.True(info.ExitCode == 0, info.Stdout + info.Stderr);
        Assert.True(stats.ExitCode == 0, stats.Stdout + stats.Stderr);
        foreach (var output in new[] { check.Stdout, info.Stdout, stats.Stdout })
        {
            using var json = JsonDocument.Parse(output);
            Assert.Contains(json.RootElement.GetProperty("notes").EnumerateArray(), note => note.GetString()!.Contains("hot rollback journal", StringComparison.Ordinal));
        }

        Assert.Equal(before, ForeignProgram.Snapshot(folder));
    }

    [Fact]
    public async Task HotJournal_Recover_KeepsEveryCommittedRow_AndNoRowOfTheCutOffTransaction()
    {
        var path = _dir.File("killed.db");
        await ForeignProgram.RunPythonAsync(ForeignProgram.KilledMidTransaction, path);

        var (exit, stdout, stderr) = await WaldenCli.RunAsync("recover", path, "--output", _dir.File("out.db"));

        Assert.True(exit == 0, stdout + stderr);
        Assert.Contains("hot rollback journal", stdout, StringComparison.Ordinal);
        using var output = Sql.OpenDirect(_dir.File("out.db"), readOnly: true);
        Assert.Equal(200, output.Scalar<long>("SELECT count(*) FROM t"));
        Assert.Equal(200, output.Scalar<long>("SELECT count(*) FROM t WHERE v LIKE 'committed%'"));
    }

    [Fact]
    public async Task HotJournal_OfAKilledSchemaChange_CheckIsHealthy_AndRecoverBringsBackTheDroppedTableAndTheOldRows()
    {
        var path = _dir.File("schema.db");
        await ForeignProgram.RunPythonAsync(ForeignProgram.KilledMidSchemaChange, path);
        Assert.True(File.Exists(path + "-journal"));

        var check = await WaldenCli.RunAsync("check", "--full", path);
        var recover = await WaldenCli.RunAsync("recover", path, "--output", _dir.File("out.db"));

        Assert.True(check.ExitCode == 0, check.Stdout + check.Stderr);
        Assert.True(recover.ExitCode == 0, recover.Stdout + recover.Stderr);
        using var output = Sql.OpenDirect(_dir.File("out.db"), readOnly: true);
        Assert.Equal(500, output.Scalar<long>("SELECT count(*) FROM keep WHERE v LIKE 'k%'"));
        Assert.Equal(500, output.Scalar<long>("SELECT count(*) FROM doomed"));
    }

    [Fact]
    public async Task WalWithCommittedFramesAndNoShm_ReadOnlyCommandsSeeTheRows_AndCreateNoShm()
    {
        var folder = Directory.CreateDirectory(_dir.File("app")).FullName;
        var path = Path.Combine(folder, "wal.db");
        await ForeignProgram.RunPythonAsync(ForeignProgram.KilledWithCommittedWal, path);
        File.Delete(path + "-shm"); // as a copy of only the database and its -wal leaves it (the writer is dead)
        Assert.True(new FileInfo(path + "-wal").Length > 32);
        var before = ForeignProgram.Snapshot(folder);

        var check = await WaldenCli.RunAsync("check", "--json", path);
        var info = await WaldenCli.RunAsync("info", "--json", path);
        var stats = await WaldenCli.RunAsync("stats", path);

        Assert.True(check.ExitCode == 0, check.Stdout + check.Stderr);
        Assert.True(info.ExitCode == 0, info.Stdout + info.Stderr);
        Assert.True(stats.ExitCode == 0, stats.Stdout + stats.Stderr);
        Assert.Contains("no -shm", check.Stdout, StringComparison.Ordinal);
        using (var json = JsonDocument.Parse(info.Stdout))
        {
            Assert.Equal("wal", json.RootElement.GetProperty("journalMode").GetString());
        }

        Assert.Equal(before, ForeignProgram.Snapshot(folder));
    }

    [Fact]
    public async Task ReadOnlyCommands_OnAClosedWalDatabase_LeaveTheFolderAsTheyFoundIt()
    {
        var folder = Directory.CreateDirectory(_dir.File("app")).FullName;
        var path = Path.Combine(folder, "closed.db");
        await ForeignProgram.RunPythonAsync(ForeignProgram.ClosedWal, path);
        var before = ForeignProgram.Snapshot(folder);
        Assert.Single(before);

        foreach (var command in new[] { new[] { "check", path }, ["check", "--full", path], ["info", path], ["stats", "--json", path] })
        {
            var (exit, stdout, stderr) = await WaldenCli.RunAsync(command);
            Assert.True(exit == 0, stdout + stderr);
            Assert.Equal(before, ForeignProgram.Snapshot(folder));
        }
    }
}
