using System.Globalization;
using Walden.Recovery;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Recovery;

/// <summary>
/// A table's root page destroyed, so its leaf pages are orphaned, and exactly one table able to hold
/// their records: every row comes back, by SQLite's own record rules (shorter records after ALTER TABLE
/// ADD COLUMN, stored and virtual generated columns, any storage class SQLite allows, STRICT ANY,
/// WITHOUT ROWID key order), and none differs from what was written.
/// </summary>
public sealed class OrphanRowShapeTests
{
    private const string Program = """
        import sqlite3, sys
        path, case = sys.argv[1], sys.argv[2]
        con = sqlite3.connect(path)
        con.execute("CREATE TABLE readings(ts REAL NOT NULL, sensor BLOB NOT NULL, v REAL NOT NULL)")
        con.executemany("INSERT INTO readings VALUES (?, ?, ?)", [(i + 0.25, bytes([i % 256, 7]), i * 1.5 + 0.1) for i in range(200)])
        if case == "alter":
            con.execute("CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT NOT NULL, qty INTEGER)")
            con.executemany("INSERT INTO items(name, qty) VALUES (?, ?)", [("item %d" % i, i) for i in range(3013)])
            con.execute("ALTER TABLE items ADD COLUMN note TEXT DEFAULT 'none'")
            con.execute("ALTER TABLE items ADD COLUMN flag INTEGER")
            con.executemany("INSERT INTO items(name, qty, note, flag) VALUES (?, ?, ?, ?)", [("late %d" % i, i, "n%d" % i, i % 2) for i in range(87)])
        elif case == "storage":
            con.execute("CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT, qty INTEGER, price REAL, "
                        "total REAL GENERATED ALWAYS AS (qty * price) STORED, label TEXT GENERATED ALWAYS AS (upper(name)) VIRTUAL)")
            rows = []
            for i in range(3100):
                name = ("blob %d" % i).encode() if i % 5 == 0 else "item %d" % i
                qty = "n/a" if i % 7 == 0 else i
                price = float(i % 10) if i % 3 == 0 else i / 8 + 0.01
                rows.append((name, qty, price))
            con.executemany("INSERT INTO items(name, qty, price) VALUES (?, ?, ?)", rows)
        elif case == "strict":
            con.execute("CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT NOT NULL, payload ANY, n INT) STRICT")
            kinds = [lambda i: i, lambda i: i + 0.5, lambda i: "text %d" % i, lambda i: bytes([i % 256]), lambda i: None]
            con.executemany("INSERT INTO items(name, payload, n) VALUES (?, ?, ?)", [("item %d" % i, kinds[i % 5](i), i) for i in range(3100)])
        elif case == "without_rowid":
            con.execute("CREATE TABLE items(code TEXT NOT NULL, seq INTEGER NOT NULL, name TEXT, qty INTEGER, PRIMARY KEY(code, seq)) WITHOUT ROWID")
            con.executemany("INSERT INTO items VALUES (?, ?, ?, ?)", [("c%03d" % (i % 97), i, "item %d" % i, i * 3) for i in range(3100)])
        con.commit()
        print(con.execute("SELECT rootpage FROM sqlite_schema WHERE name = 'items'").fetchone()[0])
        con.close()
        """;

    [Theory]
    [InlineData("alter")]
    [InlineData("storage")]
    [InlineData("strict")]
    [InlineData("without_rowid")]
    public async Task Recovery_RootPageDestroyed_GivesEveryOrphanedRowBackByTheRecordRulesOfSqlite(string schema)
    {
        using var temp = new TempDirectory();
        var path = temp.File("app.db");
        await ForeignProgram.PythonAsync(Program, path, schema);
        var original = Rows(path, out var root, out var pageSize);
        Assert.Equal(3100, original.Count);
        long onRoot;
        using (var before = Sql.OpenDirect(path, readOnly: true))
        {
            // Interior cells of a WITHOUT ROWID table are whole records: those on the destroyed root page are gone with it.
            onRoot = before.Scalar<long>($"SELECT CASE WHEN (SELECT wr FROM pragma_table_list WHERE name = 'items') THEN ncell ELSE 0 END FROM dbstat WHERE pageno = {root}");
        }

        ForeignProgram.ZeroPage(path, root, pageSize);

        var report = await WaldenRecovery.RecoverToAsync(path, temp.File("recovered.db"));

        Assert.True(report.Usable, string.Join("\n", report.Notes));
        var recovered = Rows(temp.File("recovered.db"), out _, out _);
        Assert.Empty(recovered.Except(original)); // never a wrong row
        Assert.Equal(3100 - onRoot, recovered.Count); // and all of them back
        Assert.Equal(0, report.LostAndFoundRows);
        Assert.Equal(200, report.Tables["readings"]);
    }

    private static HashSet<string> Rows(string path, out long root, out int pageSize)
    {
        using var connection = Sql.OpenDirect(path, readOnly: true);
        root = connection.Scalar<long>("SELECT rootpage FROM sqlite_schema WHERE name = 'items'");
        pageSize = (int)connection.Scalar<long>("PRAGMA page_size");
        var withoutRowid = connection.Scalar<long>("SELECT wr FROM pragma_table_list WHERE name = 'items'") != 0;
        using var command = connection.CreateCommand();
        command.CommandText = withoutRowid ? "SELECT *, NULL FROM items" : "SELECT *, rowid FROM items";
        using var reader = command.ExecuteReader();
        var rows = new HashSet<string>(StringComparer.Ordinal);
        while (reader.Read())
        {
            rows.Add(string.Join("|", Enumerable.Range(0, reader.FieldCount).Select(i => reader.IsDBNull(i) ? "NULL" : reader.GetValue(i) switch
            {
                byte[] bytes => "x" + Convert.ToHexString(bytes),
                double d => "r" + d.ToString("R", CultureInfo.InvariantCulture),
                long l => "i" + l.ToString(CultureInfo.InvariantCulture),
                var value => "t" + value,
            })));
        }

        return rows;
    }
}
