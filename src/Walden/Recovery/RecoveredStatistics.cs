using Microsoft.Data.Sqlite;
using Walden.Configuration;

namespace Walden.Recovery;

/// <summary>
/// The query planner's statistics (<c>sqlite_stat1</c>, <c>sqlite_stat4</c>...) of a recovered file: present exactly where the
/// original had them. ANALYZE creates every statistics table this SQLite knows (Walden's build has STAT4) and the application's
/// query plans follow them, so a recovered file of a program that never ran ANALYZE must not gain any; one that had them gets
/// them computed again from the rows recovered (the original's numbers describe rows that may be gone), and only the tables
/// it had.
/// </summary>
internal static class RecoveredStatistics
{
    /// <summary>The statistics tables among <paramref name="schema"/> (the original's, or the schema source's); empty when unknown.</summary>
    internal static IReadOnlySet<string> Of(IEnumerable<SchemaObject>? schema) =>
        (schema ?? []).Where(o => o.Type == "table" && IsStatistics(o.Name))
            .Select(o => o.Name.ToLowerInvariant()).ToHashSet(StringComparer.Ordinal);

    /// <summary>
    /// Runs ANALYZE when the original had statistics, then drops the statistics tables it did not have (all of them when it had
    /// none). Outside a transaction, on the output only.
    /// </summary>
    internal static void Refresh(SqliteConnection output, IReadOnlySet<string> original)
    {
        if (original.Count > 0)
        {
            ConnectionFactory.Execute(output, "ANALYZE");
        }

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

        foreach (var name in present.Where(n => IsStatistics(n) && !original.Contains(n.ToLowerInvariant())))
        {
            ConnectionFactory.Execute(output, $"DROP TABLE {LostAndFoundMapper.Quote(name)}");
        }
    }

    private static bool IsStatistics(string name) =>
        name.StartsWith("sqlite_stat", StringComparison.OrdinalIgnoreCase) && name.Length == "sqlite_stat".Length + 1 && char.IsAsciiDigit(name[^1]);
}
