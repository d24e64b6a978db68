using Walden.Tests.TestSupport;

namespace Walden.Tests.Cli;

/// <summary>
/// A backup folder named like a database's -wal, -shm or -journal ('walden backup app.db app.db-wal') is refused before anything
/// is created: a folder by that name makes SQLite fail to open the database ('disk I/O error') for every program. And a backup
/// that fails leaves no empty folder it created itself. Found by a breaker: the folder was created, the backup failed, the folder
/// stayed, and the application could no longer open its database.
/// </summary>
public sealed class BackupFolderNameTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    public static TheoryData<string> Companions => new() { "-wal", "-shm", "-journal" };

    [Theory]
    [MemberData(nameof(Companions))]
    public async Task Backup_IntoAFolderNamedLikeTheDatabasesCompanion_IsRefused_CreatesNothing_AndTheDatabaseStillOpens(string suffix)
    {
        var database = _dir.File("app.db");
        using (var connection = Sql.OpenDirect(database))
        {
            connection.Exec("PRAGMA journal_mode=WAL; CREATE TABLE t(a); INSERT INTO t VALUES (1)");
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        var before = Directory.GetFileSystemEntries(_dir.Path).Order(StringComparer.Ordinal).ToList();

        var (exit, stdout, stderr) = await WaldenCli.RunAsync("backup", database, database + suffix);

        Assert.True(exit == 2, stdout + stderr);
        Assert.Contains($"The backup folder '{database}{suffix}' is named like the", stderr, StringComparison.Ordinal);
        Assert.Contains("Nothing was created or changed", stderr, StringComparison.Ordinal);
        Assert.Equal(before, Directory.GetFileSystemEntries(_dir.Path).Order(StringComparer.Ordinal).ToList());
        using (var connection = Sql.OpenDirect(database))
        {
            connection.Exec("INSERT INTO t VALUES (2)"); // the application can still open and write it
        }
    }

    [Fact]
    public async Task AFailedBackup_RemovesTheEmptyFolderItCreated_ButKeepsAnExistingOne()
    {
        var created = _dir.File("new-backups");
        var existing = Directory.CreateDirectory(_dir.File("old-backups")).FullName;

        var intoNew = await WaldenCli.RunAsync("backup", _dir.File("missing.db"), created);
        var intoExisting = await WaldenCli.RunAsync("backup", _dir.File("missing.db"), existing);

        Assert.True(intoNew.ExitCode == 2, intoNew.Stdout + intoNew.Stderr);
        Assert.True(intoExisting.ExitCode == 2, intoExisting.Stdout + intoExisting.Stderr);
        Assert.False(Directory.Exists(created), "the failed backup left the empty folder it created");
        Assert.True(Directory.Exists(existing));
    }
}
