using Microsoft.Data.Sqlite;
using Walden.Backup;
using Walden.Files;
using Walden.Integrity;
using Walden.Recovery;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Files;

/// <summary>
/// Walden never drops this process's SQLite locks: no entry point opens (and so closes) a descriptor on a database,
/// -wal or -shm that a connection of this process holds, even a plain SqliteConnection Walden knows nothing about.
/// </summary>
public sealed class OwnLocksTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    public static TheoryData<string, bool> Databases => new()
    {
        { "CheckFile", true }, { "CheckFile", false },
        { "FindHolder", true }, { "FindHolder", false },
        { "Restore", true }, { "Restore", false },
        { "RecoverTo", true }, { "RecoverTo", false },
        { "RecoverInPlace", true }, { "RecoverInPlace", false },
        { "Backup", true }, { "Backup", false },
    };

    [Theory]
    [MemberData(nameof(Databases))]
    public async Task EveryEntryPoint_KeepsTheLocksOfAPlainSqliteConnectionOfThisProcess(string entryPoint, bool wal)
    {
        var path = _dir.File("app.db");
        using (var setup = Sql.OpenDirect(path))
        {
            setup.Exec($"PRAGMA journal_mode={(wal ? "WAL" : "DELETE")}; CREATE TABLE t(a); INSERT INTO t VALUES ('kept');");
        }

        var backups = _dir.File("backups");
        var backup = entryPoint == "Restore" ? (await WaldenBackups.BackupAsync(path, backups)).Path : null;

        using var application = Sql.OpenDirect(path);
        using var read = application.BeginTransaction(deferred: true);
        Assert.Equal("kept", application.Scalar<string>("SELECT a FROM t"));
        Assert.False(ChildSqlite.CanTakeExclusive(path)); // the read transaction's locks keep the other process out

        try
        {
            switch (entryPoint)
            {
                case "CheckFile":
                    Assert.Equal(WaldenFileStatus.Healthy, WaldenIntegrity.CheckFile(path).Status);
                    break;
                case "FindHolder":
                    Assert.Equal(0, LockProbe.FindHolder(path)!.ProcessId);
                    break;
                case "Restore":
                    await Assert.ThrowsAsync<WaldenDatabaseInUseException>(() => WaldenBackups.RestoreAsync(backup!, path));
                    break;
                case "RecoverTo":
                    await Assert.ThrowsAsync<WaldenDatabaseInUseException>(() => WaldenRecovery.RecoverToAsync(path, _dir.File("out.db")));
                    break;
                case "RecoverInPlace":
                    await Assert.ThrowsAsync<WaldenDatabaseInUseException>(() => WaldenRecovery.RecoverInPlaceAsync(path));
                    break;
                default:
                    await WaldenBackups.BackupAsync(path, backups);
                    break;
            }
        }
        catch (WaldenException ex) when (entryPoint == "Backup")
        {
            Assert.Fail($"The backup of a file in use should work: {ex.Message}");
        }

        Assert.False(ChildSqlite.CanTakeExclusive(path), $"{entryPoint} dropped this process's SQLite locks on '{path}'");
        read.Rollback();
    }

    [Fact]
    public async Task OpenDatabases_IsKeyedByTheFile_SoAnotherNameOfTheSameFileIsRecognised()
    {
        var path = _dir.File("app.db");
        var link = _dir.File("link.db");
        await using var db = await WaldenDatabase.OpenAsync(path);
        File.CreateSymbolicLink(link, path);

        Assert.True(OpenDatabases.Contains(link));
        Assert.Throws<WaldenDatabaseInUseException>(() => LockProbe.EnsureNotInUse(link, "Restoring"));
    }
}
