using Microsoft.Data.Sqlite;
using Walden.Configuration;

namespace Walden.Recovery;

/// <summary>
/// Keeps AUTOINCREMENT's promise that no id is handed out twice. When sqlite_schema's page is lost, the recovered
/// sqlite_sequence is rebuilt from each table's highest rowid, lower than the counter when the newest rows were deleted; the
/// original counter row, intact on its own page, is then among the orphaned rows as (name, seq). Such a row naming a table of
/// sqlite_sequence with a higher value raises the counter to it, and the report says so.
/// </summary>
internal static class RecoveredSequence
{
    internal static void Keep(string outputPath, RecoveryContext context, List<string> notes)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = outputPath, Mode = SqliteOpenMode.ReadWrite, Pooling = false }.ToString());
        connection.Open();
        if (ConnectionFactory.Scalar<long>(connection,
                $"SELECT count(*) FROM sqlite_schema WHERE name IN ('sqlite_sequence', '{context.LostAndFound.Replace("'", "''", StringComparison.Ordinal)}')") != 2)
        {
            return;
        }

        using var command = connection.CreateCommand();
        command.CommandText =
            $"SELECT s.name, s.seq, max(l.c1) FROM sqlite_sequence s JOIN {context.LostAndFoundSql} l " +
            "ON l.nfield = 2 AND typeof(l.c0) = 'text' AND l.c0 = s.name AND typeof(l.c1) = 'integer' " +
            "GROUP BY s.name, s.seq HAVING max(l.c1) > s.seq";
        var raised = new List<(string Name, long Was, long Now)>();
        using (var reader = command.ExecuteReader())
        {
            while (reader.Read())
            {
                raised.Add((reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2)));
            }
        }

        foreach (var (name, was, now) in raised)
        {
            using var update = connection.CreateCommand();
            update.CommandText = "UPDATE sqlite_sequence SET seq = $seq WHERE name = $name";
            update.Parameters.AddWithValue("$seq", now);
            update.Parameters.AddWithValue("$name", name);
            update.ExecuteNonQuery();
            notes.Add($"The AUTOINCREMENT counter of {name} was set to {now:N0}, from the counter row ('{name}', {now:N0}) found among the orphaned " +
                $"rows in {context.LostAndFound}: rebuilt from the highest rowid it would have been {was:N0}, and ids after it, already handed " +
                "out once, would have been handed out again.");
        }
    }
}
