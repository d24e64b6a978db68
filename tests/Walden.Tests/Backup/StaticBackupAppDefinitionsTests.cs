using Microsoft.Data.Sqlite;
using Walden.Backup;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Backup;

/// <summary>
/// The static <see cref="WaldenBackups.VerifyAsync(string, WaldenBackupOptions?, CancellationToken)"/> and
/// <see cref="WaldenBackups.RestoreAsync(string, string, WaldenBackupOptions?, CancellationToken)"/> check a backup with the
/// application's collations (<see cref="WaldenBackupOptions.ConfigureConnection"/>), as <see cref="WaldenBackups.BackupAsync"/>
/// and an open database's backups do. Before, they had no way to take them: a backup of a database whose schema uses an
/// application collation was only ever checked with stand-ins (binary order), which cannot tell an index in the wrong order.
/// </summary>
public sealed class StaticBackupAppDefinitionsTests : IDisposable
{
    /// <summary>
    /// A Python program's database: a WITHOUT ROWID table keyed, and a table indexed, in its collation 'rev'; argv 2 says
    /// which order the program's 'rev' has ("reverse": the application's; "binary": a program with another definition).
    /// </summary>
    private const string Script = """
        import sqlite3, sys
        con = sqlite3.connect(sys.argv[1], isolation_level=None)
        if sys.argv[2] == "reverse":
            con.create_collation("rev", lambda a, b: (a < b) - (a > b))
        else:
            con.create_collation("rev", lambda a, b: (a > b) - (a < b))
        con.execute("CREATE TABLE k(name TEXT COLLATE rev PRIMARY KEY, n INT) WITHOUT ROWID")
        con.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT)")
        con.execute("CREATE INDEX t_name ON t(name COLLATE rev)")
        for i in range(100):
            con.execute("INSERT INTO k VALUES (?, ?)", ("name%03d" % i, i))
            con.execute("INSERT INTO t(name) VALUES (?)", ("name%03d" % i,))
        con.close()
        """;

    private readonly TempDirectory _dir = new();
    private int _configured;

    public void Dispose() => _dir.Dispose();

    /// <summary>The application's definition: 'rev' sorts in reverse order.</summary>
    private WaldenBackupOptions ApplicationDefinitions => new()
    {
        ConfigureConnection = connection =>
        {
            Interlocked.Increment(ref _configured);
            connection.CreateCollation("rev", (a, b) => string.CompareOrdinal(b, a));
        },
    };

    private async Task<string> BackupOfAsync(string order, WaldenBackupOptions? options)
    {
        var source = _dir.File("app.db");
        await ForeignProgram.PythonAsync(Script, source, order);
        var backup = await WaldenBackups.BackupAsync(source, _dir.File("backups"), options);
        return backup.Path;
    }

    [Fact]
    public async Task VerifyAndRestore_GivenTheAppsCollation_CheckTheBackupWithIt()
    {
        var backup = await BackupOfAsync("reverse", ApplicationDefinitions);
        _configured = 0;

        var entry = await WaldenBackups.VerifyAsync(backup, ApplicationDefinitions);
        var verifiedWith = _configured;
        var restore = await WaldenBackups.RestoreAsync(backup, _dir.File("restored.db"), ApplicationDefinitions);

        Assert.True(entry.State == WaldenBackupState.Verified, entry.Problem);
        Assert.True(verifiedWith > 0);
        Assert.True(_configured > verifiedWith);
        using var connection = new SqliteConnection($"Data Source={restore.DatabasePath};Pooling=False");
        connection.Open();
        ApplicationDefinitions.ConfigureConnection!(connection);
        using var check = connection.CreateCommand();
        check.CommandText = "PRAGMA integrity_check";
        Assert.Equal("ok", check.ExecuteScalar());
        check.CommandText = "SELECT name FROM k ORDER BY name LIMIT 1";
        Assert.Equal("name099", check.ExecuteScalar());
    }

    /// <summary>
    /// A backup whose keys and index are in another order than the application's collation: with stand-ins (binary order)
    /// nothing looks wrong; with the application's definition the verification finds it, and the restore refuses it,
    /// changing nothing.
    /// </summary>
    [Fact]
    public async Task VerifyAndRestore_OfABackupInAnotherOrderThanTheAppsCollation_GivenIt_FindItAndChangeNothing()
    {
        var backup = await BackupOfAsync("binary", options: null);
        var target = _dir.File("target.db");
        File.WriteAllText(target, string.Empty); // an empty database the restore would replace
        var before = ForeignProgram.Snapshot(_dir.Path);

        var withStandIns = await WaldenBackups.VerifyAsync(backup);
        var withTheApps = await WaldenBackups.VerifyAsync(backup, ApplicationDefinitions);
        var refused = await Assert.ThrowsAsync<WaldenBackupRejectedException>(
            () => WaldenBackups.RestoreAsync(backup, target, ApplicationDefinitions));

        Assert.Equal(WaldenBackupState.Verified, withStandIns.State);
        Assert.Equal(WaldenBackupState.Damaged, withTheApps.State);
        Assert.Contains("integrity check failed", withTheApps.Problem, StringComparison.Ordinal);
        Assert.Contains("Nothing was changed", refused.Message, StringComparison.Ordinal);
        Assert.Equal(before, ForeignProgram.Snapshot(_dir.Path));
    }
}
