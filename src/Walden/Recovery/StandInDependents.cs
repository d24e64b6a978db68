using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;
using Walden.Configuration;

namespace Walden.Recovery;

/// <summary>
/// An object of the recovered database whose stored content SQLite computed with a stand-in for the application's
/// own collation or function: an index (its order, its expression values, which rows its WHERE admits) or a STORED
/// generated column (its values). Its content is wrong for the application until rebuilt with the real definitions.
/// </summary>
/// <param name="Kind">"index" or "generated column".</param>
/// <param name="Name">The index, or <c>table.column</c>.</param>
/// <param name="Table">The table it belongs to.</param>
/// <param name="Uses">The stand-in collations and functions it depends on.</param>
/// <param name="Rebuild">The statement that rebuilds it once the application's definitions are registered.</param>
internal sealed record StandInDependent(string Kind, string Name, string Table, IReadOnlyList<string> Uses, string Rebuild)
{
    /// <summary>One line for the report: what is wrong and what the application must run.</summary>
    internal string Describe() => Kind == "index"
        ? $"index {Name} on {Table}: its entries were computed with the stand-in(s) {string.Join(", ", Uses)} (binary order, NULL values), " +
          $"so queries through it give wrong answers until the application, with its own definitions registered, runs '{Rebuild}'"
        : $"generated column {Name} (STORED): its values were computed with the stand-in(s) {string.Join(", ", Uses)} and are NULL, " +
          $"until the application, with its own definitions registered, runs '{Rebuild}'";
}

/// <summary>
/// Finds the objects of a recovered database whose content a stand-in computed (see <see cref="StandIns"/>), and rebuilds
/// them when the caller gave the application's own definitions (<see cref="WaldenRecoveryOptions.ConfigureConnection"/>).
/// Views, triggers and CHECK constraints are stored as their SQL text, so they come out as written; the report names them
/// with the stand-ins they call (<see cref="RecoveredSettings.DescribeStandIns"/>).
/// </summary>
internal static class StandInDependents
{
    internal static List<StandInDependent> Find(string outputPath, StandIns standIns)
    {
        var found = new List<StandInDependent>();
        if (!standIns.Any)
        {
            return found;
        }

        using var connection = Open(outputPath);
        standIns.RegisterForRecovery(connection);
        var tables = new List<(string Name, string Sql)>();
        using (var list = connection.CreateCommand())
        {
            list.CommandText = "SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND sql IS NOT NULL AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'";
            using var reader = list.ExecuteReader();
            while (reader.Read())
            {
                if (!Integrity.VirtualTableSql.IsVirtualTable(reader.GetString(1)))
                {
                    tables.Add((reader.GetString(0), reader.GetString(1)));
                }
            }
        }

        foreach (var (table, sql) in tables)
        {
            // Generated columns: hidden 2 (VIRTUAL, computed on read: right with the real function) or 3 (STORED: computed on insert).
            var generated = new Dictionary<string, List<string>>(StringComparer.OrdinalIgnoreCase);
            var plain = new List<string>();
            foreach (var (column, hidden) in Columns(connection, table))
            {
                if (hidden is 2 or 3)
                {
                    var uses = Uses(ColumnDefinition(sql, column) ?? sql, standIns);
                    generated[column] = uses;
                    if (hidden == 3 && uses.Count > 0)
                    {
                        found.Add(new StandInDependent("generated column", $"{table}.{column}", table, uses, string.Empty));
                    }
                }
                else if (hidden == 0)
                {
                    plain.Add(column);
                }
            }

            // Recomputing a stored column takes an UPDATE of its row: assigning a plain column to itself changes nothing else.
            for (var i = 0; i < found.Count; i++)
            {
                if (found[i].Table == table && found[i].Kind == "generated column" && plain.Count > 0)
                {
                    var column = LostAndFoundMapper.Quote(plain[0]);
                    found[i] = found[i] with { Rebuild = $"UPDATE {LostAndFoundMapper.Quote(table)} SET {column} = {column}" };
                }
            }

            foreach (var (index, indexSql) in Indexes(connection, table))
            {
                var uses = new SortedSet<string>(StringComparer.OrdinalIgnoreCase);
                foreach (var (column, collation) in IndexColumns(connection, index))
                {
                    if (collation is not null && standIns.Collations.Contains(collation))
                    {
                        uses.Add(collation);
                    }

                    if (column is not null && generated.TryGetValue(column, out var generatedUses))
                    {
                        uses.UnionWith(generatedUses); // an index on a generated column holds what the stand-in computed
                    }
                }

                if (indexSql is not null)
                {
                    uses.UnionWith(Uses(indexSql, standIns)); // expressions and the partial index's WHERE
                }

                if (uses.Count > 0)
                {
                    found.Add(new StandInDependent("index", index, table, [.. uses], $"REINDEX {LostAndFoundMapper.Quote(index)}"));
                }
            }
        }

        return found;
    }

    /// <summary>
    /// Rebuilds, with the application's definitions, every object whose stand-ins the application defines: indexes first
    /// (REINDEX), then stored generated columns (an UPDATE of each row, with triggers set aside so that none fires), then
    /// ANALYZE where the original had statistics. Returns the objects left as they were (a stand-in the application does not define, or a rebuild that failed)
    /// and the integrity_check of the result read with the application's definitions.
    /// </summary>
    internal static (List<StandInDependent> Left, string? IntegrityCheck) Rebuild(
        string outputPath, Action<SqliteConnection> configure, List<StandInDependent> objects, RecoveryContext context, List<string> notes)
    {
        var standIns = context.StandIns;
        var defined = Defined(configure, standIns);
        var left = objects.Where(o => !o.Uses.All(defined.Contains) || o.Rebuild.Length == 0).ToList();
        var rebuildable = objects.Except(left).OrderBy(o => o.Kind == "index" ? 0 : 1).ToList();
        if (rebuildable.Count == 0)
        {
            return (left, null);
        }

        using var connection = Open(outputPath);
        if (standIns.Functions.All(defined.Contains))
        {
            standIns.Register(connection); // every function is the application's: its CHECK constraints are checked for real
        }
        else
        {
            standIns.RegisterForRecovery(connection);
        }

        configure(connection); // after the stand-ins: the application's definitions replace them under the same names
        ConnectionFactory.Execute(connection, "PRAGMA foreign_keys=OFF");
        var triggers = new List<(string Name, string Sql)>();
        using (var list = connection.CreateCommand())
        {
            list.CommandText = "SELECT name, sql FROM sqlite_schema WHERE type = 'trigger' AND sql IS NOT NULL";
            using var reader = list.ExecuteReader();
            while (reader.Read())
            {
                triggers.Add((reader.GetString(0), reader.GetString(1)));
            }
        }

        ConnectionFactory.Execute(connection, "BEGIN");
        foreach (var (name, _) in triggers)
        {
            ConnectionFactory.Execute(connection, $"DROP TRIGGER {LostAndFoundMapper.Quote(name)}");
        }

        var rebuilt = new List<string>();
        foreach (var entry in rebuildable)
        {
            ConnectionFactory.Execute(connection, "SAVEPOINT walden_rebuild");
            try
            {
                ConnectionFactory.Execute(connection, entry.Rebuild);
                ConnectionFactory.Execute(connection, "RELEASE walden_rebuild");
                rebuilt.Add($"{entry.Kind} {entry.Name}");
            }
            catch (SqliteException ex) when (!Errors.SqliteErrors.IsDiskFault(ex))
            {
                ConnectionFactory.Execute(connection, "ROLLBACK TO walden_rebuild");
                ConnectionFactory.Execute(connection, "RELEASE walden_rebuild");
                notes.Add($"Rebuilding the {entry.Kind} {entry.Name} with the application's definitions failed: {ex.Message}.");
                left.Add(entry);
            }
        }

        foreach (var (_, sql) in triggers)
        {
            ConnectionFactory.Execute(connection, sql);
        }

        RecoveredDatabase.Commit(connection);
        RecoveredStatistics.Refresh(connection, context.Statistics);
        if (rebuilt.Count > 0)
        {
            notes.Add($"Rebuilt with the application's own collations and functions (WaldenRecoveryOptions.ConfigureConnection): {string.Join(", ", rebuilt)}.");
        }

        return (left, RecoveredDatabase.IntegrityCheck(connection));
    }

    /// <summary>The stand-in names the application's <paramref name="configure"/> defines, tried on a private in-memory connection.</summary>
    private static HashSet<string> Defined(Action<SqliteConnection> configure, StandIns standIns)
    {
        var defined = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        using var probe = new SqliteConnection("Data Source=:memory:");
        probe.Open();
        configure(probe);
        foreach (var collation in standIns.Collations)
        {
            if (Prepares(probe, $"SELECT 'a' = 'b' COLLATE {LostAndFoundMapper.Quote(collation)}"))
            {
                defined.Add(collation);
            }
        }

        foreach (var function in standIns.Functions)
        {
            if (Prepares(probe, $"SELECT {LostAndFoundMapper.Quote(function)}(1)") || Prepares(probe, $"SELECT {LostAndFoundMapper.Quote(function)}()"))
            {
                defined.Add(function);
            }
        }

        return defined;
    }

    private static bool Prepares(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        try
        {
            command.Prepare();
            return true;
        }
        catch (SqliteException ex) when (!Errors.SqliteErrors.IsDiskFault(ex))
        {
            return !StandIns.IsMissing(ex, out _, out _); // "wrong number of arguments": it is defined
        }
    }

    /// <summary>The stand-ins <paramref name="sql"/> calls (<c>name(</c>) or collates by (<c>COLLATE name</c>).</summary>
    private static List<string> Uses(string sql, StandIns standIns)
    {
        var uses = new List<string>();
        uses.AddRange(standIns.Functions.Where(f => Regex.IsMatch(sql, $@"(?<![\w$]){Quoted(f)}\s*\(", RegexOptions.IgnoreCase)));
        uses.AddRange(standIns.Collations.Where(c => Regex.IsMatch(sql, $@"\bCOLLATE\s+{Quoted(c)}(?![\w$])", RegexOptions.IgnoreCase)));
        return uses;
    }

    /// <summary>A name as SQL may write it: bare, or in double quotes, brackets or backticks.</summary>
    private static string Quoted(string name) => $@"(?:{Regex.Escape(name)}|""{Regex.Escape(name)}""|\[{Regex.Escape(name)}\]|`{Regex.Escape(name)}`)";

    /// <summary>
    /// The definition of <paramref name="column"/> in a CREATE TABLE statement (the text between the top-level commas
    /// of its column list), or null when it cannot be found.
    /// </summary>
    internal static string? ColumnDefinition(string createTable, string column)
    {
        var open = createTable.IndexOf('(', StringComparison.Ordinal);
        if (open < 0)
        {
            return null;
        }

        var parts = new List<string>();
        var depth = 0;
        var start = open + 1;
        char? quote = null;
        for (var i = open + 1; i < createTable.Length; i++)
        {
            var c = createTable[i];
            if (quote is not null)
            {
                quote = c == quote ? null : quote; // a doubled quote closes and reopens: same result
                continue;
            }

            switch (c)
            {
                case '\'' or '"' or '`':
                    quote = c;
                    break;
                case '[':
                    quote = ']';
                    break;
                case '(':
                    depth++;
                    break;
                case ')' when depth == 0:
                    parts.Add(createTable[start..i]);
                    i = createTable.Length;
                    break;
                case ')':
                    depth--;
                    break;
                case ',' when depth == 0:
                    parts.Add(createTable[start..i]);
                    start = i + 1;
                    break;
            }
        }

        var name = new Regex($@"^\s*{Quoted(column)}(?![\w$])", RegexOptions.IgnoreCase);
        return parts.FirstOrDefault(name.IsMatch);
    }

    private static List<(string Name, int Hidden)> Columns(SqliteConnection connection, string table)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT name, hidden FROM pragma_table_xinfo($t)";
        command.Parameters.AddWithValue("$t", table);
        using var reader = command.ExecuteReader();
        var columns = new List<(string, int)>();
        while (reader.Read())
        {
            columns.Add((reader.GetString(0), reader.GetInt32(1)));
        }

        return columns;
    }

    /// <summary>Every index of the table, the automatic ones of UNIQUE and PRIMARY KEY constraints included (their SQL is null).</summary>
    private static List<(string Name, string? Sql)> Indexes(SqliteConnection connection, string table)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT l.name, s.sql FROM pragma_index_list($t) AS l LEFT JOIN sqlite_schema AS s ON s.type = 'index' AND s.name = l.name";
        command.Parameters.AddWithValue("$t", table);
        using var reader = command.ExecuteReader();
        var indexes = new List<(string, string?)>();
        while (reader.Read())
        {
            indexes.Add((reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1)));
        }

        return indexes;
    }

    /// <summary>The key columns of an index: the column's name (null for an expression) and the collation it is ordered by.</summary>
    private static List<(string? Column, string? Collation)> IndexColumns(SqliteConnection connection, string index)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT name, coll FROM pragma_index_xinfo($i) WHERE key = 1";
        command.Parameters.AddWithValue("$i", index);
        using var reader = command.ExecuteReader();
        var columns = new List<(string?, string?)>();
        while (reader.Read())
        {
            columns.Add((reader.IsDBNull(0) ? null : reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetString(1)));
        }

        return columns;
    }

    private static SqliteConnection Open(string path)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWrite, Pooling = false }.ToString());
        connection.Open();
        return connection;
    }
}
