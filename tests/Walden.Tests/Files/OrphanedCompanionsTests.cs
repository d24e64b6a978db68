using System.Security.Cryptography;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Files;

/// <summary>
/// A -wal or hot journal left without its database (a killed writer whose database file was then removed, moved or
/// emptied) is never lost to an open: SQLite deletes such a file when the path is opened, so Walden refuses, names it,
/// and the committed rows come back once the database file is put back.
/// </summary>
public sealed class OrphanedCompanionsTests : IDisposable
{
    // A Python program in WAL mode with checkpoints off, killed after 800 commits: every row is in the -wal only.
    private const string KilledWalWriter = """
        import os, sqlite3, sys
        c = sqlite3.connect(sys.argv[1], isolation_level=None)
        c.execute('PRAGMA journal_mode=WAL'); c.execute('PRAGMA wal_autocheckpoint=0')
        c.execute('CREATE TABLE t(id INTEGER PRIMARY KEY, body TEXT)')
        for i in range(800):
            c.execute('INSERT INTO t(body) VALUES (?)', ('row %d' % i,))
        os._exit(0)
        """;

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task OpeningAMissingDatabase_BesideTheWalOfAKilledWriter_IsRefused_AndPuttingTheFileBackKeepsEveryRow()
    {
        var path = _dir.File("app.db");
        await ForeignProgram.PythonAsync(KilledWalWriter, path);
        File.Move(path, path + ".moved"); // the database is moved away; its -wal stays
        var wal = Hash(path + "-wal");

        var refused = await Assert.ThrowsAsync<WaldenConfigurationException>(() => WaldenDatabase.OpenAsync(path));
        Assert.Contains(path + "-wal", refused.Message, StringComparison.Ordinal);
        Assert.Contains("nothing was opened or changed", refused.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<WaldenConfigurationException>(() => WaldenDatabase.OpenReadOnlyAsync(path));
        Assert.False(File.Exists(path)); // no new, empty database was created
        Assert.Equal(wal, Hash(path + "-wal"));

        File.Move(path + ".moved", path);
        await using var db = await WaldenDatabase.OpenAsync(path);
        Assert.Equal(800L, await db.ReadAsync(c => c.Scalar<long>("SELECT count(*) FROM t")));
    }

    [Theory]
    [InlineData("engine")]
    [InlineData("read-only engine")]
    [InlineData("check")]
    [InlineData("info")]
    [InlineData("stats")]
    [InlineData("checkpoint")]
    [InlineData("backup")]
    [InlineData("recover")]
    [InlineData("doctor")]
    public async Task AnEmptiedDatabaseBesideItsWal_IsNotOpened_SoSqliteDoesNotDeleteTheWal(string by)
    {
        var path = _dir.File("app.db");
        await ForeignProgram.PythonAsync(KilledWalWriter, path);
        File.Move(path, path + ".kept");
        File.WriteAllBytes(path, []); // emptied, as `> app.db` or a failed copy over it leaves it
        var wal = Hash(path + "-wal");

        switch (by)
        {
            case "engine":
                await Assert.ThrowsAsync<WaldenConfigurationException>(() => WaldenDatabase.OpenAsync(path));
                break;
            case "read-only engine":
                await Assert.ThrowsAsync<WaldenConfigurationException>(() => WaldenDatabase.OpenReadOnlyAsync(path));
                break;
            default:
                var arguments = by switch
                {
                    "backup" => new[] { "backup", path, Directory.CreateDirectory(_dir.File("backups")).FullName },
                    "recover" => ["recover", path, "--output", _dir.File("recovered.db")],
                    _ => [by, path],
                };
                var (exitCode, stdout, stderr) = await WaldenCli.RunAsync(arguments);
                Assert.NotEqual(0, exitCode);
                Assert.Contains("-wal", stdout + stderr, StringComparison.Ordinal);
                break;
        }

        Assert.Equal(wal, Hash(path + "-wal")); // still there, byte for byte
        Assert.Equal(0, new FileInfo(path).Length);
        File.Move(path + ".kept", path, overwrite: true);
        await using var db = await WaldenDatabase.OpenAsync(path);
        Assert.Equal(800L, await db.ReadAsync(c => c.Scalar<long>("SELECT count(*) FROM t")));
    }

    [Fact]
    public async Task OpeningAMissingDatabase_BesideTheHotJournalOfAKilledWriter_DoesNotCreateItOrDeleteTheJournal()
    {
        var path = _dir.File("app.db");
        // A rollback-journal writer killed mid-transaction with a cache small enough to spill: a hot journal.
        await ForeignProgram.PythonAsync("""
            import os, sqlite3, sys
            c = sqlite3.connect(sys.argv[1], isolation_level=None)
            c.execute('PRAGMA cache_size=5'); c.execute('CREATE TABLE t(body TEXT)')
            c.execute('BEGIN')
            for i in range(2000):
                c.execute('INSERT INTO t VALUES (?)', ('x' * 200,))
            os._exit(0)
            """, path);
        Assert.True(new FileInfo(path + "-journal").Length > 512);
        File.Move(path, path + ".moved");
        var journal = Hash(path + "-journal");

        var refused = await Assert.ThrowsAsync<WaldenConfigurationException>(() => WaldenDatabase.OpenAsync(path));
        Assert.Contains(path + "-journal", refused.Message, StringComparison.Ordinal);
        Assert.False(File.Exists(path));
        Assert.Equal(journal, Hash(path + "-journal"));
    }

    [Fact]
    public async Task AMissingDatabaseBesideAFinishedPersistJournal_IsCreated()
    {
        // Android's classic journal_mode=PERSIST: the journal stays after each commit with its header zeroed, holding
        // nothing; the app then deleted its database file (a data reset) and left the journal.
        var path = _dir.File("app.db");
        await ForeignProgram.PythonAsync("""
            import sqlite3, sys
            c = sqlite3.connect(sys.argv[1])
            c.execute('PRAGMA journal_mode=PERSIST'); c.execute('CREATE TABLE t(x)'); c.execute('INSERT INTO t VALUES (1)')
            c.commit(); c.close()
            """, path);
        File.Delete(path);
        Assert.True(new FileInfo(path + "-journal").Length > 0);

        await using var db = await WaldenDatabase.OpenAsync(path);
        await db.WriteAsync(c => c.Exec("CREATE TABLE fresh(x)"));
    }

    [Fact]
    public async Task ANewDatabaseWithTheJournalOfItsInterruptedFirstTransaction_OpensEmpty()
    {
        // Not an orphan: the file exists (empty) and its journal is of the first transaction, which SQLite rolls back.
        var path = _dir.File("new.db");
        await ForeignProgram.PythonAsync("""
            import os, sqlite3, sys
            c = sqlite3.connect(sys.argv[1], isolation_level=None)
            c.execute('BEGIN'); c.execute('CREATE TABLE t(x)'); c.execute('INSERT INTO t VALUES (1)')
            os._exit(0)
            """, path);
        Assert.Equal(0, new FileInfo(path).Length);
        Assert.True(File.Exists(path + "-journal"));

        await using var db = await WaldenDatabase.OpenAsync(path);
        Assert.Equal(0L, await db.ReadAsync(c => c.Scalar<long>("SELECT count(*) FROM sqlite_schema WHERE name = 't'")));
    }

    private static string Hash(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));
}
