using System.Text.Json;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Cli;

/// <summary>
/// <c>walden restore X out.db</c> where X is neither a backup nor an archive says what X is and names both forms the
/// command takes (a backup file with its .json manifest, an archive folder or s3:// URL), exits 2 (nothing can be restored
/// from that input) and writes nothing. Found by a newcomer: a text file, an app's database or a missing path were spoken
/// of as backups alone ("the backup ... has no manifest", exit 1), an empty folder as an archive alone.
/// </summary>
public sealed class RestoreInputTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    public static TheoryData<string> Kinds =>
        ["a text file", "an SQLite database", "a running app's WAL database", "an empty file", "an empty folder", "a folder of other files",
            "a missing path", "a path under a file"];

    /// <summary>The path for <paramref name="kind"/>, what the message must say it is, and what holds it open (an app).</summary>
    private (string Path, string Said, IDisposable? App) Make(string kind)
    {
        switch (kind)
        {
            case "a text file":
                File.WriteAllText(_dir.File("notes.txt"), "remember the milk");
                return (_dir.File("notes.txt"), "is neither a backup nor an archive: it is a file with no SQLite header", null);
            case "an SQLite database":
                using (var connection = Sql.OpenDirect(_dir.File("app.db")))
                {
                    connection.Exec("CREATE TABLE t(a); INSERT INTO t VALUES (1)");
                }

                return (_dir.File("app.db"), "is an SQLite database, not a backup", null);
            case "a running app's WAL database":
                var app = Sql.OpenDirect(_dir.File("app.sqlite3"));
                app.Exec("PRAGMA journal_mode=WAL; CREATE TABLE t(a); INSERT INTO t VALUES (1)");
                return (_dir.File("app.sqlite3"), "is an SQLite database, not a backup", app);
            case "an empty file":
                File.WriteAllBytes(_dir.File("empty.db"), []);
                return (_dir.File("empty.db"), "is an empty file", null);
            case "an empty folder":
                Directory.CreateDirectory(_dir.File("folder"));
                return (_dir.File("folder"), "is an empty folder", null);
            case "a folder of other files":
                Directory.CreateDirectory(_dir.File("folder/sub"));
                File.WriteAllText(_dir.File("folder/readme.md"), "hello");
                return (_dir.File("folder"), "holds neither an archive", null);
            case "a missing path":
                return (_dir.File("nope"), "does not exist", null);
            default:
                File.WriteAllText(_dir.File("notes.txt"), "remember the milk");
                return (Path.Combine(_dir.File("notes.txt"), "backup.db"), "on its path is a file", null);
        }
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task Restore_OfAPathThatIsNeitherABackupNorAnArchive_SaysWhatItIs_NamesBothForms_Exits2_AndWritesNothing(string kind)
    {
        var (path, said, app) = Make(kind);
        using (app)
        {
            var (exitCode, stdout, stderr) = await WaldenCli.RunAsync("restore", path, _dir.File("out.db"));

            Assert.True(exitCode == 2, $"exit {exitCode}: {stdout} {stderr}");
            Assert.Single(stderr.Trim().Split('\n'));
            Assert.Contains(said, stderr, StringComparison.Ordinal);
            Assert.Contains("a backup file with its .json manifest beside it", stderr, StringComparison.Ordinal);
            Assert.Contains("an archive: its folder, or s3://bucket/prefix", stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("never verified", stderr, StringComparison.Ordinal);
            WaldenCli.AssertNoRepeatedSentence(stderr);
            Assert.Empty(Directory.EnumerateFileSystemEntries(_dir.Path, "out.db*"));
        }
    }

    [Fact]
    public async Task Restore_OfAnSQLiteDatabase_WithJson_IsOneErrorDocument_WithExitCode2()
    {
        var (path, said, _) = Make("an SQLite database");

        var (exitCode, stdout, _) = await WaldenCli.RunAsync("restore", path, _dir.File("out.db"), "--json");

        Assert.Equal(2, exitCode);
        using var json = JsonDocument.Parse(stdout);
        Assert.Contains(said, json.RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal(2, json.RootElement.GetProperty("exitCode").GetInt32());
    }
}
