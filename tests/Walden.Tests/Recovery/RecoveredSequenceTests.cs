using Walden.Recovery;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Recovery;

/// <summary>AUTOINCREMENT's promise survives recovery: no id handed out before the damage is handed out again after it.</summary>
public sealed class RecoveredSequenceTests
{
    private const string Program = """
        import sqlite3, sys
        con = sqlite3.connect(sys.argv[1])
        con.execute('CREATE TABLE "users" ("id" integer PRIMARY KEY AUTOINCREMENT NOT NULL, "email" varchar)')
        for i in range(500):
            con.execute("INSERT INTO users(email) VALUES (?)", ("u%d" % i,))
        con.execute("DELETE FROM users WHERE id > 300")
        con.commit()
        con.close()
        """;

    [Fact]
    public async Task SchemaPageLost_TheCounterRowFoundOrphaned_KeepsIdsAfterTheHighestRowidUnused()
    {
        using var temp = new TempDirectory();
        var path = temp.File("app.db");
        await ForeignProgram.PythonAsync(Program, path);
        File.Copy(path, temp.File("schema.db"));
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Write))
        {
            stream.Position = 100;
            stream.Write(new byte[4096 - 100]); // page 1's body: the schema; sqlite_sequence's row ('users', 500) is on its own page
        }

        var report = await WaldenRecovery.RecoverToAsync(path, temp.File("out.db"), new WaldenRecoveryOptions { SchemaFrom = temp.File("schema.db") });
        Assert.Equal(300, report.Tables["users"]);
        using var connection = Sql.OpenDirect(temp.File("out.db"));
        connection.Exec("INSERT INTO users(email) VALUES ('new')");
        Assert.Equal(501, connection.Scalar<long>("SELECT max(id) FROM users"));
        Assert.Contains(report.Notes, note => note.Contains("AUTOINCREMENT counter of users", StringComparison.Ordinal));
    }
}
