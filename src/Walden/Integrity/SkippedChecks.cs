using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;

namespace Walden.Integrity;

/// <summary>
/// CHECK constraints that <c>integrity_check</c> and <c>quick_check</c> pass over in silence: SQLite leaves a table's CHECK
/// constraints out of the schema it parses for a read-only database (<c>sqlite3AddCheckConstraint</c> in build.c: not on a
/// read-only btree), so a check on a read-only connection says "ok" for rows it never judged against them. Walden's checks
/// of a file open it read-write with <c>PRAGMA query_only</c> where that is safe; where SQLite had to open it read-only
/// (a file or folder this user may not write, a WAL database other processes hold), this names what went unverified.
/// </summary>
internal static partial class SkippedChecks
{
    /// <summary>
    /// A note naming the tables whose CHECK constraints went unverified because <paramref name="connection"/> reads the
    /// file read-only, or null when it does not (or no table has one).
    /// </summary>
    internal static string? Note(SqliteConnection connection)
    {
        if (SQLitePCL.raw.sqlite3_db_readonly(connection.Handle, "main") != 1)
        {
            return null;
        }

        var tables = new List<string>();
        using (var command = connection.CreateCommand())
        {
            command.CommandText = "SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND sql IS NOT NULL";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                if (Check().IsMatch(reader.GetString(1)))
                {
                    tables.Add(reader.GetString(0));
                }
            }
        }

        return tables.Count == 0 ? null :
            $"The file was read read-only, and SQLite leaves CHECK constraints out of a read-only database's schema: the CHECK " +
            $"constraints of the table(s) {string.Join(", ", tables)} were not verified. To verify them, check the file where this " +
            "user may write it and its folder (nothing is written: the check runs with PRAGMA query_only), or once no other " +
            "process has it open.";
    }

    [GeneratedRegex(@"(?<![\w$])CHECK\s*\(", RegexOptions.IgnoreCase)]
    private static partial Regex Check();
}
