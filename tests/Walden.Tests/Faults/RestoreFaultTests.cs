using System.Security.Cryptography;
using Microsoft.Data.Sqlite;
using Walden.Backup;
using Walden.Tests.TestSupport;
using Xunit.Abstractions;

namespace Walden.Tests.Faults;

/// <summary>
/// Restores onto a failing disk: a full disk while the backup is written out beside the target, and an fsync of the restored
/// file that returns EIO. The restore fails typed, the database it was to replace stays byte for byte as it was (and is not
/// quarantined), and no half-written file is left beside it.
/// </summary>
public sealed class RestoreFaultTests(ITestOutputHelper output) : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task RestoreAsync_OntoAFullDisk_FailsTyped_LeavesTheDatabaseAsItWas_AndNoPartialFile()
    {
        using var mount = SmallMount.TryCreate(8, out var reason);
        if (mount is null)
        {
            output.WriteLine(reason);
            return;
        }

        var backup = await BackupOfAboutAsync(megabytes: 4);
        var target = mount.File("app.db");
        await CreateTargetAsync(target);
        var before = SHA256.HashData(await File.ReadAllBytesAsync(target));
        mount.Fill(bytesLeft: 1 << 20); // room for a megabyte, not for the 4 MB database

        var error = await Assert.ThrowsAsync<WaldenDiskFullException>(() => WaldenBackups.RestoreAsync(backup, target));

        Assert.Contains(mount.Path, error.Message, StringComparison.Ordinal);
        AssertUntouched(mount.Path, target, before);
    }

    [Fact]
    public async Task Restore_WhenTheFsyncOfTheRestoredFileFails_ExitsTwoNamingIt_AndLeavesTheDatabaseAsItWas()
    {
        var (library, backup, folder, target) = await FsyncFaultSceneAsync();
        await CreateTargetAsync(target);
        var before = SHA256.HashData(await File.ReadAllBytesAsync(target));

        // The restored file is written beside the target as app.db.restore-<time>-<id>.partial: its fsync fails.
        var result = await WaldenCli.RunAsync(FailingFsync.Environment(library, "app.db.restore-"), "restore", backup, target);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("I/O error", result.Stderr, StringComparison.Ordinal);
        Assert.Contains(target, result.Stderr, StringComparison.Ordinal);
        AssertUntouched(folder, target, before);
    }

    [Fact]
    public async Task Restore_WhenTheFsyncOfTheQuarantineFails_PutsTheDatabaseAndItsWalBack_AndExitsTwo()
    {
        var (library, backup, folder, target) = await FsyncFaultSceneAsync();
        await ForeignProgram.RunPythonAsync(
            "import sqlite3, os, sys\n" +
            "c = sqlite3.connect(sys.argv[1]); c.execute('PRAGMA journal_mode=WAL'); c.execute('PRAGMA wal_autocheckpoint=0')\n" +
            "c.execute('CREATE TABLE kept(a)'); c.execute('INSERT INTO kept VALUES (1)'); c.commit(); os._exit(0)", target);
        Assert.True(new FileInfo(target + "-wal").Length > 0, "the test needs a database whose last commit is only in its -wal");
        var before = SHA256.HashData(await File.ReadAllBytesAsync(target));
        var walBefore = SHA256.HashData(await File.ReadAllBytesAsync(target + "-wal"));

        var result = await WaldenCli.RunAsync(
            FailingFsync.Environment(library, "/walden-quarantine/", foldersOnly: true), "restore", backup, target);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("I/O error", result.Stderr, StringComparison.Ordinal);
        Assert.Equal(walBefore, SHA256.HashData(await File.ReadAllBytesAsync(target + "-wal")));
        AssertUntouched(folder, target, before);
    }

    [Fact]
    public async Task Restore_WhenTheFsyncOfTheFolderFailsAfterTheSwap_SaysTheSwapMayNotBeDurable_AndExitsTwo()
    {
        var (library, backup, folder, target) = await FsyncFaultSceneAsync();
        await CreateTargetAsync(target);

        // The fsync of the folder itself (after the rename) fails, not that of its quarantine.
        var environment = FailingFsync.Environment(library, folder, foldersOnly: true, exact: true);
        var result = await WaldenCli.RunAsync(environment, "restore", backup, target);

        Assert.Equal(2, result.ExitCode);
        Assert.Contains("was replaced, but the disk failed to make the swap durable", result.Stderr, StringComparison.Ordinal);
        Assert.Contains("walden-quarantine", result.Stderr, StringComparison.Ordinal);
    }

    /// <summary>The fsync-failing library, a backup of about 1 MB, and the target's folder and path (the target not yet made).</summary>
    private async Task<(string Library, string Backup, string Folder, string Target)> FsyncFaultSceneAsync()
    {
        var library = await FailingFsync.BuildAsync(_dir.Path);
        var backup = await BackupOfAboutAsync(megabytes: 1);
        var folder = Directory.CreateDirectory(_dir.File("live")).FullName;
        return (library, backup, folder, Path.Combine(folder, "app.db"));
    }

    private async Task<string> BackupOfAboutAsync(int megabytes)
    {
        var source = _dir.File("source.db");
        var folder = Directory.CreateDirectory(_dir.File("backups")).FullName;
        var db = await WaldenDatabase.OpenAsync(source);
        await using (db)
        {
            await db.WriteAsync(c => c.Exec(Sql.LogTable));
            await db.WriteAsync(c => c.Exec(
                $"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {megabytes * 2500}) " +
                "INSERT INTO log(producer, seq, body) SELECT 0, i, hex(randomblob(200)) FROM n"));
            return (await db.BackupAsync(folder)).Path;
        }
    }

    private static async Task CreateTargetAsync(string path)
    {
        var db = await WaldenDatabase.OpenAsync(path);
        await using (db)
        {
            await db.WriteAsync(c => c.Exec(Sql.LogTable));
            await db.WriteAsync(c => Sql.Insert(c, 9, 1));
        }

        SqliteConnection.ClearAllPools();
    }

    private static void AssertUntouched(string folder, string target, byte[] before)
    {
        Assert.Equal(before, SHA256.HashData(File.ReadAllBytes(target)));
        string[] expected = ["app.db", "app.db-wal", "app.db-shm", "filler.bin"];
        var left = Directory.EnumerateFiles(folder).Select(Path.GetFileName)
            .Where(f => !expected.Contains(f) && !f!.EndsWith(".walden-lock", StringComparison.Ordinal)).ToList();
        Assert.True(left.Count == 0, "left behind: " + string.Join(", ", left));
        Assert.False(Directory.Exists(Path.Combine(folder, "walden-quarantine")), "a failed restore quarantined the database");
    }
}
