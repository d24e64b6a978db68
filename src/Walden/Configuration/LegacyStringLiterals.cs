using Microsoft.Data.Sqlite;

namespace Walden.Configuration;

/// <summary>
/// Double-quoted string literals in the bodies of a database's views and triggers. Walden's SQLite accepts them in DDL only
/// (<c>SQLITE_DQS=2</c>, native/build.sh), so a schema such as <c>CHECK(kind IN ("a","b"))</c> is read, while queries refuse
/// them. A view's or trigger's body is compiled as a query when it is used, though: a trigger that Python's sqlite3, Android
/// or the sqlite3 shell (all built with them on) created as <c>INSERT INTO log VALUES("inserted")</c> made every write to
/// its table fail through Walden with "no such column". Such a database's connections get
/// <c>SQLITE_DBCONFIG_DQS_DML</c> on, as the program that made the schema had it (sqlite.org/quirks.html#dblquote); any
/// other database's stay strict.
/// </summary>
internal static class LegacyStringLiterals
{
    /// <summary>SQLITE_DBCONFIG_DQS_DML (sqlite3.h): double-quoted string literals in DML statements.</summary>
    private const int DqsDml = 1013;

    /// <summary>SQLite's hint when an identifier in double quotes names nothing (3.41 and later).</summary>
    private const string Hint = "should this be a string literal in single-quotes?";

    /// <summary>
    /// The views and triggers of <paramref name="connection"/>'s main schema whose bodies compile only with double-quoted
    /// string literals ("view v", "trigger t"), found by preparing (never running) what uses them: <c>SELECT</c> from each
    /// view, and <c>INSERT</c>, <c>UPDATE</c> of every column and <c>DELETE</c> on each trigger's table, which compile its
    /// triggers. Statements that fail for any other reason are not this quirk and are left to the application. Null when the
    /// schema could not be read (busy, damaged: the open's own check says so), to be tried again on the next connection.
    /// </summary>
    internal static List<string>? NeededBy(SqliteConnection connection)
    {
        try
        {
            return Find(connection);
        }
        catch (SqliteException)
        {
            return null;
        }
    }

    private static List<string> Find(SqliteConnection connection)
    {
        var views = new List<string>();
        var triggers = new List<(string Name, string Table)>();
        using (var command = connection.CreateCommand())
        {
            command.CommandText = "SELECT type, name, tbl_name FROM main.sqlite_schema WHERE type IN ('view', 'trigger') AND sql LIKE '%\"%'";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                if (reader.GetString(0) == "view")
                {
                    views.Add(reader.GetString(1));
                }
                else
                {
                    triggers.Add((reader.GetString(1), reader.GetString(2)));
                }
            }
        }

        var needed = new List<string>();
        foreach (var view in views)
        {
            if (NeedsIt(connection, $"SELECT * FROM main.{SqlText.Quote(view)}"))
            {
                needed.Add($"view {view}");
            }
        }

        foreach (var table in triggers.Select(t => t.Table).Distinct(StringComparer.OrdinalIgnoreCase))
        {
            var columns = Columns(connection, table);
            var update = columns.Count == 0 ? null : $"UPDATE main.{SqlText.Quote(table)} SET " + string.Join(", ", columns.Select(c => $"{SqlText.Quote(c)} = {SqlText.Quote(c)}"));
            if (NeedsIt(connection, $"INSERT INTO main.{SqlText.Quote(table)} DEFAULT VALUES") || (update is not null && NeedsIt(connection, update))
                || NeedsIt(connection, $"DELETE FROM main.{SqlText.Quote(table)}"))
            {
                needed.AddRange(triggers.Where(t => string.Equals(t.Table, table, StringComparison.OrdinalIgnoreCase)).Select(t => $"trigger {t.Name}"));
            }
        }

        return needed;
    }

    /// <summary>Turns double-quoted string literals in DML on for <paramref name="connection"/>.</summary>
    internal static void Enable(SqliteConnection connection) =>
        SQLitePCL.raw.sqlite3_db_config(connection.Handle, DqsDml, 1, out _);

    private static bool NeedsIt(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        try
        {
            command.Prepare(); // compiles the statement and the triggers it fires; nothing runs
            return false;
        }
        catch (SqliteException ex) when (ex.Message.Contains(Hint, StringComparison.Ordinal))
        {
            return true;
        }
        catch (SqliteException)
        {
            return false; // another reason (a missing collation or function, a view that cannot be written): not this quirk
        }
    }

    private static List<string> Columns(SqliteConnection connection, string table)
    {
        using var command = connection.CreateCommand();
        command.CommandText = $"SELECT name FROM pragma_table_info({SqlText.Literal(table)}, 'main')";
        using var reader = command.ExecuteReader();
        var columns = new List<string>();
        while (reader.Read())
        {
            columns.Add(reader.GetString(0));
        }

        return columns;
    }

}
