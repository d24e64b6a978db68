using System.Security.Cryptography;
using Walden.Backup;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Faults;

/// <summary>Backups and restores on a failing disk (the fault VFS): a typed error, and nothing left that passes for a good copy.</summary>
[Collection(nameof(FaultVfsCollection))]
public sealed class BackupFaultTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData("enospc=1")]
    [InlineData("eio_write=1")]
    [InlineData("eio_fsync=1")]
    [InlineData("seed=5;short_write=0.3")]
    [InlineData("eio_read=1")]
    public async Task BackupAsync_OnAFailingDisk_FailsTyped_AndLeavesNoCopyThatPassesForABackup(string faults)
    {
        using var disk = new FaultDisk(_dir.Path);
        var folder = Directory.CreateDirectory(_dir.File("backups")).FullName;
        var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"));
        await using (db)
        {
            await db.WriteAsync(c => c.Exec(Sql.LogTable));
            await db.WriteAsync(c => c.Exec(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000) " +
                "INSERT INTO log(producer, seq, body) SELECT 0, i, hex(randomblob(200)) FROM n"));

            disk.Set(faults);
            await Assert.ThrowsAnyAsync<WaldenException>(() => db.BackupAsync(folder));
            disk.Clear();
            Assert.DoesNotContain(WaldenBackups.List(folder), e => e.State == WaldenBackupState.Verified);
            // Nothing but the lock file of the owner and the fault VFS's own undo logs (a model of the page cache, not Walden's).
            var left = Directory.EnumerateFiles(folder).Where(f => !f.EndsWith(".owner", StringComparison.Ordinal) &&
                !f.EndsWith(".fault-undo", StringComparison.Ordinal)).ToList();
            Assert.True(left.Count == 0, "left behind: " + string.Join(", ", left.Select(Path.GetFileName)));

            // The disk is well again: the next backup is whole and verified.
            var backup = await db.BackupAsync(folder);
            Assert.Contains(WaldenBackups.List(folder), e => e.State == WaldenBackupState.Verified && e.Path == backup.Path);
        }
    }

    [Theory]
    [InlineData("eio_read=1")]
    [InlineData("seed=9;eio_read=0.5")]
    public async Task RestoreAsync_OnAFailingDisk_FailsTyped_AndLeavesTheDatabaseAsItWas(string faults)
    {
        var folder = Directory.CreateDirectory(_dir.File("backups")).FullName;
        var path = _dir.File("app.db");
        WaldenBackup backup;
        var db = await WaldenDatabase.OpenAsync(path);
        await using (db)
        {
            await db.WriteAsync(c => c.Exec(Sql.LogTable));
            await db.WriteAsync(c => Sql.Insert(c, 1, 1));
            backup = await db.BackupAsync(folder);
            await db.WriteAsync(c => Sql.Insert(c, 1, 2)); // the live database differs from the backup
        }

        var before = await File.ReadAllBytesAsync(path); // closed: nothing has it open
        using var disk = new FaultDisk(_dir.Path);
        disk.Set(faults);
        try
        {
            await WaldenBackups.RestoreAsync(backup.Path, path);
            Assert.Fail("The restore succeeded on a disk that fails every " + faults);
        }
        catch (WaldenException)
        {
            // typed, as it must be
        }

        disk.Clear();
        Assert.Equal(SHA256.HashData(before), SHA256.HashData(await File.ReadAllBytesAsync(path)));
        Assert.False(Directory.Exists(_dir.File("walden-quarantine")) && Directory.EnumerateFiles(_dir.File("walden-quarantine")).Any(),
            "a failed restore quarantined the original");
    }
}
