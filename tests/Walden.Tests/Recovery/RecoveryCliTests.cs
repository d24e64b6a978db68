using System.Text.Json;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Recovery;

/// <summary>The stable exit codes of <c>walden check</c> and <c>walden recover</c>, run as a real child process.</summary>
public sealed class RecoveryCliTests
{
    [Fact]
    public async Task Check_ExitsZeroOneOrTwo_ForHealthyCorruptAndUncheckableFiles()
    {
        using var temp = new TempDirectory();
        var healthy = temp.File("healthy.db");
        DamagedDatabases.Create(healthy);
        var corrupt = temp.File("corrupt.db");
        File.Copy(healthy, corrupt);
        DamagedDatabases.Damage(corrupt, DamageKind.ZeroedPages);
        var text = temp.File("notes.txt");
        await File.WriteAllTextAsync(text, "not a database");

        var ok = await WaldenCli.RunAsync("check", healthy, "--full");
        var bad = await WaldenCli.RunAsync("check", corrupt, "--json");
        var notDb = await WaldenCli.RunAsync("check", text);
        var missing = await WaldenCli.RunAsync("check", temp.File("missing.db"));

        Assert.Equal(0, ok.ExitCode);
        Assert.Contains("healthy", ok.Stdout, StringComparison.Ordinal);
        Assert.Equal(1, bad.ExitCode);
        using (var json = JsonDocument.Parse(bad.Stdout))
        {
            Assert.Equal("corrupt", json.RootElement.GetProperty("status").GetString());
            Assert.True(json.RootElement.GetProperty("findings").GetArrayLength() > 0);
        }

        Assert.Equal(2, notDb.ExitCode);
        Assert.Contains("not an SQLite database", notDb.Stderr, StringComparison.Ordinal);
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("does not exist", missing.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Recover_WithOutputAndSchemaFrom_WritesAUsableDatabaseAndLeavesTheInputUntouched()
    {
        using var temp = new TempDirectory();
        var path = temp.File("app.db");
        var backup = temp.File("backup.db");
        DamagedDatabases.Create(path, backup);
        var original = DamagedDatabases.Rows(path);
        DamagedDatabases.Damage(path, DamageKind.SchemaPage);
        var before = await File.ReadAllBytesAsync(path);

        var result = await WaldenCli.RunAsync("recover", path, "--output", temp.File("out.db"), "--schema-from", backup, "--json");

        Assert.Equal(0, result.ExitCode);
        using (var json = JsonDocument.Parse(result.Stdout))
        {
            Assert.True(json.RootElement.GetProperty("report").GetProperty("usable").GetBoolean());
            Assert.Equal(original.Count, json.RootElement.GetProperty("rowsRecovered").GetInt64());
        }

        Assert.Equal(before, await File.ReadAllBytesAsync(path));
        Assert.Equal(original.Count, DamagedDatabases.Rows(temp.File("out.db")).Count(original.Contains));
        var again = await WaldenCli.RunAsync("recover", path, "--output", temp.File("out.db"));
        Assert.Equal(2, again.ExitCode); // never overwrites an existing file
        Assert.Contains("already exists", again.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Recover_InPlace_PrintsTheReportAndKeepsTheOriginal()
    {
        using var temp = new TempDirectory();
        var path = temp.File("app.db");
        DamagedDatabases.Create(path);
        DamagedDatabases.Damage(path, DamageKind.InteriorPages);

        var result = await WaldenCli.RunAsync("recover", path, "--in-place");

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("usable", result.Stdout, StringComparison.Ordinal);
        Assert.Contains("walden-quarantine", result.Stdout, StringComparison.Ordinal);
        Assert.Single(Directory.GetDirectories(temp.File("walden-quarantine")));
        Assert.Equal(0, (await WaldenCli.RunAsync("check", path, "--full")).ExitCode);
    }
}
