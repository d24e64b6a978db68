using Microsoft.Data.Sqlite;
using Walden.Backup;
using Walden.Tests.TestSupport;
using static Walden.Tests.Archiving.ArchiveChecks;

namespace Walden.Tests.Archiving;

/// <summary>
/// Breaker (branch breaker-34): databases as Python and Android apps leave them, archived and backed up by Walden. Each test
/// fails on the code it was written against, for the reason its summary names.
/// </summary>
public sealed class ArchiveRealWorldBreakerTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public ArchiveRealWorldBreakerTests() => Directory.CreateDirectory(Archive);

    public void Dispose() => _dir.Dispose();

    private string Archive => _dir.File("archive");

    /// <summary>The application's definitions, as the Python app that made the file has them.</summary>
    private static void Register(SqliteConnection connection) => ArchiveAppSchemaTests.Register(connection);

    /// <summary>
    /// Schemas whose integrity_check findings under stand-ins are on the TABLE, not on an index or a CHECK: a WITHOUT ROWID
    /// table whose PRIMARY KEY is in the app's collation (Android's LOCALIZED; integrity_check: "row not in PRIMARY KEY
    /// order for t"), and a NOT NULL virtual generated column computed by an app function ("NULL value in t.v").
    /// </summary>
    public static TheoryData<string, string> TableLevelSchemas => new()
    {
        { "a WITHOUT ROWID table keyed in the app's collation", "CREATE TABLE t(a TEXT COLLATE LOCALIZED PRIMARY KEY, b TEXT) WITHOUT ROWID" },
        { "a NOT NULL virtual generated column of an app function", "CREATE TABLE t(a TEXT, b TEXT, v INT GENERATED ALWAYS AS (valid_email(b)) VIRTUAL NOT NULL)" },
    };

    /// <summary>Python's sqlite3 makes the file (WAL, 200 rows with mixed-case keys), as the app that owns it would.</summary>
    private const string MakeAppFile = """
        import sqlite3, sys
        con = sqlite3.connect(sys.argv[1], isolation_level=None)
        con.create_collation("LOCALIZED", lambda a, b: (a.lower() > b.lower()) - (a.lower() < b.lower()))
        con.create_function("valid_email", 1, lambda s: 1 if s and "@" in s else 0, deterministic=True)
        con.execute("PRAGMA journal_mode=WAL")
        con.executescript(sys.argv[2])
        con.execute("BEGIN")
        for i in range(200):
            con.execute("INSERT INTO t(a, b) VALUES (?, ?)", (("Nm%d" % i) if i % 2 else ("nm%d" % (1000 + i)), "u%d@x.org" % i))
        con.execute("COMMIT")
        con.close()
        """;

    /// <summary>The app's own count of t (a plain connection cannot prepare a statement on a table keyed in LOCALIZED).</summary>
    private static long CountWithTheAppsDefinitions(string path)
    {
        using var connection = Sql.OpenDirect(path, readOnly: true);
        Register(connection);
        return connection.Scalar<long>("SELECT count(*) FROM t");
    }

    private async Task<string> AppFileAsync(string schema)
    {
        var path = _dir.File("app.db");
        await ForeignProgram.PythonAsync(MakeAppFile, path, schema);
        return path;
    }

    /// <summary>
    /// Fault class: stand-ins set aside findings on indexes and CHECK constraints only. A healthy Android/Python database
    /// whose table itself needs the app's definition to be checked, archived by an app that registers them
    /// (ConfigureConnection; its drill passes), cannot be restored or verified from the archive alone: RestoreAsync (and
    /// `walden restore`, exit 2) says the rebuilt database "fails integrity_check", `archive verify` fails (exit 1).
    /// The README promises that such a database "restores, verifies and passes its drill", checked with stand-ins.
    /// </summary>
    [Theory]
    [MemberData(nameof(TableLevelSchemas))]
    public async Task AnAppSchemaWhoseTableNeedsTheAppsDefinitions_RestoresAndVerifiesFromTheArchiveAlone(string kind, string schema)
    {
        _ = kind;
        var path = await AppFileAsync(schema);
        var options = Options(WaldenArchiveMode.Sync, new WaldenFolderDestination(Archive));
        options.ConfigureConnection = Register;
        await using (var db = await WaldenDatabase.OpenAsync(path, options))
        {
            await db.WriteAsync(c => c.Exec("INSERT INTO t(a, b) VALUES ('zz1', 'w1@x.org')"));
            var drill = db.Archiver!.RunDrill(); // with the app's own definitions: passes
            Assert.True(drill.Complete, drill.Problem);
        }

        var output = _dir.File("restored.db");
        WaldenArchiveRestoreResult? restored = null;
        var error = await Record.ExceptionAsync(async () => restored = await WaldenArchive.RestoreAsync(Archive, output));
        Assert.True(error is null, $"restore from the archive alone failed: {error?.Message}");
        Assert.True(restored!.Complete, restored.Problem);
        Assert.Contains("stand-in", restored.Note, StringComparison.Ordinal);
        Assert.Equal(201, CountWithTheAppsDefinitions(output));

        var verified = await WaldenArchive.VerifyAsync(Archive);
        Assert.True(verified.Complete, verified.Problem);

        var cli = await WaldenCli.RunAsync("archive", "verify", Archive);
        Assert.True(cli.ExitCode == 0, cli.Stdout + cli.Stderr);
    }

    /// <summary>
    /// Fault class: a backup's verification never uses the database's ConfigureConnection. The app registers its collation
    /// and function (the database opens, writes and checks fine with them), yet <see cref="WaldenDatabase.BackupAsync"/>
    /// verifies the copy with stand-ins and throws WaldenCorruptException ("The copy ... failed its integrity check (row not
    /// in PRIMARY KEY order for t; ..." / "NULL value in t.v; ..."): such an app can never take a backup, by hand or on
    /// schedule. The same file from outside (`walden backup`, `walden check --full`) is called corrupt (exit 1).
    /// </summary>
    [Theory]
    [MemberData(nameof(TableLevelSchemas))]
    public async Task BackupAsync_OfAnAppSchema_OpenWithTheAppsDefinitions_IsVerified(string kind, string schema)
    {
        _ = kind;
        var path = await AppFileAsync(schema);
        var backups = _dir.File("backups");
        await using (var db = await WaldenDatabase.OpenAsync(path, new WaldenOptions { ConfigureConnection = Register }))
        {
            await db.WriteAsync(c => c.Exec("INSERT INTO t(a, b) VALUES ('zz1', 'w1@x.org')"));
            var report = await db.CheckIntegrityAsync(); // the app's own view: healthy
            Assert.True(report.IsHealthy, string.Join("; ", report.Findings));

            WaldenBackup? backup = null;
            var error = await Record.ExceptionAsync(async () => backup = await db.BackupAsync(backups));
            Assert.True(error is null, $"BackupAsync of a healthy database failed: {error?.Message}");
            Assert.True(File.Exists(backup!.Path));
        }

        var check = await WaldenCli.RunAsync("check", "--full", path);
        Assert.True(check.ExitCode == 0, check.Stdout + check.Stderr);
        var cli = await WaldenCli.RunAsync("backup", path, _dir.File("cli-backups"));
        Assert.True(cli.ExitCode == 0, cli.Stdout + cli.Stderr);
    }

    /// <summary>
    /// Fault class: a restore at a base is not byte-identical to the database at that transaction. The base is copied with
    /// SQLite's online backup API, which rewrites the copy's header (file change counter, schema cookie reset to 1,
    /// version-valid-for, SQLITE_VERSION_NUMBER of Walden's library); the restore returns that header. Here the Python
    /// file (WAL, 10 schema changes) opened with an archive, closed without a write: the restore of transaction 1 (the open's
    /// base) differs from the file in bytes 24-27, 40-43, 92-99. The README: "a restore is a sequential page copy whose result
    /// is byte-identical to the source"; "a restore returns the file exactly as it was at the open".
    /// </summary>
    [Theory]
    [InlineData(WaldenArchiveMode.Sync)]
    [InlineData(WaldenArchiveMode.Async)]
    public async Task TheRestoreOfTheOpensBase_IsByteIdenticalToTheFileAtTheOpen(WaldenArchiveMode mode)
    {
        var path = _dir.File("py.db");
        await ForeignProgram.PythonAsync("""
            import sqlite3, sys
            con = sqlite3.connect(sys.argv[1], isolation_level=None)
            con.execute("PRAGMA journal_mode=WAL")
            for i in range(10):
                con.execute("CREATE TABLE t%d(id INTEGER PRIMARY KEY, v TEXT)" % i)
                con.execute("INSERT INTO t%d(v) VALUES ('x')" % i)
            con.execute("PRAGMA user_version=3")
            con.close()
            """, path);
        var atOpen = File.ReadAllBytes(path);

        await using (var db = await WaldenDatabase.OpenAsync(path, Options(mode, new WaldenFolderDestination(Archive))))
        {
            Assert.Equal(3L, await db.ReadAsync(c => c.Scalar<long>("PRAGMA user_version")));
        }

        var status = await WaldenArchive.GetStatusAsync(Archive);
        var output = _dir.File("at-open.db");
        var result = await WaldenArchive.RestoreAsync(Archive, output, new WaldenArchiveRestoreOptions { Txid = status.Bases[0].Txid });
        Assert.True(result.Complete, result.Problem);
        var restored = File.ReadAllBytes(output);
        Assert.Equal(atOpen.Length, restored.Length);
        var differing = Enumerable.Range(0, atOpen.Length).Where(i => atOpen[i] != restored[i]).Take(16).ToList();
        Assert.True(differing.Count == 0, $"the restore of the base differs from the file at the open at byte offsets {string.Join(", ", differing)}");
    }
}
