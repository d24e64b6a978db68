using Walden.Recovery;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Recovery;

/// <summary>The recovery report counts pages and rows as they are.</summary>
public sealed class RecoveryCountTests
{
    [Fact]
    public async Task Recovery_OfADatabaseWhosePagesAreStillInTheWal_CountsThosePagesAndKnowsTheFreelist()
    {
        using var temp = new TempDirectory();
        var path = temp.File("app.db");
        // A Python program in WAL mode that dies without closing: its committed pages are in the -wal only.
        await ForeignProgram.PythonAsync("""
            import sqlite3, sys, os
            con = sqlite3.connect(sys.argv[1], isolation_level=None)
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA wal_autocheckpoint=0")
            con.execute("CREATE TABLE events(id INTEGER PRIMARY KEY, body TEXT)")
            con.execute("BEGIN")
            con.executemany("INSERT INTO events(body) VALUES (?)", [("event %d " % i * 4,) for i in range(3000)])
            con.execute("COMMIT")
            con.execute("DELETE FROM events WHERE id > 2500")
            os._exit(0)
            """, path);
        Assert.True(new FileInfo(path + "-wal").Length > 0);
        long pages;
        using (var connection = Sql.OpenDirect(path, readOnly: true))
        {
            pages = connection.Scalar<long>("PRAGMA page_count");
        }

        var report = await WaldenRecovery.RecoverToAsync(path, temp.File("recovered.db"));

        Assert.True(report.Usable, string.Join("\n", report.Notes));
        Assert.True(pages > 10, $"{pages} pages");
        Assert.Equal(pages, report.InputPages);
        Assert.DoesNotContain(report.Notes, note => note.Contains("freelist is damaged", StringComparison.Ordinal));
        Assert.Equal(2500, report.Tables["events"]);
    }

    [Theory]
    [InlineData("fts5(title, body, content='posts', content_rowid='id')")]
    [InlineData("fts4(title, body, content='posts')")]
    public async Task Recovery_OfAnExternalContentFullTextTable_CountsItsRowsOnceInTheirOwnTable(string module)
    {
        using var temp = new TempDirectory();
        var path = temp.File("app.db");
        await ForeignProgram.PythonAsync("""
            import sqlite3, sys
            con = sqlite3.connect(sys.argv[1])
            con.execute("CREATE TABLE posts(id INTEGER PRIMARY KEY, title TEXT, body TEXT)")
            con.executemany("INSERT INTO posts(title, body) VALUES (?, ?)", [("post %d" % i, "alpha bravo %d" % i) for i in range(350)])
            con.execute("CREATE VIRTUAL TABLE posts_fts USING " + sys.argv[2])
            con.execute("INSERT INTO posts_fts(posts_fts) VALUES ('rebuild')")
            con.commit()
            con.close()
            """, path, module);

        var report = await WaldenRecovery.RecoverToAsync(path, temp.File("recovered.db"));

        Assert.True(report.Usable, string.Join("\n", report.Notes));
        Assert.Equal(350, report.Tables["posts"]);
        Assert.False(report.Tables.ContainsKey("posts_fts"));
        Assert.Equal(350, report.RowsRecovered);
        using var recovered = Sql.OpenDirect(temp.File("recovered.db"), readOnly: true);
        Assert.Equal(350, recovered.Scalar<long>("SELECT count(*) FROM posts_fts WHERE posts_fts MATCH 'alpha'"));
    }
}
