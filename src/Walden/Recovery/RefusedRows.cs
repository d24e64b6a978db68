using Microsoft.Data.Sqlite;
using Walden.Configuration;

namespace Walden.Recovery;

/// <summary>
/// Rows the recover extension read but its output table refused. The extension writes each row with
/// <c>INSERT OR IGNORE</c>, so a row that breaks the table's NOT NULL, UNIQUE or PRIMARY KEY constraint vanishes without a
/// word; such rows exist in real files (a constraint added later through <c>writable_schema</c>, a NULL written before
/// NOT NULL was declared, a duplicate left by an index whose collation changed). Temporary triggers on the extension's own
/// output connection keep a copy of every row it tries (BEFORE INSERT) and drop the copy again when the row went in (AFTER
/// INSERT): what is left are the refused rows. <see cref="Settle"/> tries each once more, to learn SQLite's reason, and
/// puts it in lost_and_found, named in the report.
/// </summary>
internal static class RefusedRows
{
    /// <summary>A table of the input as the extension creates it: its name and the columns a row is written to.</summary>
    internal sealed record Table(string Name, List<string> Columns, bool WithoutRowid);

    /// <summary>The tables the input's schema creates, each with its ordinary columns; empty when the schema cannot be read.</summary>
    internal static List<Table> TablesOf(IEnumerable<SchemaObject>? schema)
    {
        var tables = new List<Table>();
        if (schema is null)
        {
            return tables;
        }

        using var memory = new SqliteConnection("Data Source=:memory:");
        memory.Open();
        foreach (var table in schema.Where(o => o.Type == "table" && !o.IsVirtualTable && !o.Name.StartsWith("sqlite_", StringComparison.OrdinalIgnoreCase)))
        {
            try
            {
                ConnectionFactory.Execute(memory, table.Sql);
                using var command = memory.CreateCommand();
                command.CommandText = "SELECT name FROM pragma_table_xinfo($table) WHERE hidden = 0";
                command.Parameters.AddWithValue("$table", table.Name);
                var columns = new List<string>();
                using (var reader = command.ExecuteReader())
                {
                    while (reader.Read())
                    {
                        columns.Add(reader.GetString(0));
                    }
                }

                using var kind = memory.CreateCommand();
                kind.CommandText = "SELECT wr FROM pragma_table_list WHERE schema = 'main' AND name = $table";
                kind.Parameters.AddWithValue("$table", table.Name);
                tables.Add(new Table(table.Name, columns, Convert.ToInt64(kind.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) == 1));
            }
            catch (SqliteException)
            {
                // a definition SQLite cannot take (the extension cannot create it either): no rows to watch
            }
        }

        return tables;
    }

    /// <summary>
    /// The statements that make the extension's output connection (its tables just created) keep the rows it
    /// refuses in the table <paramref name="name"/>. Run one by one: a table the extension could not create has no trigger.
    /// </summary>
    internal static IEnumerable<string> Watch(string name, IReadOnlyList<Table> tables)
    {
        var width = tables.Count == 0 ? 0 : tables.Max(t => t.Columns.Count);
        var quoted = LostAndFoundMapper.Quote(name);
        yield return $"CREATE TABLE main.{quoted}(seq INTEGER PRIMARY KEY, tbl TEXT, id, nfield INTEGER" +
            string.Concat(Enumerable.Range(0, width).Select(i => $", c{i}")) + ")";
        for (var i = 0; i < tables.Count; i++)
        {
            var table = tables[i];
            var target = $"main.{LostAndFoundMapper.Quote(table.Name)}";
            var columns = string.Concat(Enumerable.Range(0, table.Columns.Count).Select(c => $", c{c}"));
            var values = string.Concat(table.Columns.Select(c => $", NEW.{LostAndFoundMapper.Quote(c)}"));
            // A temporary trigger's body names tables unqualified; none of this name is in temp, so it is main's.
            // rowid in a BEFORE INSERT trigger is the one the extension gives; a WITHOUT ROWID table has none (NULL).
            var rowid = table.WithoutRowid ? "NULL" : "NEW.rowid";
            yield return $"CREATE TEMP TRIGGER walden_refused_before_{i} BEFORE INSERT ON {target} BEGIN " +
                $"INSERT INTO {quoted}(tbl, id, nfield{columns}) VALUES({Literal(table.Name)}, {rowid}, {table.Columns.Count}{values}); END";
            yield return $"CREATE TEMP TRIGGER walden_refused_after_{i} AFTER INSERT ON {target} BEGIN " +
                $"DELETE FROM {quoted} WHERE seq = (SELECT max(seq) FROM {quoted}); END";
        }
    }

    /// <summary>
    /// Each row left in the table <paramref name="name"/> of the output is tried once more in its own table (it may go in
    /// now: a damaged duplicate may have been taken out since); the rest goes to lost_and_found with SQLite's reason in the
    /// notes, per table. The watch table is dropped. Returns the rows put in lost_and_found.
    /// </summary>
    internal static long Settle(SqliteConnection output, string name, List<string> notes, RecoveryContext context)
    {
        if (!LostAndFoundMapper.TableExists(output, name))
        {
            return 0;
        }

        var quoted = LostAndFoundMapper.Quote(name);
        var rows = new List<(string Table, object? Id, List<object?> Values)>();
        using (var command = output.CreateCommand())
        {
            command.CommandText = $"SELECT * FROM {quoted} ORDER BY seq";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                var count = reader.GetInt32(3);
                var values = Enumerable.Range(0, count).Select(i => reader.IsDBNull(4 + i) ? null : reader.GetValue(4 + i)).ToList();
                rows.Add((reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetValue(2), values));
            }
        }

        var refused = new Dictionary<string, (int Count, string Reason)>(StringComparer.Ordinal);
        foreach (var (table, id, values) in rows)
        {
            var columns = ColumnsOf(output, table);
            using var insert = output.CreateCommand();
            insert.CommandText = $"INSERT INTO {LostAndFoundMapper.Quote(table)}(" + string.Join(", ", columns.Select(LostAndFoundMapper.Quote)) + ") VALUES(" +
                string.Join(", ", columns.Select((_, i) => $"$v{i}")) + ")";
            for (var i = 0; i < columns.Count; i++)
            {
                insert.Parameters.AddWithValue($"$v{i}", (i < values.Count ? values[i] : null) ?? DBNull.Value);
            }

            try
            {
                ConnectionFactory.Execute(output, "SAVEPOINT walden_refused");
                insert.ExecuteNonQuery();
                ConnectionFactory.Execute(output, "RELEASE walden_refused");
            }
            catch (SqliteException ex) when (ex.SqliteErrorCode == 19) // SQLITE_CONSTRAINT
            {
                ConnectionFactory.Execute(output, "ROLLBACK TO walden_refused");
                ConnectionFactory.Execute(output, "RELEASE walden_refused");
                LostAndFound.Add(output, context.LostAndFound, null, id is long rowid ? rowid : null, values);
                refused[table] = refused.TryGetValue(table, out var seen) ? (seen.Count + 1, seen.Reason) : (1, Reason(ex));
            }
        }

        ConnectionFactory.Execute(output, $"DROP TABLE {quoted}");
        foreach (var (table, (count, reason)) in refused)
        {
            notes.Add($"{count:N0} row(s) of the table '{table}' break its own constraints as the original file held them, so SQLite refuses them " +
                $"in that table ({reason}): they are in {context.LostAndFound} (id = the rowid, c0, c1, ... = the table's columns in order), " +
                "for the application to correct and put back.");
        }

        return refused.Values.Sum(r => (long)r.Count);
    }

    private static List<string> ColumnsOf(SqliteConnection connection, string table)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT name FROM pragma_table_xinfo($table) WHERE hidden = 0";
        command.Parameters.AddWithValue("$table", table);
        var columns = new List<string>();
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            columns.Add(reader.GetString(0));
        }

        return columns;
    }

    /// <summary>SQLite's own words ("UNIQUE constraint failed: users.email"), without Microsoft.Data.Sqlite's wrapping.</summary>
    private static string Reason(SqliteException exception) =>
        System.Text.RegularExpressions.Regex.Match(exception.Message, @"'(.+)'\.?$") is { Success: true } quoted ? quoted.Groups[1].Value : exception.Message;

    private static string Literal(string text) => "'" + text.Replace("'", "''", StringComparison.Ordinal) + "'";
}
