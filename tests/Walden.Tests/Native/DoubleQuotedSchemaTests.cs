using Walden.Recovery;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Native;

/// <summary>
/// A schema with double-quoted string literals (<c>CHECK(status IN ("active","blocked"))</c>, a partial index's
/// <c>WHERE status = "active"</c>), which stock SQLite, Python, Android and Rails accept, is read, recovered, backed up and
/// written to by Walden like any other: its SQLite accepts such literals in DDL (SQLITE_DQS=2), never in queries.
/// </summary>
public sealed class DoubleQuotedSchemaTests
{
    private const string Program = """
        import sqlite3, sys
        con = sqlite3.connect(sys.argv[1])
        con.executescript('''
        CREATE TABLE users(id INTEGER PRIMARY KEY, status TEXT DEFAULT "active" CHECK(status IN ("active","blocked")), name TEXT);
        CREATE INDEX users_active ON users(name) WHERE status = "active";
        CREATE VIEW blocked AS SELECT name FROM users WHERE status = "blocked";
        ''')
        con.executemany("INSERT INTO users(status, name) VALUES (?, ?)", [("active" if i % 3 else "blocked", "name-%d" % i) for i in range(300)])
        con.commit()
        con.close()
        """;

    [Fact]
    public async Task Recovery_OfAHealthyFileWithDoubleQuotedLiteralsInItsSchema_KeepsEveryRowAndObject()
    {
        using var temp = new TempDirectory();
        var path = temp.File("app.db");
        await ForeignProgram.PythonAsync(Program, path);

        var report = await WaldenRecovery.RecoverToAsync(path, temp.File("recovered.db"));

        Assert.True(report.Usable, string.Join("\n", report.Notes));
        Assert.Equal(300, report.Tables["users"]);
        Assert.Empty(report.MissingObjects);
        using var recovered = Sql.OpenDirect(temp.File("recovered.db"), readOnly: true);
        // Recovered as written; a view's body is compiled as a query when used, where Walden's SQLite takes no double-quoted strings.
        Assert.Equal(1, recovered.Scalar<long>("SELECT count(*) FROM sqlite_schema WHERE type = 'view' AND name = 'blocked'"));
        Assert.Equal(200, recovered.Scalar<long>("SELECT count(*) FROM users INDEXED BY users_active WHERE status = 'active'"));
    }

    [Fact]
    public async Task BackupWithVacuum_AndWrites_OnAFileWithDoubleQuotedLiteralsInItsSchema_Succeed()
    {
        using var temp = new TempDirectory();
        var path = temp.File("app.db");
        await ForeignProgram.PythonAsync(Program, path);

        var (exitCode, stdout, stderr) = await WaldenCli.RunAsync("backup", path, temp.File("backups"), "--vacuum");
        Assert.True(exitCode == 0, stdout + stderr);

        await using (var db = await WaldenDatabase.OpenAsync(path, new WaldenOptions()))
        {
            await db.WriteAsync(connection => connection.Exec("INSERT INTO users(name) VALUES ('new')"));
            var refused = await Assert.ThrowsAnyAsync<Exception>(() => db.WriteAsync(connection => connection.Exec("INSERT INTO users(status, name) VALUES ('gone', 'x')")));
            Assert.Contains("CHECK constraint failed", refused.Message, StringComparison.Ordinal);
        }

        using var file = Sql.OpenDirect(path, readOnly: true);
        Assert.Equal("active", file.Scalar<string>("SELECT status FROM users WHERE name = 'new'"));
    }
}
