using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;
using Walden.Configuration;

namespace Walden.Recovery;

/// <summary>What one recovery attempt left in its output file.</summary>
internal sealed record AttemptResult(
    string OutputPath,
    Dictionary<string, long> Tables,
    long LostAndFound,
    long Reattributed,
    List<string> Rebuilt,
    List<string> FullText,
    string IntegrityCheck,
    int PageSize)
{
    internal long RowsInTables => Tables.Values.Sum();

    /// <summary>Tables SQLite could not count by reading them, each with what was counted instead or why nothing could be.</summary>
    internal List<string> Uncounted { get; init; } = [];
}

/// <summary>
/// The steps people used to do by hand after <c>.recover</c>, on the freshly recovered file: bring back
/// what the known schema says is missing, give orphaned rows back to their tables, rebuild full-text
/// indexes from their content, ANALYZE where the original had statistics, and check the result with <c>PRAGMA integrity_check</c>.
/// </summary>
internal static partial class RecoveredDatabase
{
    internal static AttemptResult Finish(string inputPath, string outputPath, KnownSchema? known, bool freelistKnown, List<string> notes, RecoveryContext context)
    {
        var builder = new SqliteConnectionStringBuilder { DataSource = outputPath, Mode = SqliteOpenMode.ReadWrite, Pooling = false };
        using var connection = new SqliteConnection(builder.ToString());
        connection.Open();
        context.StandIns.RegisterForRecovery(connection);
        // Recovered data may be partial: a row whose parent row was lost is still the application's data.
        ConnectionFactory.Execute(connection, "PRAGMA foreign_keys=OFF");
        ConnectionFactory.Execute(connection, "BEGIN");
        var rebuilt = CreateMissing(connection, known, o => o.Type == "table" && o.IsVirtualTable);
        rebuilt.AddRange(CreateMissing(connection, known, o => o.Type == "table" && !o.IsVirtualTable));
        CreateMissing(connection, known, o => o.Type == "index");
        // Triggers must not fire for rows put back (an audit trigger would invent rows): set them aside meanwhile.
        var triggers = Objects(connection, "trigger");
        foreach (var trigger in triggers)
        {
            ConnectionFactory.Execute(connection, $"DROP TRIGGER {LostAndFoundMapper.Quote(trigger.Name)}");
        }

        var refused = RefusedRows.Take(connection, context.RefusedTable);
        long moved;
        using (var pages = new PageCheck(inputPath, (int)ConnectionFactory.Scalar<long>(connection, "PRAGMA page_size")))
        {
            moved = LostAndFoundMapper.Map(connection, known, freelistKnown, pages, notes, context);
            SuspectRows.Move(connection, inputPath, pages, notes, context);
            RefusedRows.Settle(connection, refused, notes, context);
        }

        foreach (var trigger in triggers)
        {
            ConnectionFactory.Execute(connection, trigger.Sql);
        }

        CreateMissing(connection, known, o => o.Type is "view" or "trigger");
        Commit(connection);
        var fullText = RebuildFullText(connection, notes);
        RecoveredStatistics.Refresh(connection, context.Statistics, notes);
        // Counted before the check: it may leave out full-text tables whose tokenizer is the application's, and then the
        // connection can no longer read them.
        var uncounted = new List<string>();
        var rows = CountRows(connection, context.LostAndFound, uncounted);
        var integrity = ConstraintFindingsAsNotes(IntegrityCheck(connection, notes), notes);
        var lost = LostAndFoundMapper.TableExists(connection, context.LostAndFound)
            ? ConnectionFactory.Scalar<long>(connection, $"SELECT count(*) FROM {context.LostAndFoundSql}")
            : 0;
        var pageSize = (int)ConnectionFactory.Scalar<long>(connection, "PRAGMA page_size"); // the extension gives the output the page size it read the input with
        return new AttemptResult(outputPath, rows, lost, moved, rebuilt, fullText, integrity, pageSize) { Uncounted = uncounted };
    }

    /// <summary>
    /// COMMIT, once sure the transaction is still open. SQLite rolls a transaction back by itself after an I/O error, and some
    /// statements (the pragma table-valued functions) do not pass the error on: the work after it then ran statement by statement
    /// outside any transaction, and COMMIT would only say "no transaction is active". Either way the file is not what was meant.
    /// </summary>
    /// <exception cref="SqliteException">SQLITE_IOERR: the transaction is gone.</exception>
    internal static void Commit(SqliteConnection connection)
    {
        if (SQLitePCL.raw.sqlite3_get_autocommit(connection.Handle) != 0)
        {
            throw new SqliteException(
                "SQLite rolled back the transaction on the recovered file by itself, after a read or write of the file failed " +
                "(an I/O error not passed on to the statement that met it).", Errors.SqliteErrors.IoErr, Errors.SqliteErrors.IoErr);
        }

        ConnectionFactory.Execute(connection, "COMMIT");
    }

    /// <summary>
    /// Rows per user table (virtual tables by their content; shadow tables and lost_and_found left out). A virtual table SQLite
    /// cannot read here (its module or its full-text tokenizer is the application's) is never dropped silently: an FTS3/FTS4
    /// table is counted from its content shadow table, and each such table is named in <paramref name="uncounted"/> with
    /// what was counted instead, or why nothing could be.
    /// </summary>
    internal static Dictionary<string, long> CountRows(SqliteConnection connection, string lostAndFound, List<string>? uncounted = null)
    {
        var tables = new List<(string Name, string Sql)>();
        using (var list = connection.CreateCommand())
        {
            // An external-content full-text table indexes another table's rows: counting it would count them twice.
            list.CommandText = "SELECT l.name, s.sql FROM pragma_table_list AS l JOIN sqlite_schema AS s ON s.name = l.name " +
                "WHERE l.schema = 'main' AND l.type IN ('table', 'virtual') AND l.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' AND l.name <> $lost ORDER BY l.name";
            list.Parameters.AddWithValue("$lost", lostAndFound);
            using var reader = list.ExecuteReader();
            while (reader.Read())
            {
                if (Integrity.VirtualTableSql.Parse(reader.GetString(1)) is not { FullTextModule: not null, IsExternalContent: true })
                {
                    tables.Add((reader.GetString(0), reader.GetString(1)));
                }
            }
        }

        var unknownModules = Integrity.UnknownModules.Find(connection);
        var counts = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var (name, sql) in tables)
        {
            try
            {
                counts[name] = ConnectionFactory.Scalar<long>(connection, $"SELECT count(*) FROM {LostAndFoundMapper.Quote(name)}");
            }
            catch (SqliteException unreadable) when (!Errors.SqliteErrors.IsDiskFault(unreadable))
            {
                uncounted?.Add(CountWithout(connection, name, sql, unreadable.Message, unknownModules, counts));
            }
        }

        return counts;
    }

    /// <summary>
    /// A table SQLite could not count: an FTS3/FTS4 table is counted from its <c>%_content</c> (or, contentless, <c>%_docsize</c>)
    /// shadow table, one row per row of the table; a table of a module Walden does not have cannot be counted at all. Returns
    /// the sentence that names it and says why it could not be read: the application's tokenizer only when SQLite says that
    /// tokenizer is missing; a contentless FTS4 table (<c>content=''</c>) is one SQLite cannot scan whatever its tokenizer.
    /// </summary>
    private static string CountWithout(SqliteConnection connection, string name, string sql, string error,
        List<Integrity.UnknownModules.Table> unknownModules, Dictionary<string, long> counts)
    {
        if (Integrity.VirtualTableSql.Parse(sql) is { FullTextModule: "fts3" or "fts4" } fullText)
        {
            var tokenizer = Integrity.ApplicationTokenizers.MissingTokenizer(connection, name, sql);
            var why = tokenizer is not null
                ? $"cannot be read without the application's tokenizer '{tokenizer}' ({error})"
                : fullText.IsContentless
                    ? $"is contentless (content=''): it keeps no copy of its rows, and SQLite cannot scan it ({error})"
                    : $"cannot be read here ({error})";
            foreach (var shadow in new[] { name + "_content", name + "_docsize" })
            {
                if (LostAndFoundMapper.TableExists(connection, shadow))
                {
                    counts[name] = ConnectionFactory.Scalar<long>(connection, $"SELECT count(*) FROM {LostAndFoundMapper.Quote(shadow)}");
                    return $"The full-text table '{name}' {why}: its {counts[name]:N0} row(s) were counted from its shadow table '{shadow}', " +
                        "one row per row of the table.";
                }
            }
        }

        if (unknownModules.Find(t => t.Name == name) is { } unknown)
        {
            return $"The virtual table {unknown.Describe()} was not counted: its module is the application's (an extension it loads) " +
                $"and Walden does not have it ({error})." + (unknown.ShadowTables.Count > 0
                    ? " The tables named after it (by SQLite's naming, its shadow tables, where the module keeps its data) are counted as tables."
                    : string.Empty);
        }

        return $"The virtual table '{name}' was not counted: SQLite cannot read it here ({error}).";
    }

    /// <summary>
    /// integrity_check (100 findings), as one string; "ok" when sound. Full-text tables whose tokenizer is the application's are
    /// left out first (<see cref="Integrity.ApplicationTokenizers"/>), with a note in <paramref name="notes"/> when given.
    /// </summary>
    internal static string IntegrityCheck(SqliteConnection connection, List<string>? notes = null)
    {
        try
        {
            notes?.AddRange(Integrity.ApplicationTokenizers.SetAside(connection));
        }
        catch (SqliteException ex) when (!Errors.SqliteErrors.IsDiskFault(ex))
        {
            // a schema SQLite cannot read: the check below says so
        }

        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA integrity_check(100)";
        var lines = new List<string>();
        try
        {
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                lines.Add(reader.GetString(0));
            }
        }
        catch (SqliteException ex) when (!Errors.SqliteErrors.IsDiskFault(ex))
        {
            lines.Add(ex.Message); // the check reports what it found, then gives up on the damage (or a virtual table's own check fails)
        }

        // integrity_check reports a page it could not read as a finding, in words: a failing disk, not damage.
        foreach (var line in lines)
        {
            var match = UnreadablePage().Match(line);
            var code = match.Groups[1].Success
                ? int.Parse(match.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)
                : Errors.SqliteErrors.IoErr;
            if (match.Success && Errors.SqliteErrors.IsDiskFault(code))
            {
                throw new SqliteException($"integrity_check could not read a page of the file ({line}).", code & 0xFF, code);
            }
        }

        return string.Join("\n", lines);
    }

    /// <summary>
    /// The result's "CHECK constraint failed in t" findings moved to the notes: the rows were written with CHECK constraints not
    /// enforced (<see cref="StandIns.PrepareForRecoveredRows"/>), so each is a row the original held as it was, kept, not damage.
    /// </summary>
    private static string ConstraintFindingsAsNotes(string integrity, List<string> notes)
    {
        var lines = integrity.Split('\n');
        var checks = lines.Select(line => CheckFailed().Match(line)).Where(m => m.Success).Select(m => m.Groups[1].Value).ToList();
        if (checks.Count == 0)
        {
            return integrity;
        }

        foreach (var table in checks.Distinct(StringComparer.Ordinal))
        {
            notes.Add($"{checks.Count(t => t == table):N0} row(s) of the table '{table}' fail its CHECK constraint, as they did in the original file: " +
                "they were kept as they were (recovery does not enforce CHECK constraints), for the application to correct.");
        }

        var rest = lines.Where(line => !CheckFailed().IsMatch(line)).ToList();
        return rest.Count == 0 ? "ok" : string.Join("\n", rest);
    }

    [GeneratedRegex(@"^CHECK constraint failed in (.+)$")]
    private static partial Regex CheckFailed();

    /// <summary>What integrity_check says of a page the pager could not fetch (btree.c): an I/O error, with its code when given.</summary>
    [GeneratedRegex(@"unable to get the page\. error code=(\d+)|failed to get page \d+")]
    private static partial Regex UnreadablePage();

    /// <summary>
    /// Pages of the input that SQLite's own integrity_check names as damaged (pages it reports only as
    /// "never used" are cut off from their tree, not unreadable: the recovery reads them); every page
    /// when SQLite cannot read the input as a database at all.
    /// </summary>
    internal static long CountUnreadablePages(string inputPath, long inputPages, StandIns standIns)
    {
        try
        {
            var builder = new SqliteConnectionStringBuilder { DataSource = inputPath, Mode = SqliteOpenMode.ReadOnly, Pooling = false };
            using var connection = new SqliteConnection(builder.ToString());
            connection.Open();
            standIns.Register(connection); // an index in the application's collation cannot be checked without it
            // A damaged CREATE statement makes SQLite refuse the whole schema ("malformed database schema"), which is not every page
            // unreadable: under writable_schema it loads what parses, and the check reads every tree of that.
            ConnectionFactory.Execute(connection, "PRAGMA writable_schema = ON");
            var report = IntegrityCheck(connection);
            if (report == "ok")
            {
                return 0;
            }

            var damaged = report.Split('\n').Where(line => !line.EndsWith("never used", StringComparison.Ordinal));
            var pages = damaged.SelectMany(line => PageNumber().Matches(line)).Select(m => long.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)).ToHashSet();
            if (pages.Count > 0)
            {
                return Math.Min(inputPages, pages.Count);
            }

            // No page named: either the check could not read the file at all, or only index entries disagree.
            return report.Contains("malformed", StringComparison.Ordinal) || report.Contains("not a database", StringComparison.Ordinal) ? inputPages : 0;
        }
        catch (SqliteException disk) when (!Errors.SqliteErrors.IsDiskFault(disk))
        {
            return inputPages;
        }
    }

    [GeneratedRegex(@"[Pp]age (\d+)")]
    private static partial Regex PageNumber();

    private static List<string> CreateMissing(SqliteConnection connection, KnownSchema? known, Func<SchemaObject, bool> which)
    {
        var created = new List<string>();
        if (known is null)
        {
            return created;
        }

        foreach (var entry in known.Objects.Where(which))
        {
            if (Exists(connection, entry.Name))
            {
                continue;
            }

            ConnectionFactory.Execute(connection, entry.Sql);
            created.Add(entry.Name);
        }

        return created;
    }

    private static bool Exists(SqliteConnection connection, string name)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM sqlite_schema WHERE name = $name COLLATE NOCASE";
        command.Parameters.AddWithValue("$name", name);
        return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) > 0;
    }

    private static List<SchemaObject> Objects(SqliteConnection connection, string type)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT type, name, tbl_name, rootpage, sql FROM sqlite_schema WHERE type = $type AND sql IS NOT NULL";
        command.Parameters.AddWithValue("$type", type);
        using var reader = command.ExecuteReader();
        var objects = new List<SchemaObject>();
        while (reader.Read())
        {
            objects.Add(new SchemaObject(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.IsDBNull(3) ? 0 : reader.GetInt64(3), reader.GetString(4)));
        }

        return objects;
    }

    private static List<string> RebuildFullText(SqliteConnection connection, List<string> notes)
    {
        var rebuilt = new List<string>();
        foreach (var table in Objects(connection, "table").Where(o => o.IsVirtualTable))
        {
            var declared = Integrity.VirtualTableSql.Parse(table.Sql);
            if (declared?.FullTextModule is null)
            {
                continue;
            }

            if (declared.IsContentless)
            {
                notes.Add($"The full-text table {table.Name} is contentless: its index cannot be rebuilt from stored content and was left as recovered.");
                continue;
            }

            try
            {
                Rebuild(connection, table.Name);
                rebuilt.Add(table.Name);
            }
            catch (SqliteException first) when (!Errors.SqliteErrors.IsDiskFault(first) && !declared.IsExternalContent &&
                                                LostAndFoundMapper.TableExists(connection, table.Name + "_content"))
            {
                // The index's own bookkeeping (e.g. its config row) was lost too: recreate the table around its recovered content.
                try
                {
                    RecreateAroundContent(connection, table);
                    rebuilt.Add(table.Name);
                    notes.Add($"The full-text table {table.Name} was recreated from its recovered content ({first.Message}).");
                }
                catch (SqliteException ex) when (!Errors.SqliteErrors.IsDiskFault(ex))
                {
                    notes.Add(RebuildFailed(table.Name, ex));
                }
            }
            catch (SqliteException ex) when (!Errors.SqliteErrors.IsDiskFault(ex))
            {
                notes.Add(RebuildFailed(table.Name, ex));
            }
        }

        return rebuilt;
    }

    /// <summary>Why a full-text index was not rebuilt, and, when its tokenizer is the application's, how the application rebuilds it.</summary>
    private static string RebuildFailed(string table, SqliteException error) =>
        error.Message.Contains("tokenizer", StringComparison.Ordinal)
            ? $"Rebuilding the full-text index {table} failed: {error.Message}. The tokenizer is the application's and Walden does not " +
              $"have it; its rows are kept as recovered. Rebuild it in the application, with its tokenizer registered: " +
              $"INSERT INTO {LostAndFoundMapper.Quote(table)}({LostAndFoundMapper.Quote(table)}) VALUES('rebuild')."
            : $"Rebuilding the full-text index {table} failed: {error.Message}";

    private static void Rebuild(SqliteConnection connection, string table)
    {
        var name = LostAndFoundMapper.Quote(table);
        ConnectionFactory.Execute(connection, $"INSERT INTO {name}({name}) VALUES('rebuild')");
    }

    private static void RecreateAroundContent(SqliteConnection connection, SchemaObject table)
    {
        var content = LostAndFoundMapper.Quote(table.Name + "_content");
        if (LostAndFoundMapper.TableExists(connection, table.Name + "_config"))
        {
            // FTS5 refuses to open (even to be dropped) without its format version row; 4 is the format every FTS5 index can be rebuilt in.
            ConnectionFactory.Execute(connection, $"INSERT OR IGNORE INTO {LostAndFoundMapper.Quote(table.Name + "_config")}(k, v) VALUES('version', 4)");
        }

        ConnectionFactory.Execute(connection, "BEGIN");
        try
        {
            ConnectionFactory.Execute(connection, $"CREATE TEMP TABLE walden_fts_content AS SELECT * FROM {content}");
            ConnectionFactory.Execute(connection, $"DROP TABLE {LostAndFoundMapper.Quote(table.Name)}");
            ConnectionFactory.Execute(connection, table.Sql);
            ConnectionFactory.Execute(connection, $"INSERT INTO {content} SELECT * FROM temp.walden_fts_content");
            ConnectionFactory.Execute(connection, "DROP TABLE temp.walden_fts_content");
            Rebuild(connection, table.Name);
            Commit(connection);
        }
        catch
        {
            ConnectionFactory.Execute(connection, "ROLLBACK");
            throw;
        }
    }
}
