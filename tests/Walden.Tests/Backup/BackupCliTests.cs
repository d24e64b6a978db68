using System.Text.Json;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Backup;

public sealed class BackupCliTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task BackupBackupsAndRestore_WorkOnADatabaseAnotherProcessIsUsing()
    {
        var path = _dir.File("app.db");
        var backups = _dir.File("backups");
        using var shell = new SqliteShell(path);
        await shell.RunAsync("PRAGMA journal_mode=WAL; CREATE TABLE t(a); INSERT INTO t VALUES ('one'), ('two'); BEGIN IMMEDIATE; INSERT INTO t VALUES ('uncommitted');");

        var backup = await WaldenCli.RunAsync("backup", path, backups, "--compress", "--json");
        Assert.True(backup.ExitCode == 0, backup.Stderr);
        using var manifest = JsonDocument.Parse(backup.Stdout);
        var backupPath = manifest.RootElement.GetProperty("path").GetString()!;
        Assert.EndsWith(".db.gz", backupPath, StringComparison.Ordinal);
        Assert.Equal(2, manifest.RootElement.GetProperty("backup").GetProperty("tableRows").GetProperty("t").GetInt64());

        var list = await WaldenCli.RunAsync("backups", backups, "--verify", "--json");
        Assert.True(list.ExitCode == 0, list.Stderr);
        using var listed = JsonDocument.Parse(list.Stdout);
        var entry = Assert.Single(listed.RootElement.GetProperty("backups").EnumerateArray());
        Assert.Equal("verified", entry.GetProperty("state").GetString());

        // The database is still open in the shell (with its write transaction): restore refuses and names the process.
        var refused = await WaldenCli.RunAsync("restore", backupPath, path);
        Assert.Equal(2, refused.ExitCode);
        Assert.Contains($"process {shell.ProcessId}", refused.Stderr, StringComparison.Ordinal);

        var restore = await WaldenCli.RunAsync("restore", backupPath, _dir.File("restored.db"), "--json");
        Assert.True(restore.ExitCode == 0, restore.Stderr);
        using var restored = Sql.OpenDirect(_dir.File("restored.db"));
        Assert.Equal(2, restored.Scalar<long>("SELECT count(*) FROM t"));
        Assert.Equal("wal", restored.Scalar<string>("PRAGMA journal_mode"));
    }

    [Fact]
    public async Task Restore_OfACopyWithoutManifest_FailsWithExitCode1AndSaysWhy()
    {
        var copy = _dir.File("app-20260101T000000Z.db");
        using (var connection = Sql.OpenDirect(copy))
        {
            connection.Exec("CREATE TABLE t(a)");
        }

        var result = await WaldenCli.RunAsync("restore", copy, _dir.File("new.db"));

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("no manifest", result.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(_dir.File("new.db")));
    }
}
