using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;

namespace Walden.Configuration;

/// <summary>
/// Stand-ins for the collations and SQL functions an application registers on its own connections
/// (Android's <c>LOCALIZED</c> and <c>UNICODE</c> collations, a <c>valid_email()</c> in a CHECK
/// constraint). A schema that names them cannot be created, read through an index, checked or copied
/// without them, so Walden registers stand-ins on its own connections only:
/// <list type="bullet">
/// <item>a collation compares the UTF-8 bytes (BINARY order). Strings equal under BINARY are equal
/// under any collation, so a UNIQUE index accepts every row the real collation accepted; its order
/// differs, so the application must <c>REINDEX</c> the collation with its own registered;</item>
/// <item>a function returns NULL for any arguments, and CHECK constraints are neither enforced nor checked on the
/// recovery's connections with function stand-ins (<c>PRAGMA ignore_check_constraints</c>): a CHECK such as
/// <c>f(x) IS NOT NULL</c> would otherwise refuse every row. A generated column or expression index computed by
/// it holds NULL until the application recomputes it.</item>
/// </list>
/// The names are found by trying the schema in a private in-memory database and registering what
/// SQLite reports missing, so a stand-in is registered only for a name the schema really needs.
/// </summary>
internal sealed partial class StandIns
{
    private const int Utf8 = 1;
    private const int Deterministic = 0x800;
    private const int Innocuous = 0x200000;

    [ThreadStatic]
    private static ThreadScope? t_onThisThread;

    private static int s_autoExtensionInstalled;

    private readonly SortedSet<string> _collations = new(StringComparer.OrdinalIgnoreCase);
    private readonly SortedSet<string> _functions = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>No stand-ins: what a schema that needs none of the application's own names gets.</summary>
    internal StandIns()
    {
    }

    /// <summary>Collations that had to be stood in for.</summary>
    internal IReadOnlyCollection<string> Collations => _collations;

    /// <summary>Functions that had to be stood in for.</summary>
    internal IReadOnlyCollection<string> Functions => _functions;

    internal bool Any => _collations.Count > 0 || _functions.Count > 0;

    /// <summary>
    /// The stand-ins a schema needs: every statement is run in a private in-memory database, then
    /// statements that compile the schema's CHECK constraints, generated columns, triggers and views are
    /// prepared, and each collation or function SQLite reports missing gets a stand-in.
    /// Statements that fail for any other reason (an unknown virtual table module) are skipped.
    /// </summary>
    /// <param name="schema">The CREATE statements, tables first, as <c>sqlite_schema</c> lists them.</param>
    internal static StandIns Discover(IEnumerable<string> schema)
    {
        var standIns = new StandIns();
        using var memory = new SqliteConnection("Data Source=:memory:");
        memory.Open();
        var statements = schema.ToList();
        foreach (var sql in statements)
        {
            standIns.TryOn(memory, sql, prepareOnly: false);
        }

        var tables = new List<(string Name, List<string> Columns)>();
        var views = new List<string>();
        using (var list = memory.CreateCommand())
        {
            list.CommandText = "SELECT name, type FROM pragma_table_list WHERE schema = 'main' AND type IN ('table', 'view') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'";
            using var reader = list.ExecuteReader();
            while (reader.Read())
            {
                if (reader.GetString(1) == "view")
                {
                    views.Add(reader.GetString(0));
                }
                else
                {
                    tables.Add((reader.GetString(0), []));
                }
            }
        }

        foreach (var (name, columns) in tables)
        {
            columns.AddRange(Columns(memory, name, generated: false));
        }

        foreach (var (name, columns) in tables.Where(t => t.Columns.Count > 0))
        {
            // Preparing (never running) these compiles the table's CHECK constraints, generated columns and triggers.
            var quoted = Quote(name);
            var assignments = string.Join(", ", columns.Select(c => $"{Quote(c)} = {Quote(c)}"));
            standIns.TryOn(memory, $"INSERT INTO {quoted}({string.Join(", ", columns.Select(Quote))}) VALUES({string.Join(", ", columns.Select(_ => "NULL"))})", prepareOnly: true);
            standIns.TryOn(memory, $"UPDATE {quoted} SET {assignments}", prepareOnly: true);
            standIns.TryOn(memory, $"DELETE FROM {quoted}", prepareOnly: true);
        }

        foreach (var view in views)
        {
            standIns.TryOn(memory, $"SELECT * FROM {Quote(view)}", prepareOnly: true);
        }

        return standIns;
    }

    /// <summary>Registers every stand-in on a connection (Walden's own; never an application's).</summary>
    internal void Register(SqliteConnection connection) => Register(connection.Handle!.DangerousGetHandle(), ignoreChecks: false);

    /// <summary>
    /// Registers every stand-in on a connection that writes recovered rows (or checks them), and when there are function
    /// stand-ins turns CHECK constraints off on it (<c>PRAGMA ignore_check_constraints</c>): a stand-in cannot say what the
    /// application's function would, and a CHECK such as <c>f(x) IS NOT NULL</c> would otherwise refuse every row.
    /// Foreign keys are turned off on it too (<see cref="PrepareForRecoveredRows"/>).
    /// </summary>
    internal void RegisterForRecovery(SqliteConnection connection)
    {
        Register(connection.Handle!.DangerousGetHandle(), ignoreChecks: true);
        ConnectionFactory.Execute(connection, "PRAGMA foreign_keys = OFF");
    }

    /// <summary>
    /// Registers the stand-ins also on every connection this thread opens until disposed, including the
    /// ones SQLite extensions open themselves (the recover extension's output), and makes each a connection that writes
    /// recovered rows (<see cref="PrepareForRecoveredRows"/>): foreign keys off, CHECK constraints not enforced. Each
    /// handle opened is passed to <paramref name="opened"/>. Other threads' connections are not touched: the hook is an
    /// SQLite auto-extension that looks at this thread's scope only.
    /// </summary>
    internal IDisposable OnConnectionsOpenedByThisThread(Action<IntPtr>? opened = null)
    {
        InstallAutoExtension();
        var previous = t_onThisThread;
        t_onThisThread = new ThreadScope(this, opened);
        return new Scope(previous);
    }

    /// <summary>
    /// Makes <paramref name="db"/> a connection that writes recovered rows as the file held them. Walden's SQLite enforces
    /// foreign keys by default (SQLITE_DEFAULT_FOREIGN_KEYS=1), but the files it recovers were written by programs that
    /// mostly did not (SQLite's own default): rows in any order, a child before its parent, a reference to a deleted
    /// row. With them enforced, every such row would be refused. CHECK constraints are not enforced either: a row the
    /// file holds that its CHECK refuses (a constraint added later, an application function) is still the application's.
    /// </summary>
    internal static void PrepareForRecoveredRows(IntPtr db)
    {
        Check(NativeStandIns.Exec(db, "PRAGMA foreign_keys = OFF; PRAGMA ignore_check_constraints = ON", IntPtr.Zero, IntPtr.Zero, IntPtr.Zero),
            "foreign_keys, ignore_check_constraints");
    }

    /// <summary>
    /// Runs <paramref name="action"/>; when SQLite reports a collation or function missing, registers a
    /// stand-in for it on <paramref name="connection"/> (and remembers it) and runs it again.
    /// </summary>
    internal T Retry<T>(SqliteConnection connection, Func<T> action)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                return action();
            }
            catch (SqliteException ex) when (attempt < 64 && Learn(ex.Message))
            {
                Register(connection);
            }
        }
    }

    /// <summary>What the application that owns the file must know, one sentence per kind of stand-in; empty when none was needed.</summary>
    internal IReadOnlyList<string> Notes
    {
        get
        {
            var notes = new List<string>();
            if (_collations.Count > 0)
            {
                notes.Add($"The schema uses the application's collation(s) {string.Join(", ", _collations)}: Walden read the file with binary-order " +
                    "stand-ins, so every row was read, but the order and uniqueness of the indexes, and the CHECK constraints, that use them were " +
                    "not verified; " +
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
        var collationMatch = MissingCollation().Match(exception.Message);
        var functionMatch = MissingFunction().Match(exception.Message);
        collation = collationMatch.Success;
        name = collationMatch.Success ? collationMatch.Groups[1].Value : functionMatch.Success ? functionMatch.Groups[1].Value : string.Empty;
        return collationMatch.Success || functionMatch.Success;
    }

    /// <summary>
    /// Removes from <paramref name="findings"/> those that name an index whose definition (or whose table's) uses a
    /// stand-in, and the failed CHECK constraints of a table whose definition uses one: the stand-in cannot reproduce the
    /// application's order or values (a function stand-in returns NULL, so <c>CHECK (f(x) IS NOT NULL)</c> fails on every
    /// row), so such a finding says nothing about the file. Returns one note per index or table set aside.
    /// </summary>
    internal List<string> SetAsideUnverifiable(SqliteConnection connection, List<string> findings)
    {
        var notes = new List<string>();
        if (!Any || findings.Count == 0)
        {
            return notes;
        }

        // One read of the schema: each index with its table's definition (a UNIQUE column's collation is in the table's),
        // and each table.
        var schema = new List<(string Type, string Name, string TableName, string Sql)>();
        using (var command = connection.CreateCommand())
        {
            command.CommandText = "SELECT type, name, tbl_name, coalesce(sql, '') FROM sqlite_schema WHERE type IN ('index', 'table')";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                schema.Add((reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3)));
            }
        }

        var tables = schema.Where(o => o.Type == "table").Select(o => (o.Type, o.Name, o.Sql)).ToList();
        var objects = schema.Where(o => o.Type == "index").Select(o => ("index", o.Name,
            o.Sql + " " + tables.Find(t => t.Name == o.TableName).Sql)).ToList();

        var indexes = _collations.Concat(_functions).SelectMany(name => UsedBy(name, objects)).Distinct().Select(used => used["index ".Length..]);
        // Longest names first, so that an index named like the prefix of another does not claim its findings.
        foreach (var index in indexes.OrderByDescending(name => name.Length))
        {
            var pattern = new Regex($@"(?<![\w$]){Regex.Escape(index)}(?![\w$])", RegexOptions.IgnoreCase);
            var matching = findings.Where(finding => pattern.IsMatch(finding)).ToList();
            if (matching.Count > 0)
            {
                findings.RemoveAll(matching.Contains);
                notes.Add($"{matching.Count} finding(s) on the index '{index}' were set aside, since it uses a stand-in and its entries " +
                    $"cannot be compared without the application's definition (the first: '{matching[0]}').");
            }
        }

        // What a table's own definition makes a stand-in compute, as integrity_check words it: "CHECK constraint failed in
        // <table>" for each row its CHECK refuses; "row not in PRIMARY KEY order for <table>" for a WITHOUT ROWID table
        // whose key is in a stand-in collation (its order is the application's); "NULL value in <table>.<column>" for a
        // NOT NULL generated column a stand-in function computes. A NULL in a stored column is the file's own: kept.
        static string[] Names(IEnumerable<string> used) => [.. used.Distinct().Select(u => u["table ".Length..])];
        var byCollation = Names(_collations.SelectMany(name => UsedBy(name, tables)));
        var byFunction = Names(_functions.SelectMany(name => UsedBy(name, tables)));
        foreach (var table in byCollation.Union(byFunction, StringComparer.OrdinalIgnoreCase))
        {
            var check = findings.RemoveAll(f => string.Equals(f, $"CHECK constraint failed in {table}", StringComparison.OrdinalIgnoreCase));
            var order = byCollation.Contains(table, StringComparer.OrdinalIgnoreCase)
                ? findings.RemoveAll(f => string.Equals(f, $"row not in PRIMARY KEY order for {table}", StringComparison.OrdinalIgnoreCase))
                : 0;
            var generated = byFunction.Contains(table, StringComparer.OrdinalIgnoreCase) ? Columns(connection, table, generated: true) : [];
            var nulls = findings.RemoveAll(f => generated.Any(column =>
                string.Equals(f, $"NULL value in {table}.{column}", StringComparison.OrdinalIgnoreCase)));
            foreach (var (count, what) in new[] { (check, "failed CHECK constraint(s)"), (order, "row(s) out of PRIMARY KEY order"), (nulls, "NULL(s) in generated columns") })
            {
                if (count > 0)
                {
                    notes.Add($"{count} finding(s) of {what} in the table '{table}' were set aside, since its definition uses a stand-in " +
                        "and they cannot be judged without the application's definition.");
                }
            }
        }

        return notes;
    }

    /// <summary>
    /// The ordinary columns of <paramref name="table"/>, or with <paramref name="generated"/> its generated ones (hidden 0;
    /// 2: virtual, 3: stored, in <c>PRAGMA table_xinfo</c>).
    /// </summary>
    private static List<string> Columns(SqliteConnection connection, string table, bool generated)
    {
        var columns = new List<string>();
        using var command = connection.CreateCommand();
        command.CommandText = generated
            ? "SELECT name FROM pragma_table_xinfo($table) WHERE hidden IN (2, 3)"
            : "SELECT name FROM pragma_table_xinfo($table) WHERE hidden = 0";
        command.Parameters.AddWithValue("$table", table);
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            columns.Add(reader.GetString(0));
        }

        return columns;
    }

    /// <summary>Objects of <paramref name="schema"/> whose SQL names the stand-in <paramref name="name"/>.</summary>
    internal static IEnumerable<string> UsedBy(string name, IEnumerable<(string Type, string Name, string Sql)> schema) =>
        schema.Where(o => Regex.IsMatch(o.Sql, $@"(?<![\w$]){Regex.Escape(name)}(?![\w$])", RegexOptions.IgnoreCase)).Select(o => $"{o.Type} {o.Name}");

    private void TryOn(SqliteConnection memory, string sql, bool prepareOnly)
    {
        try
        {
            Retry(memory, () =>
            {
                using var command = memory.CreateCommand();
                command.CommandText = sql;
                if (prepareOnly)
                {
                    command.Prepare();
                    return 0;
                }

                // A script may fail half-way: undo its first statements so that the retry starts clean.
                ConnectionFactory.Execute(memory, "SAVEPOINT walden_stand_in");
                try
                {
                    command.ExecuteNonQuery();
                    ConnectionFactory.Execute(memory, "RELEASE walden_stand_in");
                }
                catch (SqliteException)
                {
                    ConnectionFactory.Execute(memory, "ROLLBACK TO walden_stand_in");
                    ConnectionFactory.Execute(memory, "RELEASE walden_stand_in");
                    throw;
                }

                return 0;
            });
        }
        catch (SqliteException)
        {
            // not about a missing name (an unknown module, a shadow table the virtual table already created): nothing to stand in for
        }
    }

    private bool Learn(string message)
    {
        if (MissingCollation().Match(message) is { Success: true } collation)
        {
            return _collations.Add(collation.Groups[1].Value);
        }

        if (MissingFunction().Match(message) is { Success: true } function)
        {
            return _functions.Add(function.Groups[1].Value);
        }

        return false;
    }

    private unsafe void Register(IntPtr db, bool ignoreChecks)
    {
        foreach (var name in _collations)
        {
            Check(NativeStandIns.CreateCollation(db, name, Utf8, IntPtr.Zero, &CompareBytes, null), name);
        }

        foreach (var name in _functions)
        {
            Check(NativeStandIns.CreateFunction(db, name, -1, Utf8 | Deterministic | Innocuous, IntPtr.Zero, &ReturnNull, null, null, null), name);
        }

        if (_functions.Count > 0 && ignoreChecks)
        {
            // A stand-in cannot tell a CHECK what the application's function would say: neither refuse rows by it nor report them.
            Check(NativeStandIns.Exec(db, "PRAGMA ignore_check_constraints = ON", IntPtr.Zero, IntPtr.Zero, IntPtr.Zero), "ignore_check_constraints");
        }
    }

    private static void Check(int rc, string name)
    {
        if (rc != 0)
        {
            throw new WaldenException($"Registering a stand-in for '{name}' failed with SQLite code {rc}.", rc & 0xFF, rc, null);
        }
    }

    private static unsafe void InstallAutoExtension()
    {
        if (Interlocked.CompareExchange(ref s_autoExtensionInstalled, 1, 0) == 0)
        {
            Check(NativeStandIns.AutoExtension(&OnOpen), "the auto-extension");
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int OnOpen(IntPtr db, IntPtr errorMessage, IntPtr api)
    {
        try
        {
            if (t_onThisThread is { } scope) // only recovery opens connections in this scope
            {
                scope.StandIns.Register(db, ignoreChecks: true);
                PrepareForRecoveredRows(db);
                scope.Opened?.Invoke(db);
            }

            return 0;
        }
        catch (WaldenException ex)
        {
            return ex.SqliteErrorCode is > 0 and var code ? code : 1;
        }
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static unsafe int CompareBytes(IntPtr state, int length1, byte* text1, int length2, byte* text2)
    {
        var order = new ReadOnlySpan<byte>(text1, length1).SequenceCompareTo(new ReadOnlySpan<byte>(text2, length2));
        return Math.Sign(order);
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static void ReturnNull(IntPtr context, int count, IntPtr values)
    {
        // No result set: SQLite returns NULL.
    }

    private static string Quote(string identifier) => SqlText.Quote(identifier);

    [GeneratedRegex(@"no such collation sequence: ([\w$]+)")]
    private static partial Regex MissingCollation();

    // "no such function: f", and "unknown function: f()" (SQLite 3.44+, in a CHECK constraint or an index expression)
    [GeneratedRegex(@"(?:no such|unknown) function: ([\w$]+)")]
    private static partial Regex MissingFunction();

    private sealed record ThreadScope(StandIns StandIns, Action<IntPtr>? Opened);

    private sealed class Scope(ThreadScope? previous) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.CompareExchange(ref _disposed, 1, 0) == 0)
            {
                t_onThisThread = previous;
            }
        }
    }

    private static unsafe partial class NativeStandIns
    {
        [LibraryImport(Native.SqliteNative.Library, EntryPoint = "sqlite3_create_collation_v2", StringMarshalling = StringMarshalling.Utf8)]
        internal static partial int CreateCollation(IntPtr db, string name, int encoding, IntPtr state,
            delegate* unmanaged[Cdecl]<IntPtr, int, byte*, int, byte*, int> compare, delegate* unmanaged[Cdecl]<IntPtr, void> destroy);

        [LibraryImport(Native.SqliteNative.Library, EntryPoint = "sqlite3_create_function_v2", StringMarshalling = StringMarshalling.Utf8)]
        internal static partial int CreateFunction(IntPtr db, string name, int arguments, int flags, IntPtr state,
            delegate* unmanaged[Cdecl]<IntPtr, int, IntPtr, void> function, delegate* unmanaged[Cdecl]<IntPtr, int, IntPtr, void> step,
            delegate* unmanaged[Cdecl]<IntPtr, void> final, delegate* unmanaged[Cdecl]<IntPtr, void> destroy);

        [LibraryImport(Native.SqliteNative.Library, EntryPoint = "sqlite3_exec", StringMarshalling = StringMarshalling.Utf8)]
        internal static partial int Exec(IntPtr db, string sql, IntPtr callback, IntPtr state, IntPtr errorMessage);

        [LibraryImport(Native.SqliteNative.Library, EntryPoint = "sqlite3_auto_extension")]
        internal static partial int AutoExtension(delegate* unmanaged[Cdecl]<IntPtr, IntPtr, IntPtr, int> entryPoint);
    }
}
