using System.Text.Json;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Cli;

/// <summary>
/// A -wal, -shm or -journal passed where a command wants the database (a shell's completion stops there): every command
/// refuses it as bad usage (exit 2), names the database to pass, and creates or changes nothing (SQLite would open the
/// companion as a database of its own, call it corrupt, and create 'app.db-shm-journal' beside it).
/// </summary>
public sealed class CompanionPathTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    public static TheoryData<string> Companions => new() { "-wal", "-shm", "-journal" };

    [Theory]
    [MemberData(nameof(Companions))]
    public async Task EveryCommand_GivenACompanionForTheDatabase_RefusesItAsBadUsage_NamesTheDatabase_AndTouchesNothing(string suffix)
    {
        var database = _dir.File("app.db");
        using (var connection = Sql.OpenDirect(database))
        {
            connection.Exec("CREATE TABLE t(a); INSERT INTO t VALUES (1)");
        }

        var companion = database + suffix;
        await File.WriteAllBytesAsync(companion, new byte[4096 * 3 + 17]); // what a -wal, -shm or cut-off journal may hold
        var backups = _dir.File("backups");
        var before = Snapshot();
        var runs = new[]
        {
            new[] { "check", companion }, ["check", companion, "--full"], ["info", companion], ["stats", companion],
            ["checkpoint", companion], ["doctor", companion], ["backup", companion, backups], ["recover", companion, "--output", _dir.File("out.db")],
            ["recover", database, "--output", companion], ["restore", _dir.File("any-20260101T000000Z.db"), companion],
            ["demo", "--db", companion, "--seconds", "1"], ["soak", "--db", companion],
        };

        foreach (var arguments in runs)
        {
            var (exit, stdout, stderr) = await WaldenCli.RunAsync([.. arguments, "--json"]);

            var what = string.Join(' ', arguments);
            Assert.True(exit == 2, $"{what}: exit {exit}: {stdout} {stderr}");
            Assert.Contains($"of the database '{database}'", stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("corrupt", stderr + stdout, StringComparison.OrdinalIgnoreCase);
            using var document = JsonDocument.Parse(stdout);
            Assert.Equal(2, document.RootElement.GetProperty("exitCode").GetInt32());
            Assert.Equal(before, Snapshot());
        }
    }

    [Fact]
    public async Task Check_OfACompanionWhoseDatabaseIsGone_SaysSo_WhileADatabaseMerelyNamedSoIsChecked()
    {
        var orphan = _dir.File("gone.db-wal");
        await File.WriteAllBytesAsync(orphan, new byte[4096 + 32]);
        var named = _dir.File("other.db-wal");
        using (var connection = Sql.OpenDirect(named))
        {
            connection.Exec("CREATE TABLE t(a)");
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        var refused = await WaldenCli.RunAsync("check", orphan);
        var checkedOne = await WaldenCli.RunAsync("check", named);

        Assert.True(refused.ExitCode == 2, refused.Stdout + refused.Stderr);
        Assert.Contains($"of the database '{_dir.File("gone.db")}', which does not exist", refused.Stderr, StringComparison.Ordinal);
        Assert.True(checkedOne.ExitCode == 0, checkedOne.Stdout + checkedOne.Stderr);
        Assert.Contains("healthy", checkedOne.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_OfASymbolicLinkToACompanion_RefusesItAsTheCompanionItIs()
    {
        var database = _dir.File("real.db");
        using (var connection = Sql.OpenDirect(database))
        {
            connection.Exec("CREATE TABLE t(a)");
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        await File.WriteAllBytesAsync(database + "-wal", new byte[4096 + 32]);
        var link = _dir.File("link.db");
        File.CreateSymbolicLink(link, database + "-wal");
        var before = Snapshot();

        var (exit, stdout, stderr) = await WaldenCli.RunAsync("check", link);

        Assert.True(exit == 2, stdout + stderr);
        Assert.Contains($"'{link}' is a symbolic link to '{database}-wal'", stderr, StringComparison.Ordinal);
        Assert.Contains($"Pass the database itself: '{database}'", stderr, StringComparison.Ordinal);
        Assert.Equal(before, Snapshot());
    }

    [Fact]
    public async Task CommandsThatCreateADatabase_RefuseANameOfACompanion_EvenWithoutItsDatabase()
    {
        var database = _dir.File("app.db");
        using (var connection = Sql.OpenDirect(database))
        {
            connection.Exec("CREATE TABLE t(a)");
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        var before = Snapshot();

        foreach (var arguments in new[]
        {
            new[] { "recover", database, "--output", _dir.File("new.db-wal") }, ["demo", "--db", _dir.File("new.db-journal")],
            // beside an existing database: "pass the database itself" would name a file that exists, not a new output
            ["recover", database, "--output", database + "-shm"], ["restore", _dir.File("any-20260101T000000Z.db"), database + "-wal"],
        })
        {
            var (exit, stdout, stderr) = await WaldenCli.RunAsync(arguments);

            Assert.True(exit == 2, $"{string.Join(' ', arguments)}: exit {exit}: {stdout} {stderr}");
            Assert.Contains("Choose a name that does not end in -wal, -shm or -journal", stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("Pass the database itself", stderr, StringComparison.Ordinal);
            Assert.Equal(before, Snapshot());
        }
    }

    private string Snapshot() => string.Join("\n", Directory.EnumerateFileSystemEntries(_dir.Path, "*", SearchOption.AllDirectories)
        .Order(StringComparer.Ordinal)
        .Select(path => File.Exists(path) ? $"{path} {new FileInfo(path).Length} {File.GetLastWriteTimeUtc(path).Ticks} {Hash(path)}" : path));

    private static string Hash(string path) => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(path)));
}
