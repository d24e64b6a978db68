using Walden.Recovery;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Recovery;

/// <summary>
/// With the schema page lost and the schema taken from an older backup (what the engine does by default), a table created
/// since that backup is not in the schema source. Its rows are never put into another table of the same shape: two b-trees
/// are two tables. They stay in lost_and_found, named.
/// </summary>
public sealed class SchemaFromOlderBackupTests
{
    private const string Program = """
        import sqlite3, sys
        c = sqlite3.connect(sys.argv[1])
        c.execute("CREATE TABLE categories(id INTEGER PRIMARY KEY, name TEXT)")
        c.execute("INSERT INTO categories VALUES (1, 'old')")
        c.commit(); c.close()
        c = sqlite3.connect(sys.argv[2])
        c.execute("CREATE TABLE categories(id INTEGER PRIMARY KEY, name TEXT)")
        c.execute("CREATE TABLE tags(id INTEGER PRIMARY KEY, name TEXT)")  # added by a later version of the application
        c.executemany("INSERT INTO categories VALUES (?, ?)", [(i, "category %d" % i) for i in range(1, 201)])
        c.executemany("INSERT INTO tags VALUES (?, ?)", [(i, "tag %d" % i) for i in range(1001, 1301)])
        c.commit(); c.close()
        d = bytearray(open(sys.argv[2], "rb").read()); d[100:4096] = bytes(3996); open(sys.argv[2], "wb").write(d)  # the schema is lost
        """;

    [Fact]
    public async Task Recovery_WithSchemaFromABackupLackingANewerTableOfTheSameShape_NeverMergesItsRowsIntoAnotherTable()
    {
        using var temp = new TempDirectory();
        var path = temp.File("app.db");
        await ForeignProgram.PythonAsync(Program, temp.File("backup.db"), path);

        var report = await WaldenRecovery.RecoverToAsync(path, temp.File("recovered.db"), new WaldenRecoveryOptions { SchemaFrom = temp.File("backup.db") });

        Assert.Equal(200, report.Tables["categories"]);
        Assert.Equal(300, report.LostAndFoundRows);
        Assert.Contains(report.Notes, n => n.Contains("'categories'", StringComparison.Ordinal) && n.Contains("not merged", StringComparison.Ordinal));
        using var recovered = Sql.OpenDirect(temp.File("recovered.db"), readOnly: true);
        Assert.Equal(0, recovered.Scalar<long>("SELECT count(*) FROM categories WHERE name LIKE 'tag %'"));
        Assert.Equal(300, recovered.Scalar<long>("SELECT count(*) FROM lost_and_found WHERE c1 LIKE 'tag %'"));
    }
}
