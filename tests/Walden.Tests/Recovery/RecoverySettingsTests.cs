using Walden.Backup;
using Walden.Recovery;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Recovery;

/// <summary>A recovered or restored file keeps every persistent setting of the original.</summary>
public sealed class RecoverySettingsTests
{
    private const string Program = """
        import sqlite3, sys
        path, encoding, page_size, auto_vacuum, journal = sys.argv[1:6]
        con = sqlite3.connect(path, isolation_level=None)
        con.execute("PRAGMA encoding = '%s'" % encoding)
        con.execute("PRAGMA page_size = %s" % page_size)
        con.execute("PRAGMA auto_vacuum = %s" % auto_vacuum)
        con.execute("PRAGMA user_version = 42")
        con.execute("PRAGMA application_id = 1463897164")
        con.execute("PRAGMA journal_mode = %s" % journal)
        con.execute("CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT)")
        con.execute("BEGIN")
        con.executemany("INSERT INTO notes(body) VALUES (?)", [("note %d " % i * 3,) for i in range(3000)])
        con.execute("COMMIT")
        con.close()
        """;

    [Theory]
    [InlineData("UTF-16le", 8192, "INCREMENTAL", "WAL")]
    [InlineData("UTF-16be", 1024, "FULL", "DELETE")]
    [InlineData("UTF-8", 4096, "NONE", "WAL")]
    public async Task RecoveryAndRestore_KeepEveryPersistentSettingOfTheOriginal(string encoding, int pageSize, string autoVacuum, string journal)
    {
        using var temp = new TempDirectory();
        var path = temp.File("app.db");
        await ForeignProgram.PythonAsync(Program, path, encoding, pageSize.ToString(System.Globalization.CultureInfo.InvariantCulture), autoVacuum, journal);
        var original = Settings(path);
        Assert.Equal(journal.ToLowerInvariant(), original[0]);
        long leaf;
        using (var connection = Sql.OpenDirect(path, readOnly: true))
        {
            leaf = connection.Scalar<long>("SELECT max(pageno) FROM dbstat WHERE name = 'notes' AND pagetype = 'leaf'");
        }

        ForeignProgram.ZeroPage(path, leaf, pageSize); // damage: recovery has work to do

        var report = await WaldenRecovery.RecoverToAsync(path, temp.File("recovered.db"));
        Assert.True(report.Usable, string.Join("\n", report.Notes));
        Assert.Equal(original, Settings(temp.File("recovered.db")));

        var inPlace = await WaldenRecovery.RecoverInPlaceAsync(path);
        Assert.True(inPlace.Usable);
        Assert.Equal(original, Settings(path));

        var backup = await WaldenBackups.BackupAsync(path, temp.File("backups"));
        await WaldenBackups.RestoreAsync(backup.Path, temp.File("restored.db"));
        Assert.Equal(original, Settings(temp.File("restored.db")));
    }

    [Fact]
    public async Task PageOneBodyDamaged_HeaderIntact_TheHeadersSettingsAreKept_WalIncluded()
    {
        using var temp = new TempDirectory();
        var path = temp.File("app.db");
        await ForeignProgram.PythonAsync(Program, path, "UTF-8", "8192", "INCREMENTAL", "WAL");
        var original = Settings(path);
        File.Copy(path, temp.File("schema.db"));
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Write))
        {
            stream.Position = 100;
            stream.Write(new byte[8192 - 100]); // the schema page's body; the 100-byte header is intact
        }

        var report = await WaldenRecovery.RecoverToAsync(path, temp.File("recovered.db"), new WaldenRecoveryOptions { SchemaFrom = temp.File("schema.db") });
        Assert.Equal(3000, report.Tables["notes"]);
        Assert.Equal(original, Settings(temp.File("recovered.db")));
        Assert.DoesNotContain(report.Notes, note => note.Contains("could not be read", StringComparison.Ordinal));
    }

    private static string[] Settings(string path)
    {
        using var connection = Sql.OpenDirect(path, readOnly: true);
        return
        [
            connection.Scalar<string>("PRAGMA journal_mode").ToLowerInvariant(),
            $"page_size {connection.Scalar<long>("PRAGMA page_size")}",
            $"auto_vacuum {connection.Scalar<long>("PRAGMA auto_vacuum")}",
            $"user_version {connection.Scalar<long>("PRAGMA user_version")}",
            $"application_id {connection.Scalar<long>("PRAGMA application_id")}",
            $"encoding {connection.Scalar<string>("PRAGMA encoding")}",
        ];
    }
}
