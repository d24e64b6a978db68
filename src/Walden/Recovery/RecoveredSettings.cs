using System.Globalization;
using Microsoft.Data.Sqlite;
using Walden.Configuration;

namespace Walden.Recovery;

/// <summary>
/// What the recovered file must keep of the original besides rows: its persistent settings, every object
/// of its schema, and a word on each stand-in the recovery had to use for the application's own names.
/// </summary>
internal static class RecoveredSettings
{
    /// <summary>
    /// Gives the recovered file the original's persistent settings: page size, auto_vacuum and text
    /// encoding (the recover extension copies these; a difference is repaired with VACUUM or named),
    /// user_version, application_id, the bytes reserved per page and the WAL journal mode (which the extension does not copy:
    /// it writes its output with none reserved, and a checksum VFS or encryption extension would find none of its data's room).
    /// </summary>
    internal static void Keep(string outputPath, DatabaseSettings? original, List<string> notes)
    {
        if (original is null)
        {
            notes.Add("The original's settings (page size, journal mode, user_version...) could not be read: the recovered file has SQLite's defaults where the header was lost.");
            return;
        }

        using var connection = Open(outputPath);
        var now = DatabaseSettings.Read(connection);
        if (now.UserVersion != original.UserVersion)
        {
            ConnectionFactory.Execute(connection, $"PRAGMA user_version = {original.UserVersion.ToString(CultureInfo.InvariantCulture)}");
        }

        if (now.ApplicationId != original.ApplicationId)
        {
            ConnectionFactory.Execute(connection, $"PRAGMA application_id = {original.ApplicationId.ToString(CultureInfo.InvariantCulture)}");
        }

        if (now.PageSize != original.PageSize || now.AutoVacuum != original.AutoVacuum || now.ReservedBytes != original.ReservedBytes)
        {
            // All three take effect on a rollback-journal file only through VACUUM (done before the switch to WAL below); the
            // reserved bytes wanted are kept by the connection until then (SQLITE_FCNTL_RESERVE_BYTES, as cksumvfs documents).
            ConnectionFactory.Execute(connection, $"PRAGMA page_size = {original.PageSize.ToString(CultureInfo.InvariantCulture)}");
            ConnectionFactory.Execute(connection, $"PRAGMA auto_vacuum = {original.AutoVacuum.ToString(CultureInfo.InvariantCulture)}");
            Native.SqliteNative.ReserveBytes(connection.Handle!.DangerousGetHandle(), original.ReservedBytes);
            ConnectionFactory.Execute(connection, "VACUUM");
        }

        if (original.JournalMode == "wal")
        {
            ConnectionFactory.Execute(connection, "PRAGMA journal_mode = WAL");
        }

        var kept = DatabaseSettings.Read(connection);
        if (kept != original with { JournalMode = kept.JournalMode } || (original.JournalMode == "wal") != (kept.JournalMode == "wal"))
        {
            notes.Add($"Some settings of the original could not be kept: original {original}, recovered {kept}.");
        }
    }

    /// <summary>
    /// Objects of the original's schema that the recovered file lacks, each named with its type and, for
    /// tables, the rows the original still lets SQLite count. Empty when the original's schema is unreadable.
    /// </summary>
    internal static List<string> MissingObjects(string inputPath, string outputPath, IReadOnlyList<SchemaObject>? schema, RecoveryContext context)
    {
        var missing = new List<string>();
        if (schema is null)
        {
            return missing;
        }

        var present = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        using (var output = Open(outputPath))
        {
            using var command = output.CreateCommand();
            command.CommandText = "SELECT name FROM sqlite_schema";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                present.Add(reader.GetString(0));
            }
        }

        var absent = schema.Where(o => !o.Name.StartsWith("sqlite_", StringComparison.OrdinalIgnoreCase) && !present.Contains(o.Name)).ToList();
        if (absent.Count == 0)
        {
            return missing;
        }

        using var input = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = inputPath, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        input.Open();
        context.StandIns.Register(input);
        foreach (var entry in absent)
        {
            if (entry.Type != "table")
            {
                missing.Add($"{entry.Type} {entry.Name} (on {entry.TableName})");
                continue;
            }

            try
            {
                var rows = ConnectionFactory.Scalar<long>(input, $"SELECT count(*) FROM {LostAndFoundMapper.Quote(entry.Name)} NOT INDEXED");
                missing.Add($"table {entry.Name} ({rows:N0} rows in the original)");
            }
            catch (SqliteException ex) when (!Errors.SqliteErrors.IsDiskFault(ex))
            {
                missing.Add($"table {entry.Name} (its rows in the original cannot be counted: {ex.Message})");
            }
        }

        return missing;
    }

    /// <summary>One sentence per stand-in: which objects use it and what the application must re-check.</summary>
    internal static List<string> DescribeStandIns(StandIns standIns, IEnumerable<SchemaObject> schema)
    {
        var objects = schema.Where(o => !o.Name.StartsWith("sqlite_", StringComparison.OrdinalIgnoreCase)).Select(o => (o.Type, o.Name, o.Sql)).ToList();
        var lines = new List<string>();
        foreach (var collation in standIns.Collations)
        {
            lines.Add($"The application's collation {collation} is not known to Walden: a stand-in in BINARY (byte) order was used{UsedBy(collation, objects)}. " +
                $"Open the recovered database in the application with its {collation} collation registered and run 'REINDEX {collation}' before writing to it.");
        }

        foreach (var function in standIns.Functions)
        {
            lines.Add($"The application's function {function}() is not known to Walden: a stand-in returning NULL was used{UsedBy(function, objects)}. " +
                "CHECK constraints calling it were not enforced on recovered rows, and generated columns and indexed expressions computed by it hold NULL: " +
                "have the application re-check those rows and recompute those columns (and REINDEX indexes on it).");
        }

        return lines;
    }

    private static string UsedBy(string name, List<(string Type, string Name, string Sql)> objects)
    {
        var users = StandIns.UsedBy(name, objects).ToList();
        return users.Count == 0 ? string.Empty : $" (by {string.Join(", ", users)})";
    }

    private static SqliteConnection Open(string path)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWrite, Pooling = false }.ToString());
        connection.Open();
        return connection;
    }
}
