using Walden.Recovery;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Recovery;

/// <summary>A table using the application's collation comes back with its rows when the header's magic is damaged, as with it intact.</summary>
public sealed class DamagedMagicStandInTests
{
    private const string Program = """
        import sqlite3, sys
        con = sqlite3.connect(sys.argv[1])
        con.create_collation("LOCALIZED", lambda a, b: (a > b) - (a < b))
        con.executescript('''
        CREATE TABLE android_metadata (locale TEXT);
        INSERT INTO android_metadata VALUES('en_US');
        CREATE TABLE contacts(_id INTEGER PRIMARY KEY AUTOINCREMENT, display_name TEXT COLLATE LOCALIZED, phone TEXT);
        ''')
        for i in range(500):
            con.execute("INSERT INTO contacts(display_name, phone) VALUES (?, ?)", ("Name%d" % i, "555-%04d" % i))
        con.commit()
        con.close()
        """;

    [Fact]
    public async Task OneByteOfTheMagicDamaged_ATableInTheApplicationsCollation_ComesBackWithItsRows()
    {
        using var temp = new TempDirectory();
        var path = temp.File("contacts2.db");
        await ForeignProgram.PythonAsync(Program, path);
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Write))
        {
            stream.Position = 14;
            stream.WriteByte((byte)'2'); // "SQLite format 2"
        }

        var report = await WaldenRecovery.RecoverToAsync(path, temp.File("out.db"));
        Assert.True(report.Tables.TryGetValue("contacts", out var rows), string.Join("\n", report.Notes));
        Assert.Equal(500, rows);
        Assert.Contains(report.StandIns, line => line.Contains("LOCALIZED", StringComparison.Ordinal));
    }
}
