using Microsoft.Data.Sqlite;
using Walden.Configuration;
using Walden.Files;

namespace Walden.Recovery;

/// <summary>A row of <c>sqlite_schema</c> whose CREATE statement SQLite cannot run (a flipped byte, a cut or zeroed span), and why.</summary>
internal sealed record DamagedObject(SchemaObject Entry, long SchemaRowId, string Reason);

/// <summary>
/// The rows of a schema SQLite refuses to load ("malformed database schema"): read with <c>PRAGMA writable_schema</c>, under which
/// SQLite loads what parses and still returns every row, then sorted into the statements that run and the damaged ones. The recover
/// extension skips a damaged table's statement but still counts its b-tree as the schema's: its rows would be neither recovered
/// nor in lost_and_found. A copy of the input (never the original) gets, for each damaged table, the known schema's statement of that
/// name, or loses the row so that the table's pages are orphans the extension puts in lost_and_found under its root page.
/// </summary>
internal static class DamagedSchema
{
    /// <summary>
    /// The schema's rows of a file whose header is intact, split into those whose statements run and the damaged ones; null when
    /// SQLite cannot read even the rows. Each statement is run, in the order the recover extension runs them (tables, then
    /// indexes, views and triggers), in an empty in-memory database with the stand-ins registered.
    /// </summary>
    internal static (List<SchemaObject> Sound, List<DamagedObject> Damaged)? Read(string path, bool standInsEnabled)
    {
        var rows = new List<(long RowId, SchemaObject Entry)>();
        try
        {
            var builder = new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadOnly, Pooling = false };
            using var input = new SqliteConnection(builder.ToString());
            input.Open();
            ConnectionFactory.Execute(input, "PRAGMA writable_schema = ON");
            using var command = input.CreateCommand();
            command.CommandText = "SELECT rowid, type, name, tbl_name, rootpage, sql FROM sqlite_schema WHERE sql IS NOT NULL ORDER BY rowid";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                rows.Add((reader.GetInt64(0), new SchemaObject(
                    reader.IsDBNull(1) ? "?" : reader.GetValue(1).ToString()!, reader.IsDBNull(2) ? "?" : reader.GetValue(2).ToString()!,
                    reader.IsDBNull(3) ? "?" : reader.GetValue(3).ToString()!, reader.IsDBNull(4) ? 0 : reader.GetInt64(4),
                    reader.GetValue(5).ToString()!)));
            }
        }
        catch (SqliteException ex) when (!Errors.SqliteErrors.IsDiskFault(ex))
        {
            return null;
        }

        using var scratch = new SqliteConnection("Data Source=:memory:");
        scratch.Open();
        (standInsEnabled ? StandIns.Discover(rows.Select(r => r.Entry.Sql)) : new StandIns()).Register(scratch);
        var sound = new List<SchemaObject>();
        var damaged = new List<DamagedObject>();
        static int Order(SchemaObject o) => o.Type switch { "table" => 0, "index" => 1, "view" => 2, _ => 3 };
        foreach (var (rowId, entry) in rows.OrderBy(r => Order(r.Entry)))
        {
            if (entry.Name.StartsWith("sqlite_", StringComparison.OrdinalIgnoreCase) || entry.IsVirtualTable)
            {
                sound.Add(entry); // SQLite's own tables, and virtual tables (the extension writes their rows as they are, never runs them)
                continue;
            }

            try
            {
                ConnectionFactory.Execute(scratch, entry.Sql);
                // A flipped byte inside the name still parses, and would create another object than the row's.
                using var check = scratch.CreateCommand();
                check.CommandText = "SELECT count(*) FROM sqlite_schema WHERE name = $name COLLATE NOCASE AND type = $type";
                check.Parameters.AddWithValue("$name", entry.Name);
                check.Parameters.AddWithValue("$type", entry.Type);
                if (Convert.ToInt64(check.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) == 0)
                {
                    damaged.Add(new DamagedObject(entry, rowId, $"its statement does not create the {entry.Type} '{entry.Name}' its schema row names"));
                    continue;
                }

                sound.Add(entry);
            }
            catch (SqliteException ex) when (!Errors.SqliteErrors.IsDiskFault(ex))
            {
                damaged.Add(new DamagedObject(entry, rowId, ex.Message.Replace("SQLite Error 1: ", string.Empty, StringComparison.Ordinal).TrimEnd('.')));
            }
        }

        return (sound, damaged);
    }

    /// <summary>
    /// Copies the input (and its -wal) into <paramref name="folder"/> and gives each damaged table on the copy the known schema's
    /// statement of its name, or removes its schema row (its pages then go to lost_and_found under their root page). Returns the
    /// copy, or null when SQLite cannot change the copy's schema (the input is then recovered as it is).
    /// </summary>
    internal static string? PrepareCopy(string input, string folder, IReadOnlyList<DamagedObject> tables, KnownSchema? known)
    {
        var copy = Path.Combine(folder, "input.db");
        DatabaseFiles.CopyRaw(input, copy, "Copying the damaged file to set its damaged schema rows aside");
        if (File.Exists(input + "-wal"))
        {
            DatabaseFiles.CopyRaw(input + "-wal", copy + "-wal", "Copying the damaged file's -wal to set its damaged schema rows aside");
        }

        try
        {
            var builder = new SqliteConnectionStringBuilder { DataSource = copy, Mode = SqliteOpenMode.ReadWrite, Pooling = false };
            using var connection = new SqliteConnection(builder.ToString());
            connection.Open();
            ConnectionFactory.Execute(connection, "PRAGMA writable_schema = ON");
            ConnectionFactory.Execute(connection, "BEGIN");
            foreach (var table in tables)
            {
                using var command = connection.CreateCommand();
                command.Parameters.AddWithValue("$rowid", table.SchemaRowId);
                if (KnownStatement(known, table) is { } sql)
                {
                    command.CommandText = "UPDATE sqlite_schema SET sql = $sql WHERE rowid = $rowid";
                    command.Parameters.AddWithValue("$sql", sql);
                }
                else
                {
                    command.CommandText = "DELETE FROM sqlite_schema WHERE rowid = $rowid";
                }

                command.ExecuteNonQuery();
            }

            ConnectionFactory.Execute(connection, "COMMIT");
            return copy;
        }
        catch (SqliteException ex) when (!Errors.SqliteErrors.IsDiskFault(ex))
        {
            return null;
        }
    }

    /// <summary>The known schema's CREATE TABLE statement for the damaged table's name (case-insensitive), or null.</summary>
    internal static string? KnownStatement(KnownSchema? known, DamagedObject table) =>
        known?.Objects.FirstOrDefault(o => o.Type == table.Entry.Type && o.Name.Equals(table.Entry.Name, StringComparison.OrdinalIgnoreCase))?.Sql;

    /// <summary>
    /// One line per damaged object for the report: what came back and from where, or why it is missing (then also returned in
    /// <paramref name="missing"/>, which makes the result not usable).
    /// </summary>
    internal static List<string> Describe(IReadOnlyList<DamagedObject> damaged, string outputPath, KnownSchema? known, bool copied,
        string lostAndFound, List<string> missing)
    {
        var present = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        var builder = new SqliteConnectionStringBuilder { DataSource = outputPath, Mode = SqliteOpenMode.ReadOnly, Pooling = false };
        using (var output = new SqliteConnection(builder.ToString()))
        {
            output.Open();
            using var command = output.CreateCommand();
            command.CommandText = "SELECT name FROM sqlite_schema";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                present.Add(reader.GetString(0));
            }
        }

        var notes = new List<string>();
        foreach (var (entry, _, reason) in damaged)
        {
            var what = $"{entry.Type} {entry.Name}" + (entry.Type is "table" ? string.Empty : $" (on {entry.TableName})");
            var text = entry.Sql.Length > 300 ? entry.Sql[..300] + "..." : entry.Sql;
            if (present.Contains(entry.Name))
            {
                notes.Add(entry.Type == "table" && copied
                    ? $"The {what}: its CREATE statement in the file is damaged ({reason}); it was recreated from the known schema ({known!.Source}) and its rows read from its b-tree (root page {entry.RootPage})."
                    : $"The {what}: its CREATE statement in the file could not be run ({reason}); it is in the recovered file, from the known schema or once its table was recreated.");
                continue;
            }

            var line = entry.Type == "table" && entry.RootPage > 0 && copied
                ? $"table {entry.Name}: schema damaged, rows in {lostAndFound} (rootpage {entry.RootPage}); give 'walden recover' the healthy schema with --schema-from to get them back into the table"
                : entry.Type == "table"
                    ? $"table {entry.Name}: schema damaged ({reason}), its rows could not be set apart (rootpage {entry.RootPage})"
                    : $"{what}: its CREATE statement is damaged ({reason}), not recovered; its text as read: {text}";
            missing.Add(line);
        }

        return notes;
    }
}
