using System.Text.Json;
using Walden.Backup;
using Walden.Recovery;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Recovery;

/// <summary>
/// What older or unusual files hold comes back from recovery as the original had it, and the report says truthfully what it
/// could not read: a contentless FTS4 table (<c>content=''</c>) is called contentless, never blamed on a tokenizer it does not
/// use; a <c>sqlite_stat3</c> table (older SQLite's statistics, which ANALYZE here empties) keeps its rows; the bytes reserved
/// at the end of each page (header offset 20, which a checksum VFS or an encryption extension fills) stay as many. Before,
/// recover said "cannot be read without the application's tokenizer" of a contentless FTS4 table with SQLite's own
/// tokenizer, emptied sqlite_stat3, and wrote its output with no reserved bytes.
/// </summary>
public sealed class RecoveredLegacyContentTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData("fts4(b, content='')")]
    [InlineData("\"FTS4\" ( content=\"\", b )")]
    public async Task Recover_OfAContentlessFts4Table_SaysItIsContentless_AndBlamesNoTokenizer(string declaration)
    {
        var path = _dir.File("app.db");
        await ForeignProgram.PythonAsync("""
            import sqlite3, sys
            con = sqlite3.connect(sys.argv[1], isolation_level=None)
            con.execute("CREATE TABLE t(x)")
            con.execute("CREATE VIRTUAL TABLE f4 USING " + sys.argv[2])
            con.execute("INSERT INTO f4(docid, b) VALUES (1, 'zeta'), (2, 'eta')")
            con.close()
            """, path, declaration);

        var recover = await WaldenCli.RunAsync("recover", path, "--output", _dir.File("recovered.db"), "--json");

        Assert.True(recover.ExitCode == 0, recover.Stdout + recover.Stderr);
        using var json = JsonDocument.Parse(recover.Stdout);
        var report = json.RootElement.GetProperty("report");
        Assert.Equal(2, report.GetProperty("tables").GetProperty("f4").GetInt64());
        var named = Assert.Single(report.GetProperty("tablesNotReadable").EnumerateArray().Select(n => n.GetString()!));
        Assert.Contains("'f4' is contentless", named, StringComparison.Ordinal);
        Assert.DoesNotContain(report.GetProperty("notes").EnumerateArray(), n => n.GetString()!.Contains("tokenizer", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task Recover_OfAContentlessFts4TableWithTheApplicationsTokenizer_StillNamesTheTokenizer()
    {
        var path = _dir.File("app.db");
        await ForeignProgram.PythonAsync("""
            import sqlite3, sys
            con = sqlite3.connect(sys.argv[1], isolation_level=None)
            con.execute("CREATE VIRTUAL TABLE f4 USING fts4(b, content='', tokenize=simple)")
            con.execute("INSERT INTO f4(docid, b) VALUES (1, 'zeta')")
            con.execute("PRAGMA writable_schema=ON")
            con.execute("UPDATE sqlite_schema SET sql = replace(sql, 'simple', 'apptok') WHERE name = 'f4'")
            con.close()
            """, path);

        var recover = await WaldenCli.RunAsync("recover", path, "--output", _dir.File("recovered.db"), "--json");

        Assert.True(recover.ExitCode == 0, recover.Stdout + recover.Stderr);
        using var json = JsonDocument.Parse(recover.Stdout);
        var named = Assert.Single(json.RootElement.GetProperty("report").GetProperty("tablesNotReadable").EnumerateArray().Select(n => n.GetString()!));
        Assert.Contains("application's tokenizer 'apptok'", named, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Recover_OfAFileWithSqliteStat3_KeepsItsRows_AndComputesSqliteStat1Again()
    {
        // sqlite_stat3 as SQLite 3.7.9 to 3.29 built with STAT3 left it; today's SQLite refuses to create it, so its schema row
        // is written as such a file has it.
        var path = _dir.File("app.db");
        await ForeignProgram.PythonAsync("""
            import sqlite3, sys
            con = sqlite3.connect(sys.argv[1], isolation_level=None)
            con.execute("CREATE TABLE t(a)")
            con.execute("CREATE INDEX i ON t(a)")
            con.executemany("INSERT INTO t VALUES (?)", [(i % 5,) for i in range(100)])
            con.execute("ANALYZE")
            con.execute("DROP TABLE IF EXISTS sqlite_stat4")
            con.execute("CREATE TABLE x3(tbl,idx,neq,nlt,ndlt,sample)")
            con.execute("PRAGMA writable_schema=ON")
            con.execute("UPDATE sqlite_schema SET name='sqlite_stat3', tbl_name='sqlite_stat3', " +
                        "sql='CREATE TABLE sqlite_stat3(tbl,idx,neq,nlt,ndlt,sample)' WHERE name='x3'")
            con.close()
            con = sqlite3.connect(sys.argv[1], isolation_level=None)
            con.execute("INSERT INTO sqlite_stat3(rowid, tbl, idx, neq, nlt, ndlt, sample) VALUES " +
                        "(7, 't', 'i', '20', '0', '0', 0), (9, 't', 'i', '20', '40', '2', 2)")
            con.close()
            """, path);
        var original = Rows(path, "SELECT rowid, * FROM sqlite_stat3 ORDER BY rowid");

        var report = await WaldenRecovery.RecoverToAsync(path, _dir.File("recovered.db"));

        Assert.True(report.Usable, string.Join("\n", report.Notes));
        Assert.Equal(2, original.Count);
        Assert.Equal(original, Rows(_dir.File("recovered.db"), "SELECT rowid, * FROM sqlite_stat3 ORDER BY rowid"));
        Assert.Equal(["i", "t"], Rows(_dir.File("recovered.db"), "SELECT idx FROM sqlite_stat1 UNION SELECT tbl FROM sqlite_stat1 ORDER BY 1"));
        Assert.Empty(Rows(_dir.File("recovered.db"), "SELECT name FROM sqlite_schema WHERE name = 'sqlite_stat4'")); // the original had none
        Assert.Contains(report.Notes, n => n.Contains("sqlite_stat3", StringComparison.Ordinal) && n.Contains("2 row(s)", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData(8, "delete")]
    [InlineData(32, "wal")]
    public async Task RecoverBackupAndRestore_KeepTheReservedBytesPerPage(int reserved, string journal)
    {
        // As the sqlite3 shell leaves a file made for cksumvfs (.filectrl reserve_bytes before its first page is written).
        var path = _dir.File("app.db");
        using (var shell = new SqliteShell(path))
        {
            await shell.RunAsync($".filectrl reserve_bytes {reserved}");
            await shell.RunAsync($"PRAGMA journal_mode={journal}; CREATE TABLE notes(id INTEGER PRIMARY KEY, body TEXT); " +
                "INSERT INTO notes(body) SELECT printf('note %d', value) FROM generate_series(1, 2000);");
        }

        Assert.Equal(reserved, ReservedBytes(path));
        long leaf;
        using (var connection = Sql.OpenDirect(path, readOnly: true))
        {
            leaf = connection.Scalar<long>("SELECT max(pageno) FROM dbstat WHERE name = 'notes' AND pagetype = 'leaf'");
        }

        ForeignProgram.ZeroPage(path, leaf, 4096); // damage: recovery has work to do

        var report = await WaldenRecovery.RecoverToAsync(path, _dir.File("recovered.db"));
        Assert.True(report.Usable, string.Join("\n", report.Notes));
        Assert.Equal(reserved, ReservedBytes(_dir.File("recovered.db")));
        Assert.True(Rows(_dir.File("recovered.db"), "SELECT count(*) FROM notes")[0] is var rows && long.Parse(rows) > 1900, rows);
        Assert.Equal("ok", Rows(_dir.File("recovered.db"), "PRAGMA integrity_check")[0]);

        var inPlace = await WaldenRecovery.RecoverInPlaceAsync(path);
        Assert.True(inPlace.Usable);
        Assert.Equal(reserved, ReservedBytes(path));

        var backup = await WaldenBackups.BackupAsync(path, _dir.File("backups"));
        await WaldenBackups.RestoreAsync(backup.Path, _dir.File("restored.db"));
        Assert.Equal(reserved, ReservedBytes(_dir.File("restored.db")));
        Assert.Equal("ok", Rows(_dir.File("restored.db"), "PRAGMA integrity_check")[0]);
    }

    /// <summary>Header byte 20, read through SQLite (sqlite_dbpage), never from the file itself.</summary>
    private static int ReservedBytes(string path) =>
        Convert.ToInt32(Rows(path, "SELECT hex(substr(data, 21, 1)) FROM sqlite_dbpage WHERE pgno = 1")[0], 16);

    private static List<string> Rows(string path, string sql)
    {
        using var connection = Sql.OpenDirect(path, readOnly: true);
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        var rows = new List<string>();
        while (reader.Read())
        {
            rows.Add(string.Join("|", Enumerable.Range(0, reader.FieldCount).Select(i => Convert.ToString(reader.GetValue(i), System.Globalization.CultureInfo.InvariantCulture))));
        }

        return rows;
    }
}
