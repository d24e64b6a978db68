using Walden.Recovery;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Recovery;

/// <summary>
/// A header repaired on copies gets the database's text encoding back, not only its page size: a UTF-16 database (as Windows, .NET
/// and Java programs create with PRAGMA encoding) whose first sector was zeroed gives back every row with its text as it was. Before,
/// the repaired header always said UTF-8: 0 rows came back, and the result was called usable.
/// </summary>
public sealed class DamagedHeaderEncodingTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData("UTF-16le", 100)]
    [InlineData("UTF-16be", 100)]
    [InlineData("UTF-16le", 512)]
    [InlineData("UTF-16be", 512)]
    [InlineData("UTF-8", 100)]
    [InlineData("UTF-8", 512)]
    public async Task Recover_OfADatabaseWhoseFirstBytesWereZeroed_GivesBackEveryRowInItsEncoding(string encoding, int zeroed)
    {
        var good = _dir.File("good.db");
        await ForeignProgram.PythonAsync("""
            import sqlite3, sys
            con = sqlite3.connect(sys.argv[1])
            con.execute("PRAGMA encoding = '%s'" % sys.argv[2])
            con.execute("CREATE TABLE u(x TEXT, y TEXT)")
            con.execute("CREATE TABLE n(id INTEGER PRIMARY KEY, label TEXT NOT NULL)")
            for i in range(300):
                con.execute("INSERT INTO u VALUES (?, ?)", ("h\u00e9llo \u2713%d" % i, "\u65e5\u672c\u8a9e" * (i % 20)))
                con.execute("INSERT INTO n(label) VALUES (?)", ("\u00fcber %d" % i,))
            con.commit()
            con.close()
            """, good, encoding);
        var bad = _dir.File("bad.db");
        File.Copy(good, bad);
        using (var stream = new FileStream(bad, FileMode.Open, FileAccess.Write))
        {
            stream.Write(new byte[zeroed]);
        }

        var output = _dir.File("out.db");
        var report = await WaldenRecovery.RecoverToAsync(bad, output);

        if (zeroed == 100)
        {
            Assert.True(report.Usable, report.WhyNotUsable + "\n" + string.Join("\n", report.Notes));
            Assert.Equal(300, report.Tables["u"]);
            Assert.Equal(300, report.Tables["n"]);
            Assert.Equal(Rows(good), Rows(output));
        }
        else
        {
            // The schema page's b-tree header is gone too: the rows come back, to their table or to lost_and_found, in their text.
            Assert.Equal(600, report.RowsRecovered + report.LostAndFoundRows);
            using var connection = Sql.OpenDirect(output, readOnly: true);
            var lost = report.LostAndFoundRows == 0 ? 0 : connection.Scalar<long>(
                $"SELECT count(*) FROM {report.LostAndFoundTable} WHERE c0 LIKE 'h\u00e9llo \u2713%' OR c1 LIKE '\u00fcber %'");
            var texts = lost + report.Tables.GetValueOrDefault("u") + report.Tables.GetValueOrDefault("n");
            Assert.Equal(600, texts);
        }

        using (var connection = Sql.OpenDirect(output, readOnly: true))
        {
            Assert.Equal(encoding, connection.Scalar<string>("PRAGMA encoding"));
        }
    }

    private static List<string> Rows(string path)
    {
        using var connection = Sql.OpenDirect(path, readOnly: true);
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT 'u|' || x || '|' || y FROM u UNION ALL SELECT 'n|' || id || '|' || label FROM n ORDER BY 1";
        using var reader = command.ExecuteReader();
        var rows = new List<string>();
        while (reader.Read())
        {
            rows.Add(reader.GetString(0));
        }

        return rows;
    }
}
