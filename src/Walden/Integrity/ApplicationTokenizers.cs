using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;
using Walden.Native;

namespace Walden.Integrity;

/// <summary>
/// Full-text tables (FTS3, FTS4, FTS5) whose tokenizer the application registers on its own connections (<c>fts3_tokenizer</c>,
/// FTS5's <c>xCreateTokenizer</c>; an Android app's own). Without it SQLite cannot check their full-text index against their
/// content: <c>integrity_check</c> fails as a whole ("unknown tokenizer: mytok" for FTS3/4, "SQL logic error" for FTS5), and an
/// FTS5 table whose check needs no tokenizer (external content, contentless, empty) passed without a word. As with the
/// application's collations (<see cref="Configuration.StandIns"/>), Walden checks what it can and says what it could not: the
/// modules of those tables are removed from the checking connection (<c>sqlite3_drop_modules</c>), so <c>integrity_check</c>
/// leaves their virtual tables out while it still checks every page and b-tree, their shadow tables' included; the note names
/// the tables left unverified and why.
/// </summary>
internal static partial class ApplicationTokenizers
{
    /// <summary>A full-text table and the tokenizer this connection lacks for it.</summary>
    private sealed record Table(string Name, string Module, string Tokenizer);

    /// <summary>
    /// Finds the full-text tables whose tokenizer <paramref name="connection"/> does not have (one read of each, which makes SQLite
    /// load its tokenizer), and when there are any removes their modules from the connection: afterwards it cannot read any
    /// table of those modules. Returns the notes for the check: one for those tables, and one naming the virtual tables of a
    /// module the connection does not have at all (<see cref="UnknownModules"/>), which the check passes over; empty when
    /// every tokenizer and module is there.
    /// </summary>
    internal static List<string> SetAside(SqliteConnection connection)
    {
        // Before any module is dropped below: afterwards the full-text tables would look like tables of an unknown module.
        var notes = new List<string>();
        if (UnknownModules.CheckNote(UnknownModules.Find(connection)) is { } unknown)
        {
            notes.Add(unknown);
        }

        var tables = FullTextTables(connection);
        var missing = new List<Table>();
        foreach (var (name, module, sql) in tables)
        {
            if (MissingTokenizer(connection, name, sql) is { } tokenizer)
            {
                missing.Add(new Table(name, module, tokenizer));
            }
        }

        if (missing.Count == 0)
        {
            return notes;
        }

        var modules = missing.Select(t => t.Module).ToHashSet(StringComparer.OrdinalIgnoreCase);
        if (!DropModules(connection, modules))
        {
            return notes; // a library without sqlite3_drop_modules: the check fails as before, with SQLite's error
        }

        // The searches above connected the tables; connected, integrity_check would still call their check. Reloading the
        // schema ("writable_schema=RESET": off, as it was, and the schema read again) forgets them, and they stay unconnected.
        using (var reset = connection.CreateCommand())
        {
            reset.CommandText = "PRAGMA writable_schema=RESET";
            reset.ExecuteNonQuery();
        }

        var alongside = tables.Where(t => modules.Contains(t.Module) && !missing.Exists(m => m.Name == t.Name)).Select(t => t.Name).ToList();
        var named = string.Join(", ", missing.Select(t => $"'{t.Name}' ({t.Module}, tokenizer '{t.Tokenizer}')"));
        var note = $"The full-text table(s) {named} use a tokenizer that the program which wrote the file registers on its own connections, " +
            "and Walden does not have it: their full-text index was not verified against their content (their pages and shadow tables " +
            "were checked like every table). ";
        if (alongside.Count > 0)
        {
            note += $"SQLite's check cannot leave out one table of a module, so the full-text index of {string.Join(", ", alongside.Select(n => $"'{n}'"))} " +
                "(same module, a built-in tokenizer) was not verified either. ";
        }

        notes.Insert(0, note + "To verify them, run INSERT INTO <table>(<table>) VALUES('integrity-check') for each in the application, " +
            "with its tokenizer registered.");
        return notes;
    }

    /// <summary>
    /// Why <paramref name="path"/> cannot be opened for writing on <paramref name="connection"/>: the full-text tables whose
    /// tokenizer it lacks, named with what to do; null when there are none. Changes nothing on the connection.
    /// </summary>
    internal static string? MissingForWriting(SqliteConnection connection, string path)
    {
        List<string> missing;
        try
        {
            missing = FullTextTables(connection)
                .Select(t => MissingTokenizer(connection, t.Name, t.Sql) is { } tokenizer ? $"'{t.Name}' ({t.Module}, tokenizer '{tokenizer}')" : null)
                .OfType<string>()
                .ToList();
        }
        catch (SqliteException)
        {
            return null; // a schema SQLite cannot read: the caller's error says what is wrong
        }

        return missing.Count == 0 ? null :
            $"The full-text table(s) {string.Join(", ", missing)} of '{path}' use a tokenizer that the program which wrote it registers on " +
            "its own connections; SQLite cannot check those tables, or write to them, without it. Nothing was changed. Load it on " +
            "Walden's connections with WaldenOptions.ConfigureConnection (for a tokenizer in an extension: connection.LoadExtension(...)). " +
            "The walden tool cannot load an application's tokenizer, so give 'walden demo' or 'soak' a database of its own; 'walden check', " +
            "'info', 'backup' and 'recover' read such a file and name what they could not verify.";
    }

    private static List<(string Name, string Module, string Sql)> FullTextTables(SqliteConnection connection)
    {
        var tables = new List<(string, string, string)>();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND sql IS NOT NULL";
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            if (VirtualTableSql.Parse(reader.GetString(1)) is { FullTextModule: { } module })
            {
                tables.Add((reader.GetString(0), module, reader.GetString(1)));
            }
        }

        return tables;
    }

    /// <summary>
    /// The tokenizer SQLite reports missing when the table is searched (FTS3/4 load it when the table is connected, FTS5 when a
    /// query or a row is tokenized), or null. A search reads; any other error is left to the check.
    /// </summary>
    internal static string? MissingTokenizer(SqliteConnection connection, string table, string sql)
    {
        // Stepped directly: FTS5 reports the missing tokenizer in the connection's message right after the step, which
        // Microsoft.Data.Sqlite's reader turns into a bare "SQL logic error".
        var quoted = "\"" + table.Replace("\"", "\"\"", StringComparison.Ordinal) + "\"";
        var db = connection.Handle!;
        var rc = SQLitePCL.raw.sqlite3_prepare_v2(db, $"SELECT rowid FROM {quoted} WHERE {quoted} MATCH 'walden' LIMIT 1", out var statement);
        try
        {
            if (rc == SQLitePCL.raw.SQLITE_OK)
            {
                rc = SQLitePCL.raw.sqlite3_step(statement);
            }

            var message = rc is SQLitePCL.raw.SQLITE_OK or SQLitePCL.raw.SQLITE_ROW or SQLitePCL.raw.SQLITE_DONE
                ? string.Empty
                : SQLitePCL.raw.sqlite3_errmsg(db).utf8_to_string() ?? string.Empty;
            // "error in tokenizer constructor": FTS5's porter or trigram wrapping a tokenizer this connection lacks ('porter mytok').
            return UnknownTokenizer().Match(message) is { Success: true } match ? match.Groups[1].Value
                : message.Contains("error in tokenizer constructor", StringComparison.Ordinal) ? VirtualTableSql.Parse(sql)?.TokenizeArgument ?? "?"
                : null;
        }
        finally
        {
            statement?.Dispose();
        }
    }

    private static unsafe bool DropModules(SqliteConnection connection, HashSet<string> modules)
    {
        var keep = new List<string>();
        using (var command = connection.CreateCommand())
        {
            command.CommandText = "SELECT name FROM pragma_module_list";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                if (!modules.Contains(reader.GetString(0)))
                {
                    keep.Add(reader.GetString(0));
                }
            }
        }

        var names = new IntPtr[keep.Count + 1];
        try
        {
            for (var i = 0; i < keep.Count; i++)
            {
                names[i] = Marshal.StringToCoTaskMemUTF8(keep[i]);
            }

            fixed (IntPtr* array = names)
            {
                return SqliteNative.DropModules(connection.Handle!.DangerousGetHandle(), array) == 0;
            }
        }
        catch (EntryPointNotFoundException)
        {
            return false;
        }
        finally
        {
            foreach (var name in names)
            {
                Marshal.FreeCoTaskMem(name);
            }
        }
    }

    [GeneratedRegex(@"(?:unknown|no such) tokenizer: ([^\s']+)")]
    private static partial Regex UnknownTokenizer();
}
