using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;

namespace Walden.Recovery;

/// <summary>
/// Runs a schema given as SQL text (a hand-made file, or what the sqlite3 shell prints with <c>.schema</c>,
/// <c>.schema --indent</c>, <c>.fullschema</c> or <c>.dump</c>) statement by statement into an empty database, keeping only
/// what makes the schema. SQLite's own objects (sqlite_sequence, sqlite_stat1..4, the shadow tables of a virtual table)
/// are made by SQLite itself when their owner is created, so their CREATE lines are skipped; statistics (ANALYZE), settings
/// (PRAGMA), transaction control and data (INSERT, REPLACE, UPDATE, DELETE) are not schema and are ignored, each said in a
/// note; any other statement is refused with its text, since it could change what the schema means.
/// </summary>
internal static partial class SchemaScript
{
    /// <summary>Runs <paramref name="sql"/> on <paramref name="connection"/>; returns the notes of what was skipped.</summary>
    /// <exception cref="WaldenConfigurationException">A statement is not valid SQL for SQLite, or is not part of a schema.</exception>
    internal static List<string> Run(SqliteConnection connection, string sql, string source)
    {
        var skippedOwn = new List<string>();
        var ignored = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var (statement, line) in Split(sql))
        {
            var verb = Verb(statement);
            switch (verb)
            {
                case "CREATE":
                case "ALTER":
                case "DROP":
                    if (OwnObject().Match(statement) is { Success: true } own)
                    {
                        skippedOwn.Add(Dequote(own.Groups["name"].Value));
                        continue;
                    }

                    Execute(connection, statement, line, source, skippedOwn);
                    break;
                case "INSERT" when SchemaRow().Match(statement) is { Success: true } row:
                    // .dump writes a virtual table as a row of sqlite_schema under PRAGMA writable_schema: its sql is the CREATE.
                    Execute(connection, CreateOfSchemaRow(connection, row.Groups["values"].Value, line, source), line, source, skippedOwn);
                    break;
                case "INSERT":
                case "REPLACE":
                case "UPDATE":
                case "DELETE":
                    Count(ignored, "data statements (INSERT, UPDATE, DELETE)");
                    break;
                case "ANALYZE":
                    Count(ignored, "ANALYZE statements (statistics SQLite gathers itself)");
                    break;
                case "PRAGMA":
                    Count(ignored, "PRAGMA statements (settings, not schema)");
                    break;
                case "BEGIN":
                case "COMMIT":
                case "END":
                case "ROLLBACK":
                case "SAVEPOINT":
                case "RELEASE":
                case "":
                    break; // transaction control around a .dump, or a statement that is only a comment
                default:
                    throw new WaldenConfigurationException(
                        $"The schema in {source} holds a statement that is not part of a schema at line {line}: '{Shorten(statement)}'. " +
                        "Give only the CREATE statements of the database (for example the output of 'sqlite3 healthy.db .schema'); remove this statement.");
            }
        }

        var notes = new List<string>();
        if (skippedOwn.Count > 0)
        {
            notes.Add($"The schema in {source} names objects SQLite makes itself ({string.Join(", ", skippedOwn.Distinct(StringComparer.OrdinalIgnoreCase))}): their CREATE statements were skipped.");
        }

        if (ignored.Count > 0)
        {
            notes.Add($"The schema in {source} holds statements that are not schema, ignored: {string.Join(", ", ignored.Select(i => $"{i.Value:N0} {i.Key}"))}. " +
                "Only the schema is read from a .sql file; rows come from the damaged database.");
        }

        return notes;
    }

    private static void Execute(SqliteConnection connection, string statement, int line, string source, List<string> skippedOwn)
    {
        try
        {
            using var command = connection.CreateCommand();
            command.CommandText = statement;
            command.ExecuteNonQuery();
        }
        catch (SqliteException ex) when (AlreadyExists().Match(ex.Message) is { Success: true } exists && IsShadow(connection, Dequote(exists.Groups["name"].Value)))
        {
            // .schema prints the shadow tables of a virtual table after it; creating the virtual table made them already.
            skippedOwn.Add(Dequote(exists.Groups["name"].Value));
        }
        catch (SqliteException ex)
        {
            throw new WaldenConfigurationException(
                $"The schema in {source} is not valid SQL for SQLite at line {line}, '{Shorten(statement)}': {ex.Message} " +
                "Give the CREATE statements of the database (for example the output of 'sqlite3 healthy.db .schema').", ex);
        }
    }

    private static bool IsShadow(SqliteConnection connection, string name)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT 1 FROM pragma_table_list WHERE name = $name COLLATE NOCASE AND type = 'shadow'";
        command.Parameters.AddWithValue("$name", name);
        return command.ExecuteScalar() is not null;
    }

    private static string CreateOfSchemaRow(SqliteConnection connection, string values, int line, string source)
    {
        try
        {
            using var command = connection.CreateCommand();
            command.CommandText = $"SELECT column5 FROM (VALUES {values})";
            return command.ExecuteScalar() as string
                ?? throw new WaldenConfigurationException($"The schema in {source} inserts a row into sqlite_schema without SQL at line {line}; remove it.");
        }
        catch (SqliteException ex)
        {
            throw new WaldenConfigurationException($"The schema in {source} inserts a row into sqlite_schema that SQLite cannot read at line {line}: {ex.Message}. Give the CREATE statement instead.", ex);
        }
    }

    /// <summary>The statements of <paramref name="sql"/>, each with the line it starts on (1-based); a trailing part without ';' is one more.</summary>
    private static IEnumerable<(string Statement, int Line)> Split(string sql)
    {
        var start = 0;
        var line = 1;
        for (var i = 0; i < sql.Length; i++)
        {
            // sqlite3_complete knows strings, comments and trigger bodies: a ';' ends a statement only where it says so.
            if (sql[i] == ';' && SQLitePCL.raw.sqlite3_complete(sql[start..(i + 1)]) != 0)
            {
                var statement = sql[start..(i + 1)];
                yield return (statement, line + LeadingLines(statement));
                line += statement.Count(c => c == '\n');
                start = i + 1;
            }
        }

        if (start < sql.Length)
        {
            var rest = sql[start..];
            yield return (rest, line + LeadingLines(rest));
        }
    }

    private static int LeadingLines(string statement)
    {
        var leading = statement.Length - statement.TrimStart().Length;
        return statement[..leading].Count(c => c == '\n');
    }

    /// <summary>The first keyword of a statement, upper case, after whitespace and comments; empty when there is none.</summary>
    private static string Verb(string statement)
    {
        var i = 0;
        while (i < statement.Length)
        {
            if (char.IsWhiteSpace(statement[i]))
            {
                i++;
            }
            else if (statement.AsSpan(i).StartsWith("--"))
            {
                var end = statement.IndexOf('\n', i);
                i = end < 0 ? statement.Length : end + 1;
            }
            else if (statement.AsSpan(i).StartsWith("/*"))
            {
                var end = statement.IndexOf("*/", i + 2, StringComparison.Ordinal);
                i = end < 0 ? statement.Length : end + 2;
            }
            else
            {
                break;
            }
        }

        var word = new StringBuilder();
        while (i < statement.Length && char.IsAsciiLetter(statement[i]))
        {
            word.Append(char.ToUpperInvariant(statement[i++]));
        }

        return word.ToString() is { Length: > 0 } verb ? verb : (i < statement.Length && statement[i] != ';' ? "?" : "");
    }

    private static void Count(SortedDictionary<string, int> counts, string kind) =>
        counts[kind] = counts.GetValueOrDefault(kind) + 1;

    private static string Dequote(string name) =>
        name.Length >= 2 && (name[0], name[^1]) is ('"', '"') or ('\'', '\'') or ('`', '`') or ('[', ']') ? name[1..^1] : name;

    private static string Shorten(string statement)
    {
        var flat = Regex.Replace(statement.Trim(), @"\s+", " ");
        return flat.Length <= 120 ? flat : flat[..117] + "...";
    }

    /// <summary>A CREATE/DROP/ALTER of an object whose name SQLite reserves (sqlite_sequence, sqlite_stat1..4): SQLite makes those itself.</summary>
    [GeneratedRegex("""^\s*(?:(?:--[^\n]*\n|/\*.*?\*/)\s*)*(?:CREATE|DROP|ALTER)\s+(?:TABLE|INDEX)\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?(?:(?:main|"main"|'main'|\[main\]|`main`)\s*\.\s*)?(?<name>["'`\[]?sqlite_\w+["'`\]]?)""", RegexOptions.IgnoreCase | RegexOptions.Singleline)]
    private static partial Regex OwnObject();

    /// <summary>What .dump writes for a virtual table: <c>INSERT INTO sqlite_schema(type,name,tbl_name,rootpage,sql)VALUES(...)</c>.</summary>
    [GeneratedRegex("""^\s*INSERT\s+INTO\s+["'`\[]?sqlite_(?:schema|master)["'`\]]?\s*\(\s*type\s*,\s*name\s*,\s*tbl_name\s*,\s*rootpage\s*,\s*sql\s*\)\s*VALUES\s*(?<values>\(.*\))\s*;?\s*$""", RegexOptions.IgnoreCase | RegexOptions.Singleline)]
    private static partial Regex SchemaRow();

    [GeneratedRegex("""(?:table|view|index|trigger) (?<name>.+?) already exists""", RegexOptions.Singleline)]
    private static partial Regex AlreadyExists();
}
