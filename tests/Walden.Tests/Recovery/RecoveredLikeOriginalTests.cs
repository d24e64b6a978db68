using Microsoft.Data.Sqlite;
using Walden.Recovery;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Recovery;

/// <summary>
/// A recovered database is the original without its damage, nothing added: the same schema text (STRICT, AUTOINCREMENT,
/// WITHOUT ROWID, an index, a view, a trigger), the same sqlite_sequence, user_version, application_id, page size,
/// auto_vacuum, encoding and journal mode, and the query planner's statistics exactly where the original had them (a program
/// that never ran ANALYZE gets no sqlite_stat1 or sqlite_stat4; one that did gets the tables it had, computed again).
/// </summary>
public sealed class RecoveredLikeOriginalTests : IDisposable
{
    /// <summary>What a Python program leaves: argv[2] "stats" runs ANALYZE at the end, argv[3] "wal" keeps WAL mode.</summary>
    private const string PythonProgram = """
        import sqlite3, sys
        con = sqlite3.connect(sys.argv[1], isolation_level=None)
        con.execute("PRAGMA page_size=8192")
        con.execute("PRAGMA auto_vacuum=INCREMENTAL")
        if sys.argv[3] == "wal":
            con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA user_version=42")
        con.execute("PRAGMA application_id=1234567")
        con.execute("CREATE TABLE items(id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL, qty INTEGER) STRICT")
        con.execute("CREATE TABLE kv(k TEXT PRIMARY KEY, v BLOB) WITHOUT ROWID")
        con.execute("CREATE INDEX items_name ON items(name)")
        con.execute("CREATE VIEW big AS SELECT * FROM items WHERE qty > 5")
        con.execute("CREATE TABLE log(msg TEXT)")
        con.execute("CREATE TRIGGER items_log AFTER INSERT ON items BEGIN INSERT INTO log VALUES ('added ' || new.name); END")
        for i in range(500):
            con.execute("INSERT INTO items(name, qty) VALUES (?, ?)", ("n%d" % i, i % 10))
        con.execute("DELETE FROM items WHERE id > 490")
        for i in range(100):
            con.execute("INSERT INTO kv VALUES (?, ?)", ("k%d" % i, b"x" * i))
        if sys.argv[2] == "stats":
            con.execute("ANALYZE")
        con.close()
        """;

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData("nostats", "delete")]
    [InlineData("nostats", "wal")]
    [InlineData("stats", "delete")]
    [InlineData("stats", "wal")]
    public async Task Recover_OfAPythonProgramsDatabase_GivesItsSchemaSettingsAndStatistics_NothingMore(string statistics, string journal)
    {
        var path = _dir.File("app.db");
        Assert.Equal(0, await ForeignProgram.RunPythonAsync(PythonProgram, new Dictionary<string, string>(), path, statistics, journal));

        var report = await WaldenRecovery.RecoverToAsync(path, _dir.File("recovered.db"));

        Assert.True(report.Usable, string.Join(" | ", report.Notes));
        var original = Describe(path);
        var recovered = Describe(_dir.File("recovered.db"));
        Assert.Equal(original, recovered);
        Assert.Equal(statistics == "stats", original.Any(line => line.Contains("sqlite_stat1", StringComparison.Ordinal)));
    }

    /// <summary>Every fact compared, one line each: settings, schema rows, sqlite_sequence and sqlite_stat1 rows.</summary>
    private static List<string> Describe(string path)
    {
        using var connection = new SqliteConnection($"Data Source={path};Mode=ReadOnly;Pooling=False");
        connection.Open();
        var lines = new List<string>();
        foreach (var pragma in new[] { "user_version", "application_id", "page_size", "auto_vacuum", "encoding", "journal_mode" })
        {
            lines.Add($"{pragma} = {connection.Scalar<object>($"PRAGMA {pragma}")}");
        }

        lines.AddRange(Rows(connection, "SELECT type, name, tbl_name, sql FROM sqlite_schema ORDER BY type, name"));
        lines.AddRange(Rows(connection, "SELECT 'sequence', name, seq FROM sqlite_sequence ORDER BY name"));
        if (connection.Scalar<long>("SELECT count(*) FROM sqlite_schema WHERE name = 'sqlite_stat1'") > 0)
        {
            lines.AddRange(Rows(connection, "SELECT 'stat1', tbl, idx, stat FROM sqlite_stat1 ORDER BY tbl, idx"));
        }

        return lines;
    }

    private static IEnumerable<string> Rows(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        var rows = new List<string>();
        while (reader.Read())
        {
            rows.Add(string.Join(" | ", Enumerable.Range(0, reader.FieldCount).Select(i => reader.IsDBNull(i) ? "NULL" : reader.GetValue(i).ToString())));
        }

        return rows;
    }
}
