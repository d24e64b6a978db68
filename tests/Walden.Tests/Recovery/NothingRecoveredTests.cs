using Walden.Integrity;
using Walden.Recovery;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Recovery;

/// <summary>
/// Recovery never calls an outcome usable, nor swaps it in, when it is not what the user had: a file with no SQLite page at all
/// (an encrypted database) is refused with nothing changed, and an empty result from a file whose pages held records is not usable.
/// </summary>
public sealed class NothingRecoveredTests
{
    [Fact]
    public async Task AnEncryptedDatabase_IsCalledNotSqlite_AndRecoveryRefusesWithTheFileUnchanged()
    {
        using var temp = new TempDirectory();
        var path = temp.File("app.db");
        var random = new byte[4096 * 20]; // SQLCipher's pages: random bytes to anyone without the key, no header
        new Random(38).NextBytes(random);
        File.WriteAllBytes(path, random);

        var (checkExit, checkOut, checkErr) = await WaldenCli.RunAsync("check", path);
        Assert.True(checkExit == 2, checkOut + checkErr);
        Assert.Contains("encrypted", checkOut + checkErr, StringComparison.Ordinal);

        await Assert.ThrowsAsync<WaldenConfigurationException>(() => WaldenRecovery.RecoverInPlaceAsync(path));
        await Assert.ThrowsAsync<WaldenConfigurationException>(() => WaldenRecovery.RecoverToAsync(path, temp.File("out.db")));
        Assert.Equal(random, File.ReadAllBytes(path));
        Assert.False(Directory.Exists(temp.File("walden-quarantine")));
        Assert.False(File.Exists(temp.File("out.db")));
    }

    [Fact]
    public async Task ADatabaseWhoseHeaderWasZeroed_IsStillRecovered_NotCalledNotSqlite()
    {
        using var temp = new TempDirectory();
        var path = temp.File("app.db");
        await ForeignProgram.PythonAsync(Utf16Program, path, "UTF-8");
        ZeroHeader(path);

        Assert.Equal(WaldenFileStatus.Corrupt, WaldenIntegrity.CheckFile(path).Status);
        var report = await WaldenRecovery.RecoverToAsync(path, temp.File("out.db"));
        Assert.True(report.Usable, string.Join("\n", report.Notes));
        Assert.Equal(300, report.Tables["u"]);
    }

    [Fact]
    public async Task NothingRecoveredFromPagesThatHeldRecords_IsNotUsable_AndInPlaceLeavesTheOriginal()
    {
        using var temp = new TempDirectory();
        var path = temp.File("app.db");
        await ForeignProgram.PythonAsync(Utf16Program, path, "UTF-16le");
        ZeroHeader(path); // every b-tree page intact; the header repaired on copies says UTF-8, so no record decodes
        var before = File.ReadAllBytes(path);

        var report = await WaldenRecovery.RecoverToAsync(path, temp.File("out.db"));
        if (report.RowsRecovered + report.LostAndFoundRows == 0)
        {
            Assert.False(report.Usable);
            Assert.NotNull(report.WhyNotUsable);
            var refused = await Assert.ThrowsAsync<WaldenException>(() => WaldenRecovery.RecoverInPlaceAsync(path));
            Assert.Contains("nothing was recovered", refused.Message, StringComparison.Ordinal);
            Assert.Equal(before, File.ReadAllBytes(path));
            Assert.False(Directory.Exists(temp.File("walden-quarantine")));
        }
        else
        {
            Assert.Equal(300, report.RowsRecovered); // the encoding was told from the pages: every row back
        }
    }

    private const string Utf16Program = """
        import sqlite3, sys
        path, encoding = sys.argv[1:3]
        con = sqlite3.connect(path)
        con.execute("PRAGMA encoding = '%s'" % encoding)
        con.execute("CREATE TABLE u(x TEXT, y TEXT)")
        for i in range(300):
            con.execute("INSERT INTO u VALUES (?, ?)", ("h\u00e9llo %d" % i, "\u65e5\u672c" * (i % 20)))
        con.commit()
        con.close()
        """;

    private static void ZeroHeader(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Write);
        stream.Write(new byte[100]);
    }
}
