using Microsoft.Data.Sqlite;

namespace Walden.Integrity;

/// <summary>
/// Virtual tables of a module the connection does not have: one an extension the application loads provides (a vector
/// index, a spatial index, a module of its own). SQLite reads such a schema but cannot read, check or count the table:
/// <c>integrity_check</c> passes over it without a word and <c>count(*)</c> fails with "no such module". Its data, when the
/// module keeps any in the file, is in ordinary tables the module made, named <c>&lt;table&gt;_&lt;suffix&gt;</c> by SQLite's
/// convention for shadow tables; those are checked and counted like any table. Reports name both, never drop them silently.
/// </summary>
internal static class UnknownModules
{
    /// <summary>A virtual table whose module the connection lacks, and the ordinary tables named like its shadow tables.</summary>
    internal sealed record Table(string Name, string Module, IReadOnlyList<string> ShadowTables)
    {
        internal string Describe() =>
            $"'{Name}' (module '{Module}'" + (ShadowTables.Count == 0 ? ")" : $"; tables named after it: {string.Join(", ", ShadowTables.Select(s => $"'{s}'"))})");
    }

    /// <summary>The virtual tables of the main schema whose module <paramref name="connection"/> does not have, by name.</summary>
    internal static List<Table> Find(SqliteConnection connection)
    {
        var known = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        using (var modules = connection.CreateCommand())
        {
            modules.CommandText = "SELECT name FROM pragma_module_list";
            using var reader = modules.ExecuteReader();
            while (reader.Read())
            {
                known.Add(reader.GetString(0));
            }
        }

        var virtualTables = new List<(string Name, string Module)>();
        var ordinary = new List<string>();
        using (var schema = connection.CreateCommand())
        {
            schema.CommandText = "SELECT name, sql FROM main.sqlite_schema WHERE type = 'table' ORDER BY name";
            using var reader = schema.ExecuteReader();
            while (reader.Read())
            {
                if (VirtualTableSql.Parse(reader.IsDBNull(1) ? null : reader.GetString(1)) is not { } table)
                {
                    ordinary.Add(reader.GetString(0));
                }
                else if (!known.Contains(table.Module))
                {
                    virtualTables.Add((reader.GetString(0), table.Module));
                }
            }
        }

        return virtualTables
            .Select(v => new Table(v.Name, v.Module,
                ordinary.Where(o => o.StartsWith(v.Name + "_", StringComparison.OrdinalIgnoreCase)).ToList()))
            .ToList();
    }

    /// <summary>The note a check adds for such tables, or null when there are none.</summary>
    internal static string? CheckNote(IReadOnlyList<Table> tables) =>
        tables.Count == 0 ? null :
            $"The virtual table(s) {string.Join("; ", tables.Select(t => t.Describe()))} use a module that the program which wrote the " +
            "file provides (an extension it loads), and Walden does not have it: SQLite cannot read or check those virtual tables " +
            "themselves, so they were not verified. " +
            (tables.Any(t => t.ShadowTables.Count > 0)
                ? "The ordinary tables named after them (by SQLite's naming, the module's shadow tables, where it keeps their data) were checked like every table. "
                : string.Empty) +
            "To verify them, check the file in the application, with its extension loaded.";
}
