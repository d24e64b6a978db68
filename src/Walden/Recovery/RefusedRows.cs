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

    /// <summary>A row the extension refused: its table, its rowid (none for WITHOUT ROWID) and its columns' values.</summary>
    internal sealed record Row(string Table, object? Id, List<object?> Values);

    /// <summary>
    /// Reads the rows left in the watch table <paramref name="name"/> of the output and drops it, before anything else reads the
    /// output's schema (a table of any shape would make orphaned rows look ambiguous to <see cref="LostAndFoundMapper"/>).
    /// </summary>
    internal static List<Row> Take(SqliteConnection output, string name)
    {
        var rows = new List<Row>();
        if (!LostAndFoundMapper.TableExists(output, name))
        {
            return rows;
        }

        var quoted = LostAndFoundMapper.Quote(name);
        using (var command = output.CreateCommand())
        {
            command.CommandText = $"SELECT * FROM {quoted} ORDER BY seq";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                var count = reader.GetInt32(3);
                var values = Enumerable.Range(0, count).Select(i => reader.IsDBNull(4 + i) ? null : reader.GetValue(4 + i)).ToList();
                rows.Add(new Row(reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetValue(2), values));
            }
        }

        ConnectionFactory.Execute(output, $"DROP TABLE {quoted}");
        return rows;
    }

    /// <summary>
    /// Puts each refused row in lost_and_found, never back in its table: on a damaged file a refused row is often a copy damage
    /// made (a rowid twice), and the table keeps exactly the rows the extension gave it. The insert is tried once, and rolled
    /// back, only to learn SQLite's reason, which the notes give per table. Returns the rows put in lost_and_found.
    /// </summary>
    internal static long Settle(SqliteConnection output, List<Row> rows, List<string> notes, RecoveryContext context)
    {
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

            var reason = "refused when recovered; a row it conflicted with was since taken out";
            ConnectionFactory.Execute(output, "SAVEPOINT walden_refused");
            try
            {
                insert.ExecuteNonQuery();
            }
            catch (SqliteException ex) when (ex.SqliteErrorCode == 19) // SQLITE_CONSTRAINT
            {
                reason = Reason(ex);
            }
            finally
            {
                ConnectionFactory.Execute(output, "ROLLBACK TO walden_refused");
                ConnectionFactory.Execute(output, "RELEASE walden_refused");
            }

            LostAndFound.Add(output, context.LostAndFound, null, id is long rowid ? rowid : null, values);
            refused[table] = refused.TryGetValue(table, out var seen) ? (seen.Count + 1, seen.Reason) : (1, reason);
        }

        foreach (var (table, (count, reason)) in refused)
        {
            notes.Add($"{count:N0} row(s) read from the table '{table}' are refused by its own constraints ({reason}): rows the file held against " +
                $"them (a constraint added later) or rows damage changed. They are in {context.LostAndFound} (id = the rowid, c0, c1, ... = the " +
                "table's columns in order), not in the table, for the application to check and put back.");
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
