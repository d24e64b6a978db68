using Walden.Backup;
using Walden.Files;
using Walden.Recovery;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Files;

/// <summary>
/// From the last check until the rename is done, Walden holds SQLite's EXCLUSIVE lock on the old file: another
/// process that tries to write (or read) in the swap window gets SQLITE_BUSY instead of working on a file that is
/// about to go into quarantine.
/// </summary>
public sealed class SwapLockTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private string Database(bool wal)
    {
        var path = _dir.File("app.db");
        using var connection = Sql.OpenDirect(path);
        connection.Exec($"PRAGMA journal_mode={(wal ? "WAL" : "DELETE")}; CREATE TABLE t(a); INSERT INTO t VALUES ('old');");
        return path;
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Restore_HoldsSqlitesLockAcrossTheSwap_SoAnotherProcessCannotWriteToTheOldFileInTheWindow(bool wal)
    {
        var path = Database(wal);
        var backups = _dir.File("backups");
        var backup = await WaldenBackups.BackupAsync(path, backups);
        var attempts = new List<(bool Wrote, bool Read)>();
        void InTheWindow(string database)
        {
            if (database == path)
            {
                attempts.Add((ChildSqlite.CanInsert(path, "t", "slipped-in"), ChildSqlite.CanRead(path, "t")));
            }
        }

        SwapLock.Holding += InTheWindow;
        WaldenRestore restore;
        try
        {
            restore = await WaldenBackups.RestoreAsync(backup.Path, path);
        }
        finally
        {
            SwapLock.Holding -= InTheWindow;
        }

        Assert.Equal([(false, false)], attempts);
        using var kept = Sql.OpenDirect(Path.Combine(restore.Quarantine!.Folder, "app.db"), readOnly: true);
        Assert.Equal(0L, kept.Scalar<long>("SELECT count(*) FROM t WHERE a = 'slipped-in'"));
        Assert.True(ChildSqlite.CanInsert(path, "t", "after")); // the restored file is free once the swap is done
    }

    [Fact]
    public async Task RecoverInPlace_HoldsSqlitesLockAcrossTheSwap_SoAnotherProcessCannotWriteToTheOldFileInTheWindow()
    {
        var path = Database(wal: true);
        var wrote = new List<bool>();
        void InTheWindow(string database)
        {
            if (database == path)
            {
                wrote.Add(ChildSqlite.CanInsert(path, "t", "slipped-in"));
            }
        }

        SwapLock.Holding += InTheWindow;
        try
        {
            await WaldenRecovery.RecoverInPlaceAsync(path);
        }
        finally
        {
            SwapLock.Holding -= InTheWindow;
        }

        Assert.Equal([false], wrote);
        using var recovered = Sql.OpenDirect(path, readOnly: true);
        Assert.Equal("old", recovered.Scalar<string>("SELECT group_concat(a) FROM t"));
    }

    [Fact]
    public async Task RecoverInPlace_RefusesTheSwapAndChangesNothing_WhenTheDatabaseWasWrittenAfterRecoveryReadIt()
    {
        var path = Database(wal: false);
        var bytes = await File.ReadAllBytesAsync(path);
        void InTheWindow(string database)
        {
            if (database == path)
            {
                // A write by another program between the read and the swap, as its metadata shows it.
                File.SetLastWriteTimeUtc(path, File.GetLastWriteTimeUtc(path).AddSeconds(1));
            }
        }

        SwapLock.Holding += InTheWindow;
        try
        {
            var refused = await Assert.ThrowsAsync<WaldenDatabaseInUseException>(() => WaldenRecovery.RecoverInPlaceAsync(path));
            Assert.Contains("was written to after", refused.Message, StringComparison.Ordinal);
        }
        finally
        {
            SwapLock.Holding -= InTheWindow;
        }

        Assert.Equal(bytes, await File.ReadAllBytesAsync(path));
        Assert.False(Directory.Exists(_dir.File(Quarantine.FolderName)));
        Assert.Empty(Directory.GetFiles(_dir.Path, ".*walden-recovered*"));
    }
}
