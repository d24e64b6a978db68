using Walden.Recovery;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Recovery;

/// <summary>
/// Recovery keeps every row of a file whose foreign keys were not enforced when it was written (SQLite's default, and what
/// Python, Django, Rails and Android leave): a child before its parent, a row referring to a later one, a dangling reference.
/// Walden's SQLite enforces foreign keys by default; the connections that build the output must not.
/// </summary>
public sealed class ForeignKeyRecoveryTests
{
    private const string Program = """
        import sqlite3, sys
        con = sqlite3.connect(sys.argv[1])
        con.executescript('''
        CREATE TABLE comments(id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES comments(id), body TEXT);
        CREATE TABLE orders(id INTEGER PRIMARY KEY, customer_id INTEGER REFERENCES customers(id), total INT);
        CREATE TABLE customers(id INTEGER PRIMARY KEY, name TEXT);
        CREATE TABLE "auth_user" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "username" varchar(150) NOT NULL UNIQUE);
        CREATE TABLE "blog_post" ("id" integer NOT NULL PRIMARY KEY AUTOINCREMENT, "title" varchar(200) NOT NULL,
            "author_id" integer NOT NULL REFERENCES "auth_user" ("id") DEFERRABLE INITIALLY DEFERRED);
        CREATE INDEX "blog_post_author_id_dd7a8485" ON "blog_post" ("author_id");
        ''')
        con.execute("INSERT INTO comments VALUES (1, NULL, 'root')")
        con.executemany("INSERT INTO comments VALUES (?, ?, ?)", [(i, i - 1, "reply %d" % i) for i in range(2, 101)])
        con.execute("UPDATE comments SET parent_id = 50 WHERE id = 5")  # re-parented under a later comment
        con.executemany("INSERT INTO customers VALUES (?, ?)", [(i, "c%d" % i) for i in range(1, 11)])
        con.executemany("INSERT INTO orders VALUES (?, ?, ?)", [(i, i % 12 + 1, i * 10) for i in range(1, 31)])  # 11, 12 deleted
        con.executemany("INSERT INTO auth_user(id, username) VALUES (?, ?)", [(i, "u%d" % i) for i in range(1, 11)])
        con.executemany("INSERT INTO blog_post(title, author_id) VALUES (?, ?)", [("post %d" % i, i % 12 + 1) for i in range(1, 101)])
        con.commit()
        con.close()
        """;

    private static readonly Dictionary<string, long> Expected = new()
    {
        ["comments"] = 100, ["orders"] = 30, ["customers"] = 10, ["auth_user"] = 10, ["blog_post"] = 100,
    };

    [Fact]
    public async Task Recovery_OfRowsWhoseParentsComeLaterOrAreGone_KeepsEveryRow()
    {
        using var temp = new TempDirectory();
        var path = temp.File("app.db");
        await ForeignProgram.PythonAsync(Program, path);

        var report = await WaldenRecovery.RecoverToAsync(path, temp.File("recovered.db"));

        Assert.True(report.Usable, string.Join("\n", report.Notes));
        foreach (var (table, rows) in Expected)
        {
            Assert.True(report.Tables[table] == rows, $"{table}: {report.Tables[table]} rows recovered of {rows}\n{string.Join("\n", report.Notes)}");
        }

        using var recovered = Sql.OpenDirect(temp.File("recovered.db"), readOnly: true);
        Assert.Equal(50, recovered.Scalar<long>("SELECT parent_id FROM comments WHERE id = 5"));
        Assert.Equal(4, recovered.Scalar<long>("SELECT count(*) FROM orders WHERE customer_id > 10"));
    }

    [Fact]
    public async Task Recovery_InPlace_OfRowsWhoseParentsComeLaterOrAreGone_KeepsEveryRow()
    {
        using var temp = new TempDirectory();
        var path = temp.File("app.db");
        await ForeignProgram.PythonAsync(Program, path);

        var report = await WaldenRecovery.RecoverInPlaceAsync(path);

        Assert.True(report.Usable, string.Join("\n", report.Notes));
        using var recovered = Sql.OpenDirect(path, readOnly: true);
        foreach (var (table, rows) in Expected)
        {
            Assert.Equal(rows, recovered.Scalar<long>($"SELECT count(*) FROM {table}"));
        }
    }

    [Fact]
    public async Task Recovery_WithSchemaFromABackup_OfAFileWhoseSchemaIsGone_KeepsRowsWithoutTheirParents()
    {
        using var temp = new TempDirectory();
        var path = temp.File("app.db");
        await ForeignProgram.PythonAsync(Program, path);
        File.Copy(path, temp.File("backup.db"));
        // The schema's b-tree is gone, the header (first 100 bytes) is not.
        using (var file = new FileStream(path, FileMode.Open, FileAccess.Write))
        {
            file.Position = 100;
            file.Write(new byte[4096 - 100]);
        }

        var report = await WaldenRecovery.RecoverToAsync(path, temp.File("recovered.db"), new WaldenRecoveryOptions { SchemaFrom = temp.File("backup.db") });

        foreach (var (table, rows) in Expected)
        {
            Assert.True(report.Tables[table] == rows, $"{table}: {report.Tables[table]} rows recovered of {rows}\n{string.Join("\n", report.Notes)}");
        }
    }
}
