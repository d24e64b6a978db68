using Walden.Recovery;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Recovery;

/// <summary>
/// Rows that break their table's own constraints exist in real files (a CHECK, NOT NULL or UNIQUE added later through
/// writable_schema, rows written with ignore_check_constraints). Recovery never drops one silently: a CHECK violation is kept
/// in its table, a row SQLite refuses in its table (NOT NULL, UNIQUE) goes to lost_and_found and is named with SQLite's reason.
/// </summary>
public sealed class ConstraintViolationRecoveryTests
{
    private const string Program = """
        import sqlite3, sys
        con = sqlite3.connect(sys.argv[1])
        con.execute("CREATE TABLE u(id INTEGER PRIMARY KEY, status TEXT CHECK(status IN ('a','b')), note TEXT)")
        con.executemany("INSERT INTO u(status, note) VALUES ('a', ?)", [("row %d" % i,) for i in range(10)])
        con.execute("PRAGMA ignore_check_constraints=1")
        con.execute("INSERT INTO u(status, note) VALUES ('legacy', 'the only order')")
        con.execute("CREATE TABLE users(id INTEGER PRIMARY KEY, email TEXT, name TEXT)")
        con.execute("CREATE INDEX users_email ON users(email)")
        con.executemany("INSERT INTO users(email, name) VALUES (?, ?)", [("e%d@x" % i, "user %d" % i) for i in range(10)])
        con.execute("INSERT INTO users(email, name) VALUES ('e3@x', 'a different customer, same email')")
        con.execute("CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT)")
        con.executemany("INSERT INTO notes(body) VALUES (?)", [("note %d" % i,) for i in range(10)])
        con.execute("INSERT INTO notes(body) VALUES (NULL)")
        con.commit()
        con.execute("PRAGMA writable_schema=ON")
        con.execute("UPDATE sqlite_master SET sql = 'CREATE UNIQUE INDEX users_email ON users(email)' WHERE name = 'users_email'")
        con.execute("UPDATE sqlite_master SET sql = 'CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT NOT NULL)' WHERE name = 'notes'")
        con.commit()
        con.close()
        """;

    [Fact]
    public async Task Recovery_OfRowsThatBreakTheirTablesConstraints_KeepsOrNamesEveryRow()
    {
        using var temp = new TempDirectory();
        var path = temp.File("app.db");
        await ForeignProgram.PythonAsync(Program, path);

        var report = await WaldenRecovery.RecoverToAsync(path, temp.File("recovered.db"));

        var notes = string.Join("\n", report.Notes);
        Assert.True(report.Usable, notes);
        Assert.Equal(11, report.Tables["u"]);
        Assert.Contains(report.Notes, n => n.Contains("'u'", StringComparison.Ordinal) && n.Contains("CHECK", StringComparison.Ordinal));
        Assert.Equal(10, report.Tables["users"]);
        Assert.Equal(10, report.Tables["notes"]);
        Assert.Equal(2, report.LostAndFoundRows);
        Assert.Contains(report.Notes, n => n.Contains("'users'", StringComparison.Ordinal) && n.Contains("UNIQUE constraint failed: users.email", StringComparison.Ordinal));
        Assert.Contains(report.Notes, n => n.Contains("'notes'", StringComparison.Ordinal) && n.Contains("NOT NULL constraint failed: notes.body", StringComparison.Ordinal));
        using var recovered = Sql.OpenDirect(temp.File("recovered.db"), readOnly: true);
        Assert.Equal("the only order", recovered.Scalar<string>("SELECT note FROM u WHERE status = 'legacy'"));
        Assert.Equal("a different customer, same email", recovered.Scalar<string>("SELECT c2 FROM lost_and_found WHERE id = 11 AND c1 = 'e3@x'"));
        Assert.Equal(1, recovered.Scalar<long>("SELECT count(*) FROM lost_and_found WHERE id = 11 AND c1 IS NULL AND nfield = 2"));
    }

    [Fact]
    public async Task Check_OfRowsThatBreakTheirTablesConstraints_SaysSoAndDoesNotAdviseRecovery()
    {
        using var temp = new TempDirectory();
        var path = temp.File("app.db");
        await ForeignProgram.PythonAsync(Program, path);

        var (exitCode, stdout, stderr) = await WaldenCli.RunAsync("check", path, "--full");

        Assert.True(exitCode == 1, stdout + stderr);
        Assert.Contains("rows violate the schema's constraints", stdout, StringComparison.Ordinal);
        Assert.Contains("CHECK constraint failed in u", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("Recover it with", stdout, StringComparison.Ordinal);
    }
}
