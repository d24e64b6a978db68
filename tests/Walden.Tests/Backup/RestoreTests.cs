using System.Text.Json.Nodes;
using Walden.Backup;
using Walden.Files;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Backup;

public sealed class RestoreTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private string Backups => _dir.File("backups");

    /// <summary>A verified backup of a WAL database holding one row, <paramref name="value"/>.</summary>
    private async Task<WaldenBackup> BackupOfAsync(string value, WaldenBackupCompression compression = WaldenBackupCompression.None)
    {
        var source = _dir.File($"source-{value}.db");
        await using var db = await WaldenDatabase.OpenAsync(source);
        await db.WriteAsync(c => c.Exec($"CREATE TABLE t(a); INSERT INTO t VALUES ('{value}');"));
        return await db.BackupAsync(Backups, new WaldenBackupOptions { Compression = compression });
    }

    /// <summary>A database whose last row lives only in its -wal, left by a program killed with SIGKILL.</summary>
    private async Task<string> ClosedDatabaseWithHotWalAsync(string value)
    {
        var path = _dir.File("app.db");
        var shell = new SqliteShell(path);
        await shell.RunAsync($"PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0; CREATE TABLE t(a); INSERT INTO t VALUES ('{value}');");
        shell.Kill();
        shell.Dispose();
        return path;
    }

    private void AssertNoLeftovers()
    {
        Assert.False(Directory.Exists(_dir.File(Quarantine.FolderName)));
        Assert.Empty(Directory.EnumerateFiles(_dir.Path, "*.partial"));
    }

    [Fact]
    public async Task RestoreAsync_OverAClosedDatabase_QuarantinesItWithItsWalAndPutsTheBackupInPlace()
    {
        var backup = await BackupOfAsync("from-backup");
        var path = await ClosedDatabaseWithHotWalAsync("old");
        var mode = OperatingSystem.IsWindows() ? default : File.GetUnixFileMode(path);

        var restore = await WaldenBackups.RestoreAsync(backup.Path, path);

        Assert.NotNull(restore.Quarantine);
        var kept = Path.Combine(restore.Quarantine.Folder, "app.db");
        Assert.True(File.Exists(kept) && File.Exists(kept + "-wal"));
        using (var old = Sql.OpenDirect(kept))
        {
            Assert.Equal("old", old.Scalar<string>("SELECT a FROM t")); // the row that lived only in the old WAL is kept
        }

        Assert.False(File.Exists(path + "-wal") && new FileInfo(path + "-wal").Length > 0);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(mode, File.GetUnixFileMode(path)); // the restored file keeps the permissions of the one it replaced
        }

        await using var db = await WaldenDatabase.OpenAsync(path);
        Assert.Equal("from-backup", await db.ReadAsync(c => c.Scalar<string>("SELECT a FROM t")));
        Assert.Empty(Directory.EnumerateFiles(_dir.Path, "*.partial"));
    }

    [Fact]
    public async Task RestoreAsync_OverADatabaseAnotherProcessHasOpen_RefusesAndChangesNothing()
    {
        var backup = await BackupOfAsync("from-backup");
        var path = _dir.File("app.db");
        using var shell = new SqliteShell(path);
        await shell.RunAsync("PRAGMA journal_mode=WAL; CREATE TABLE t(a); INSERT INTO t VALUES ('live');");

        var refused = await Assert.ThrowsAsync<WaldenDatabaseInUseException>(() => WaldenBackups.RestoreAsync(backup.Path, path));

        Assert.Equal(shell.ProcessId, refused.ProcessId);
        Assert.Equal("live", (await shell.RunAsync("SELECT a FROM t;")).Trim());
        AssertNoLeftovers();
    }

    [Fact]
    public async Task RestoreAsync_OverARollbackJournalDatabaseAnIdleConnectionOfAnotherProcessHasOpen_RefusesAndChangesNothing()
    {
        // An idle connection in rollback-journal mode holds no lock at all: only its open descriptor shows it.
        var backup = await BackupOfAsync("from-backup");
        var path = _dir.File("app.db");
        using var shell = new SqliteShell(path);
        await shell.RunAsync("PRAGMA journal_mode=DELETE; CREATE TABLE t(a); INSERT INTO t VALUES ('live'); SELECT count(*) FROM t;");

        var refused = await Assert.ThrowsAsync<WaldenDatabaseInUseException>(() => WaldenBackups.RestoreAsync(backup.Path, path));

        Assert.Equal(shell.ProcessId, refused.ProcessId);
        Assert.Contains("sqlite3", refused.Message, StringComparison.Ordinal); // names the command
        Assert.Equal("1", (await shell.RunAsync("INSERT INTO t VALUES ('after'); SELECT count(*) FROM t WHERE a = 'live';")).Trim());
        AssertNoLeftovers();
    }

    [Fact]
    public async Task RestoreAsync_OverADatabaseOpenInThisProcess_RefusesAndChangesNothing()
    {
        var backup = await BackupOfAsync("from-backup");
        var path = _dir.File("app.db");
        await using var db = await WaldenDatabase.OpenAsync(path);
        await db.WriteAsync(c => c.Exec("CREATE TABLE t(a); INSERT INTO t VALUES ('live');"));

        var refused = await Assert.ThrowsAsync<WaldenDatabaseInUseException>(() => WaldenBackups.RestoreAsync(backup.Path, path));

        Assert.Equal(0, refused.ProcessId);
        Assert.Equal("live", await db.ReadAsync(c => c.Scalar<string>("SELECT a FROM t")));
        AssertNoLeftovers();
    }

    [Theory]
    [InlineData(WaldenBackupCompression.None)]
    [InlineData(WaldenBackupCompression.GZip)]
    public async Task ACorruptedBackup_IsDetectedAsDamaged_AndRestoreNeverUsesIt(WaldenBackupCompression compression)
    {
        var backup = await BackupOfAsync("from-backup", compression);
        var path = await ClosedDatabaseWithHotWalAsync("old");
        FlipBytes(backup.Path, offset: new FileInfo(backup.Path).Length / 2);

        var verified = await WaldenBackups.VerifyAsync(backup.Path);
        var refused = await Assert.ThrowsAsync<WaldenBackupRejectedException>(() => WaldenBackups.RestoreAsync(backup.Path, path));

        Assert.Equal(WaldenBackupState.Damaged, verified.State);
        Assert.Contains("SHA-256", verified.Problem, StringComparison.Ordinal);
        Assert.Equal(WaldenBackupState.Damaged, refused.Entry.State);
        Assert.True(File.Exists(path + "-wal")); // the database was not touched, its WAL neither
        using (var old = Sql.OpenDirect(path))
        {
            Assert.Equal("old", old.Scalar<string>("SELECT a FROM t"));
        }

        AssertNoLeftovers();
    }

    [Fact]
    public async Task ACorruptedBackupWhoseManifestWasForgedToMatch_StillFailsItsIntegrityCheck()
    {
        var backup = await BackupOfAsync("from-backup");
        FlipBytes(backup.Path, offset: backup.PageSize); // page 2 (table t's root): its b-tree header is now garbage
        var manifestPath = backup.Path + ".json";
        var manifest = JsonNode.Parse(await File.ReadAllTextAsync(manifestPath))!;
        var sha = Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(await File.ReadAllBytesAsync(backup.Path)));
        manifest["storedSha256"] = sha;
        manifest["databaseSha256"] = sha;
        await File.WriteAllTextAsync(manifestPath, manifest.ToJsonString());

        var verified = await WaldenBackups.VerifyAsync(backup.Path);
        var refused = await Assert.ThrowsAsync<WaldenBackupRejectedException>(() => WaldenBackups.RestoreAsync(backup.Path, _dir.File("new.db")));

        Assert.Equal(WaldenBackupState.Damaged, verified.State);
        Assert.Equal(WaldenBackupState.Damaged, refused.Entry.State);
        Assert.False(File.Exists(_dir.File("new.db")));
    }

    [Fact]
    public async Task ACopyWithoutManifest_IsUnverified_AndRestoreRefusesIt()
    {
        var backup = await BackupOfAsync("from-backup");
        File.Delete(backup.Path + ".json"); // as if the process died before the manifest was written

        var listed = Assert.Single(WaldenBackups.List(Backups));
        var refused = await Assert.ThrowsAsync<WaldenBackupRejectedException>(() => WaldenBackups.RestoreAsync(backup.Path, _dir.File("new.db")));

        Assert.Equal(WaldenBackupState.Unverified, listed.State);
        Assert.Equal(WaldenBackupState.Unverified, refused.Entry.State);
        Assert.Contains("no manifest", refused.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(_dir.File("new.db")));
    }

    private static void FlipBytes(string path, long offset)
    {
        using var file = new FileStream(path, FileMode.Open, FileAccess.ReadWrite);
        var bytes = new byte[16];
        file.Position = offset;
        file.ReadExactly(bytes);
        for (var i = 0; i < bytes.Length; i++)
        {
            bytes[i] ^= 0xFF;
        }

        file.Position = offset;
        file.Write(bytes);
    }
}
