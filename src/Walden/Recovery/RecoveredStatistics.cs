using Microsoft.Data.Sqlite;
using Walden.Configuration;

namespace Walden.Recovery;

/// <summary>
/// The query planner's statistics (<c>sqlite_stat1</c>, <c>sqlite_stat4</c>...) of a recovered file: present exactly where the
/// original had them. ANALYZE creates every statistics table this SQLite knows (Walden's build has STAT4) and the application's
/// query plans follow them, so a recovered file of a program that never ran ANALYZE must not gain any; one that had them gets
/// them computed again from the rows recovered (the original's numbers describe rows that may be gone), and only the tables
/// it had. ANALYZE computes only <c>sqlite_stat1</c> and <c>sqlite_stat4</c>, yet empties a <c>sqlite_stat3</c> it finds
/// (analyze.c); the tables of older SQLite versions (<c>sqlite_stat2</c>, <c>sqlite_stat3</c>), which only those versions read,
/// keep the rows recovered from the original, as every other table does.
/// </summary>
internal static class RecoveredStatistics
{
    /// <summary>The statistics tables this SQLite's ANALYZE computes (Walden's build has STAT4).</summary>
    private static readonly HashSet<string> Computed = new(StringComparer.Ordinal) { "sqlite_stat1", "sqlite_stat4" };

    /// <summary>The statistics tables among <paramref name="schema"/> (the original's, or the schema source's); empty when unknown.</summary>
    internal static IReadOnlySet<string> Of(IEnumerable<SchemaObject>? schema) =>
        (schema ?? []).Where(o => o.Type == "table" && IsStatistics(o.Name))
            .Select(o => o.Name.ToLowerInvariant()).ToHashSet(StringComparer.Ordinal);

    /// <summary>
    /// Runs ANALYZE when the original had statistics, then drops the statistics tables it did not have (all of them when it had
    /// none). The rows of the statistics tables ANALYZE does not compute (<c>sqlite_stat2</c>, <c>sqlite_stat3</c>) are kept as
    /// recovered, with a sentence in <paramref name="notes"/> when given. Outside a transaction, on the output only.
    /// </summary>
    internal static void Refresh(SqliteConnection output, IReadOnlySet<string> original, List<string>? notes = null)
    {
        var present = Present(output);
        var kept = present.Where(n => !Computed.Contains(n.ToLowerInvariant()) && original.Contains(n.ToLowerInvariant())).ToList();
        if (original.Count > 0)
        {
            ConnectionFactory.Execute(output, "BEGIN");
            foreach (var (name, i) in kept.Select((n, i) => (n, i)))
            {
                ConnectionFactory.Execute(output, $"CREATE TEMP TABLE walden_stat_{i} AS SELECT rowid AS walden_rowid, * FROM main.{LostAndFoundMapper.Quote(name)}");
            }

            ConnectionFactory.Execute(output, "ANALYZE");
            foreach (var (name, i) in kept.Select((n, i) => (n, i)))
            {
                var columns = string.Join(", ", Columns(output, name).Select(LostAndFoundMapper.Quote));
                var table = $"main.{LostAndFoundMapper.Quote(name)}";
                ConnectionFactory.Execute(output, $"DELETE FROM {table}");
                ConnectionFactory.Execute(output, $"INSERT INTO {table}(rowid, {columns}) SELECT walden_rowid, {columns} FROM temp.walden_stat_{i}");
                ConnectionFactory.Execute(output, $"DROP TABLE temp.walden_stat_{i}");
            }

            RecoveredDatabase.Commit(output);
        }

        foreach (var name in Present(output).Where(n => !original.Contains(n.ToLowerInvariant())))
        {
            ConnectionFactory.Execute(output, $"DROP TABLE {LostAndFoundMapper.Quote(name)}");
        }

        foreach (var name in kept)
        {
            var rows = ConnectionFactory.Scalar<long>(output, $"SELECT count(*) FROM main.{LostAndFoundMapper.Quote(name)}");
            notes?.Add($"The original's {name} (query-planner statistics that only older SQLite versions write and read; this SQLite " +
                $"neither computes nor uses them) was kept with the {rows:N0} row(s) recovered from it: they describe the original's rows, " +
                "which may differ from those recovered.");
        }
    }

    private static List<string> Columns(SqliteConnection connection, string table)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT name FROM pragma_table_info($table, 'main') ORDER BY cid";
        command.Parameters.AddWithValue("$table", table);
        using var reader = command.ExecuteReader();
        var columns = new List<string>();
        while (reader.Read())
        {
            columns.Add(reader.GetString(0));
        }

        return columns;
    }

    private static List<string> Present(SqliteConnection output)
    {
        var present = new List<string>();
        using (var command = output.CreateCommand())
        {
            command.CommandText = "SELECT name FROM sqlite_schema WHERE type = 'table' AND name LIKE 'sqlite\\_stat%' ESCAPE '\\'";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                present.Add(reader.GetString(0));
            }
        }

        return present.Where(IsStatistics).ToList();
    }

    private static bool IsStatistics(string name) =>
        name.StartsWith("sqlite_stat", StringComparison.OrdinalIgnoreCase) && name.Length == "sqlite_stat".Length + 1 && char.IsAsciiDigit(name[^1]);
}
