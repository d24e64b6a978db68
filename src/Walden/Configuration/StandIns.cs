using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;

namespace Walden.Configuration;

/// <summary>
/// Stand-ins for the collations and SQL functions an application registers on its own connections
/// (Android's <c>LOCALIZED</c>, a <c>CHECK(valid_email(email))</c>): without them SQLite cannot prepare
/// any statement that touches the objects using them ("no such collation sequence"). Walden's own
/// connections to a foreign file register a stand-in when SQLite names one missing and retry: a
/// collation compares in binary (ordinal) order, a function returns NULL. Both are enough to read,
/// copy and count every row; what depends on the real definition (the order of an index that uses the
/// collation, a CHECK or an index expression that calls the function) is not verified, and
/// <see cref="Notes"/> says what the application must re-check.
/// </summary>
internal sealed partial class StandIns
{
    private const int Limit = 64;
    private readonly SortedSet<string> _collations = new(StringComparer.OrdinalIgnoreCase);
    private readonly SortedSet<string> _functions = new(StringComparer.OrdinalIgnoreCase);

    internal IReadOnlyCollection<string> Collations => _collations;

    internal IReadOnlyCollection<string> Functions => _functions;

    internal bool Any => _collations.Count + _functions.Count > 0;

    /// <summary>What the application that owns the file must know, one sentence per stand-in kind; empty when none was needed.</summary>
    internal IReadOnlyList<string> Notes
    {
        get
        {
            var notes = new List<string>();
            if (_collations.Count > 0)
            {
                notes.Add($"The schema uses the application's collation(s) {string.Join(", ", _collations)}: Walden read the file with binary-order " +
                    "stand-ins, so every row was read, but the order and uniqueness of the indexes that use them were not verified; " +
                    "the application must run REINDEX and PRAGMA integrity_check with its own collations registered.");
            }

            if (_functions.Count > 0)
            {
                notes.Add($"The schema calls the application's function(s) {string.Join(", ", _functions)}: Walden read the file with stand-ins " +
                    "that return NULL, so the CHECK constraints, index expressions, generated columns, views and triggers that call them were " +
                    "not verified; the application must run PRAGMA integrity_check with its own functions registered.");
            }

            return notes;
        }
    }

    /// <summary>The missing collation or function an SQLite error names, if that is what it is.</summary>
    internal static bool IsMissing(SqliteException exception, out bool collation, out string name)
    {
        var match = MissingPattern().Match(exception.Message);
        collation = match.Success && match.Groups["kind"].Value.StartsWith("collation", StringComparison.Ordinal);
        name = match.Success ? match.Groups["name"].Value : string.Empty;
        return match.Success;
    }

    /// <summary>
    /// Runs <paramref name="action"/> (which must only read), registering a stand-in on
    /// <paramref name="connection"/> and retrying each time SQLite names a missing collation or function.
    /// </summary>
    internal T Run<T>(SqliteConnection connection, Func<T> action)
    {
        while (true)
        {
            try
            {
                return action();
            }
            catch (SqliteException ex) when (IsMissing(ex, out var collation, out var name) && _collations.Count + _functions.Count < Limit)
            {
                if (!(collation ? _collations : _functions).Add(name))
                {
                    throw; // already stood in, yet still missing: not something a stand-in fixes
                }

                Register(connection, collation, name);
            }
        }
    }

    /// <summary>Registers every stand-in found so far on another connection to the same file.</summary>
    internal void RegisterAll(SqliteConnection connection)
    {
        foreach (var name in _collations)
        {
            Register(connection, collation: true, name);
        }

        foreach (var name in _functions)
        {
            Register(connection, collation: false, name);
        }
    }

    /// <summary>
    /// Removes from <paramref name="findings"/> those that name an index whose definition (or whose table's) uses a
    /// stand-in: the stand-in cannot reproduce the application's order or values, so such a finding says nothing about
    /// the file. Returns one note per index set aside.
    /// </summary>
    internal List<string> SetAsideUnverifiable(SqliteConnection connection, List<string> findings)
    {
        var notes = new List<string>();
        if (!Any || findings.Count == 0)
        {
            return notes;
        }

        var indexes = new List<string>();
        using (var command = connection.CreateCommand())
        {
            command.CommandText =
                "SELECT i.name, coalesce(i.sql, '') || ' ' || coalesce(t.sql, '') FROM sqlite_schema i " +
                "LEFT JOIN sqlite_schema t ON t.name = i.tbl_name AND t.type = 'table' WHERE i.type = 'index'";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                var sql = reader.GetString(1);
                if (_collations.Concat(_functions).Any(name => Regex.IsMatch(sql, $@"\b{Regex.Escape(name)}\b", RegexOptions.IgnoreCase)))
                {
                    indexes.Add(reader.GetString(0));
                }
            }
        }

        // Longest names first, so that an index named like the prefix of another does not claim its findings.
        foreach (var index in indexes.OrderByDescending(name => name.Length))
        {
            var pattern = new Regex($@"\b{Regex.Escape(index)}\b", RegexOptions.IgnoreCase);
            var matching = findings.Where(finding => pattern.IsMatch(finding)).ToList();
            if (matching.Count > 0)
            {
                findings.RemoveAll(matching.Contains);
                notes.Add($"{matching.Count} finding(s) on the index '{index}' were set aside, since it uses a stand-in and its entries " +
                    $"cannot be compared without the application's definition (the first: '{matching[0]}').");
            }
        }

        return notes;
    }

    private static void Register(SqliteConnection connection, bool collation, string name)
    {
        if (collation)
        {
            connection.CreateCollation(name, string.CompareOrdinal);
        }
        else
        {
            // Any arity; deterministic, or SQLite refuses it in index expressions and generated columns.
            connection.CreateFunction<object?>(name, _ => null, isDeterministic: true);
        }
    }

    // "no such collation sequence: X", "no such function: X", and "unknown function: X()" (SQLite 3.44+, in a CHECK or an index)
    [GeneratedRegex(@"(?:no such (?<kind>collation sequence|function)|(?<kind>unknown function)): (?<name>[^\s'""()]+)")]
    private static partial Regex MissingPattern();
}
