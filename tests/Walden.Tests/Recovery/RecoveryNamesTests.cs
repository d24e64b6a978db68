using System.Text.RegularExpressions;
using Walden.Recovery;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Recovery;

/// <summary>The names Walden adds to a user's file or folder never collide with the user's own.</summary>
public sealed class RecoveryNamesTests
{
    // Two tables of the same shape make the orphaned rows of one ambiguous: they must go to Walden's own lost-and-found table.
    private const string Program = """
        import sqlite3, sys
        con = sqlite3.connect(sys.argv[1])
        con.executescript('''
        CREATE TABLE lost_and_found(id INTEGER PRIMARY KEY, item TEXT, found_at TEXT);
        CREATE TABLE "Lost_And_Found_0"(rootpgno TEXT);
        CREATE TABLE walden_fts_content(x);
        CREATE TABLE things_a(id INTEGER PRIMARY KEY, label TEXT);
        CREATE TABLE things_b(id INTEGER PRIMARY KEY, label TEXT);
        ''')
        con.executemany("INSERT INTO lost_and_found(item, found_at) VALUES (?, ?)", [("umbrella %d" % i, "2026-11-%02d" % (1 + i % 28)) for i in range(50)])
        con.executemany("INSERT INTO things_a(label) VALUES (?)", [("a %d" % i,) for i in range(2000)])
        con.executemany("INSERT INTO things_b(label) VALUES (?)", [("b %d" % i,) for i in range(100)])
        con.commit()
        print(con.execute("SELECT rootpage FROM sqlite_schema WHERE name = 'things_a'").fetchone()[0])
        con.close()
        """;

    [Fact]
    public async Task Recovery_OfADatabaseWithItsOwnLostAndFoundTable_DoesNotCrashAndLeavesItsRowsAlone()
    {
        using var temp = new TempDirectory();
        var path = temp.File("app.db");
        await ForeignProgram.PythonAsync(Program, path);

        var report = await WaldenRecovery.RecoverToAsync(path, temp.File("recovered.db"));

        Assert.True(report.Usable, string.Join("\n", report.Notes));
        Assert.Equal(50, report.Tables["lost_and_found"]);
        Assert.Equal(2000, report.Tables["things_a"]);
        Assert.Equal("lost_and_found_1", report.LostAndFoundTable);
    }

    [Fact]
    public async Task Recovery_WithOrphanedRowsAndAUserTableNamedLostAndFound_PutsThemInAFreeNameAndReportsIt()
    {
        using var temp = new TempDirectory();
        var path = temp.File("app.db");
        await ForeignProgram.PythonAsync(Program, path);
        long root;
        using (var connection = Sql.OpenDirect(path, readOnly: true))
        {
            root = connection.Scalar<long>("SELECT rootpage FROM sqlite_schema WHERE name = 'things_a'");
        }

        ForeignProgram.ZeroPage(path, root, 4096);
        // Files of the user's that happen to have the names Walden writes its own work files under.
        await File.WriteAllTextAsync(temp.File("recovered.db.walden-partial"), "mine");
        await File.WriteAllTextAsync(temp.File(".app.db.walden-recovered"), "mine too");

        var report = await WaldenRecovery.RecoverToAsync(path, temp.File("recovered.db"));

        Assert.True(report.Usable, string.Join("\n", report.Notes));
        Assert.Equal("lost_and_found_1", report.LostAndFoundTable);
        Assert.True(report.LostAndFoundRows > 1000, $"{report.LostAndFoundRows} rows in lost_and_found_1");
        Assert.Contains(report.Notes, note => note.Contains("lost_and_found_1", StringComparison.Ordinal));
        using (var recovered = Sql.OpenDirect(temp.File("recovered.db"), readOnly: true))
        {
            Assert.Equal(50, recovered.Scalar<long>("SELECT count(*) FROM lost_and_found WHERE item LIKE 'umbrella %'"));
            Assert.Equal(report.LostAndFoundRows, recovered.Scalar<long>("SELECT count(*) FROM lost_and_found_1 WHERE rootpgno IS NOT NULL OR pgno IS NOT NULL"));
        }

        var inPlace = await WaldenRecovery.RecoverInPlaceAsync(path);
        Assert.True(inPlace.Usable);
        Assert.Equal("mine", await File.ReadAllTextAsync(temp.File("recovered.db.walden-partial")));
        Assert.Equal("mine too", await File.ReadAllTextAsync(temp.File(".app.db.walden-recovered")));

        var (exitCode, stdout, stderr) = await WaldenCli.RunAsync("recover", Path.Combine(inPlace.Quarantine!.Folder, "app.db"), "--output", temp.File("cli.db"));
        Assert.True(exitCode == 0, stdout + stderr);
        Assert.Contains("lost_and_found_1", Regex.Replace(stdout, @"\s+", " "), StringComparison.Ordinal);
    }
}
