using Walden.Tests.TestSupport;

namespace Walden.Tests.Configuration;

/// <summary>
/// A database whose views and triggers use double-quoted string literals, as Python's sqlite3, Android and the sqlite3 shell
/// accept them: Walden writes to it and its triggers fire (every write to such a table failed with "no such column"), while
/// any other database's queries stay strict.
/// </summary>
public sealed class LegacyStringLiteralsTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    public static TheoryData<string> Schemas => new()
    {
        // An audit trigger on insert, as hand-written schemas have it.
        """CREATE TABLE orders(id INTEGER PRIMARY KEY, total INT); CREATE TABLE audit(msg TEXT); CREATE TRIGGER orders_audit AFTER INSERT ON orders BEGIN INSERT INTO audit VALUES("inserted"); END;""",
        // A trigger on update of one column, with a WHEN clause comparing to a double-quoted literal.
        """CREATE TABLE orders(id INTEGER PRIMARY KEY, total INT, status TEXT DEFAULT "new"); CREATE TABLE audit(msg TEXT); CREATE TRIGGER orders_status AFTER UPDATE OF status ON orders WHEN new.status = "paid" BEGIN INSERT INTO audit VALUES('paid'); END; CREATE TRIGGER orders_new AFTER INSERT ON orders BEGIN INSERT INTO audit VALUES('inserted'); END;""",
        // A trigger on delete, and a view with a double-quoted literal, whose names need quoting themselves.
        """CREATE TABLE "order items"(id INTEGER PRIMARY KEY, total INT); CREATE TABLE audit(msg TEXT); CREATE TRIGGER "on delete" BEFORE DELETE ON "order items" BEGIN INSERT INTO audit VALUES("deleted"); END; CREATE TRIGGER ins AFTER INSERT ON "order items" BEGIN INSERT INTO audit SELECT 'inserted'; END; CREATE VIEW "big ones" AS SELECT * FROM "order items" WHERE total > 0 AND "x" = "x";""",
    };

    [Theory]
    [MemberData(nameof(Schemas))]
    public async Task Writes_ToATableWhoseTriggersUseDoubleQuotedStrings_SucceedAndFireThem(string schema)
    {
        var path = _dir.File("app.db");
        await ForeignProgram.RunPythonAsync($$"""
            import sqlite3, sys
            c = sqlite3.connect(sys.argv[1])
            c.executescript('''{{schema}}''')
            c.commit()
            """, path);
        var table = schema.Contains("\"order items\"", StringComparison.Ordinal) ? "\"order items\"" : "orders";
        var logs = new ListLoggerFactory();

        await using (var database = await WaldenDatabase.OpenAsync(path, new WaldenOptions { LoggerFactory = logs }))
        {
            await database.WriteAsync(connection => connection.Exec($"INSERT INTO {table}(total) VALUES (5)"));
            if (schema.Contains("status", StringComparison.Ordinal))
            {
                await database.WriteAsync(connection => connection.Exec("UPDATE orders SET status = 'paid'"));
            }

            if (schema.Contains("BEFORE DELETE", StringComparison.Ordinal))
            {
                await database.WriteAsync(connection => connection.Exec($"DELETE FROM {table}"));
            }

            if (schema.Contains("CREATE VIEW", StringComparison.Ordinal))
            {
                Assert.Equal(0, await database.ReadAsync(connection => connection.Scalar<long>("SELECT count(*) FROM \"big ones\"")));
            }
        }

        var expected = schema.Contains("status", StringComparison.Ordinal) ? 2 : schema.Contains("BEFORE DELETE", StringComparison.Ordinal) ? 2 : 1;
        using var check = Sql.OpenDirect(path, readOnly: true);
        Assert.Equal(expected, check.Scalar<long>("SELECT count(*) FROM audit"));
        Assert.Contains(logs.Lines, line => line.EventId.Id == 1724 && line.Message.Contains("trigger", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Queries_OnADatabaseWithoutSuchObjects_StillRefuseDoubleQuotedStrings()
    {
        var path = _dir.File("strict.db");
        await ForeignProgram.RunPythonAsync("""
            import sqlite3, sys
            c = sqlite3.connect(sys.argv[1])
            c.executescript('CREATE TABLE t(a TEXT DEFAULT "x"); CREATE TABLE log(m); CREATE TRIGGER tr AFTER INSERT ON t BEGIN INSERT INTO log VALUES(\'ok\'); END;')
            c.commit()
            """, path);

        await using var database = await WaldenDatabase.OpenAsync(path);
        await database.WriteAsync(connection => connection.Exec("INSERT INTO t DEFAULT VALUES"));
        var error = await Record.ExceptionAsync(() => database.WriteAsync(connection => connection.Exec("INSERT INTO t VALUES(\"typo\")")));

        Assert.NotNull(error); // a misspelt column in double quotes stays an error, not the string "typo"
        Assert.Equal(1, await database.ReadAsync(connection => connection.Scalar<long>("SELECT count(*) FROM t")));
    }
}
