using Walden.Backup;
using Walden.Files;
using Walden.Tests.Recovery;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Files;

/// <summary>
/// What a killed `walden backup` or `walden recover` leaves (a .partial, a temp work folder) is removed by the next
/// run, and only once no living process owns it.
/// </summary>
public sealed class LeftoverTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private string Source()
    {
        var path = _dir.File("app.db");
        using var connection = Sql.OpenDirect(path);
        connection.Exec("PRAGMA journal_mode=WAL; CREATE TABLE t(a); INSERT INTO t VALUES ('row');");
        return path;
    }

    [Fact]
    public async Task AKilledBackupsPartial_IsRemovedByTheNextBackup()
    {
        var path = Source();
        var backups = _dir.File("backups");
        await WaldenCli.KillAtAsync("backup-partial", new Dictionary<string, string>(), "backup", path, backups);
        Assert.Single(Directory.GetFiles(backups, "*.partial")); // the SIGKILLed run left its copy

        await WaldenBackups.BackupAsync(path, backups);

        Assert.Empty(Directory.GetFiles(backups, "*.partial"));
        Assert.Empty(Directory.GetFiles(backups, "*" + OwnerLock.Suffix));
        Assert.Equal(WaldenBackupState.Verified, Assert.Single(WaldenBackups.List(backups)).State);
    }

    [Fact]
    public async Task APartialOfABackupStillRunning_IsLeftAlone()
    {
        var path = Source();
        var backups = Directory.CreateDirectory(_dir.File("backups")).FullName;
        var running = Path.Combine(backups, "app-20260101T000000Z.db");
        using (OwnerLock.Claim(running))
        {
            await File.WriteAllTextAsync(running + ".partial", "a copy in progress");

            await WaldenBackups.BackupAsync(path, backups);

            Assert.True(File.Exists(running + ".partial"));
        }
    }

    [Fact]
    public async Task AKilledRecoverysTempWorkFolder_IsRemovedByTheNextRecovery()
    {
        var damaged = _dir.File("bad.db");
        DamagedDatabases.Create(damaged);
        DamagedDatabases.Damage(damaged, DamageKind.Header); // every page size is tried, in the temp work folder
        var temp = Directory.CreateDirectory(_dir.File("tmp")).FullName;
        var environment = new Dictionary<string, string> { ["TMPDIR"] = temp };
        await WaldenCli.KillAtAsync("recover-work", environment, "recover", damaged, "--output", _dir.File("out.db"));
        Assert.Single(Directory.GetDirectories(temp, "walden-recover-*")); // the SIGKILLed run left its work folder

        var (exitCode, _, stderr) = await WaldenCli.RunAsync(environment, "recover", damaged, "--output", _dir.File("out2.db"));

        Assert.True(exitCode is 0 or 2, stderr);
        Assert.Empty(Directory.GetFileSystemEntries(temp, "walden-recover-*"));
        Assert.False(File.Exists(_dir.File("out.db.walden-partial")));
        Assert.Empty(Directory.GetFiles(_dir.Path, "*" + OwnerLock.Suffix));
    }
}
