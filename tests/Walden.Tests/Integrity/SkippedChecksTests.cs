using System.Security.Cryptography;
using Microsoft.Data.Sqlite;
using Walden.Configuration;
using Walden.Integrity;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Integrity;

/// <summary>
/// SQLite leaves CHECK constraints out of a read-only database's schema (sqlite3AddCheckConstraint in build.c), so
/// integrity_check and quick_check on a read-only connection never verify them. <c>walden check</c> read a rollback-journal
/// file (Python's and Android's default) read-only: a row that breaks its table's CHECK (written with
/// ignore_check_constraints, or by an older schema before a migration tightened it) was reported healthy. Now the user's file
/// is read read-write under query_only, nothing in it changes, and where SQLite must read it read-only the notes say which
/// tables' CHECK constraints went unverified.
/// </summary>
public sealed class SkippedChecksTests : IDisposable
{
    /// <summary>Files whose rows break a CHECK, as programs leave them (each also has a healthy table beside it).</summary>
    public static TheoryData<string, string, string> Broken => new()
    {
        {
            "written with the checks off", "t",
            """
            con.execute("CREATE TABLE t(x INTEGER CHECK (x > 0))")
            con.execute("INSERT INTO t VALUES (5)")
            con.execute("PRAGMA ignore_check_constraints=ON")
            con.execute("INSERT INTO t VALUES (-1)")
            """
        },
        {
            // A migration that recreated a table with a stricter CHECK by editing the schema in place (an app's shortcut
            // around the 12-step procedure): the old rows were never judged by it.
            "tightened by writable_schema", "orders",
            """
            con.execute("CREATE TABLE orders(id INTEGER PRIMARY KEY, qty INTEGER) STRICT")
            con.executemany("INSERT INTO orders(qty) VALUES (?)", [(i - 3,) for i in range(50)])
            con.commit()
            con.execute("PRAGMA writable_schema=ON")
            con.execute("UPDATE sqlite_master SET sql = 'CREATE TABLE orders(id INTEGER PRIMARY KEY, qty INTEGER CHECK (qty >= 0)) STRICT' WHERE name = 'orders'")
            """
        },
        {
            "table CHECK in a WITHOUT ROWID table, persisted journal", "pairs",
            """
            con.execute("PRAGMA journal_mode=PERSIST")
            con.execute("CREATE TABLE pairs(a INTEGER, b INTEGER, PRIMARY KEY (a, b), CHECK (a < b)) WITHOUT ROWID")
            con.execute("PRAGMA ignore_check_constraints=ON")
            con.executemany("INSERT INTO pairs VALUES (?, ?)", [(i, i + 1 if i != 7 else i - 1) for i in range(20)])
            """
        },
    };

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [MemberData(nameof(Broken))]
    public async Task ARowThatBreaksItsTablesCheck_InARollbackJournalFile_IsFoundByCheck_AndTheFileIsNotChanged(string kind, string table, string appSchema)
    {
        var path = _dir.File($"{kind.Replace(' ', '-')}.db");
        await ForeignProgram.PythonAsync("import sqlite3, sys\ncon = sqlite3.connect(sys.argv[1])\n" + appSchema + """

            con.execute("CREATE TABLE healthy(id INTEGER PRIMARY KEY, v TEXT CHECK (length(v) > 0))")
            con.execute("INSERT INTO healthy(v) VALUES ('fine')")
            con.commit()
            con.close()
            """, path);
        var before = Fingerprint(path);

        foreach (var kindOfCheck in new[] { WaldenIntegrityCheck.Quick, WaldenIntegrityCheck.Full })
        {
            var check = WaldenIntegrity.CheckFile(path, kindOfCheck);
            Assert.Equal(WaldenFileStatus.Corrupt, check.Status);
            Assert.Contains($"CHECK constraint failed in {table}", check.Findings);
            Assert.DoesNotContain(check.Findings, f => f.Contains("healthy", StringComparison.Ordinal));
        }

        Assert.Equal(before, Fingerprint(path));
    }

    [Fact]
    public async Task ACheckOnAReadOnlyConnection_NamesTheTablesWhoseCheckConstraintsItCouldNotVerify()
    {
        var path = _dir.File("app.db");
        await ForeignProgram.PythonAsync("""
            import sqlite3, sys
            con = sqlite3.connect(sys.argv[1])
            con.execute("CREATE TABLE t(x INTEGER CHECK (x > 0))")
            con.execute("CREATE TABLE plain(y INTEGER)")
            con.execute("INSERT INTO t VALUES (5)")
            con.commit()
            con.close()
            """, path);

        var (readOnlyFindings, readOnlyNotes) = Run(path, SqliteOpenMode.ReadOnly);
        var (findings, notes) = Run(path, SqliteOpenMode.ReadWrite);

        Assert.Empty(readOnlyFindings);
        var note = Assert.Single(readOnlyNotes);
        Assert.Contains("CHECK constraints of the table(s) t were not verified", note, StringComparison.Ordinal);
        Assert.Empty(findings);
        Assert.Empty(notes);
    }

    private static (List<string> Findings, List<string> Notes) Run(string path, SqliteOpenMode mode)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = mode, Pooling = false }.ToString());
        connection.Open();
        ConnectionFactory.Execute(connection, "PRAGMA query_only=ON");
        return IntegrityChecker.RunSettingAsideStandIns(connection, new StandIns(), WaldenIntegrityCheck.Full);
    }

    /// <summary>The database file's hash and which companion files exist beside it (the test's own file: no program has it open).</summary>
    private static string Fingerprint(string path) =>
        Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path))) + string.Concat(
            new[] { "-journal", "-wal", "-shm" }.Select(suffix => File.Exists(path + suffix) ? $" {suffix}:{new FileInfo(path + suffix).Length}" : ""));
}
