using Microsoft.Data.Sqlite;
using Walden.Native;

namespace Walden.Recovery;

/// <summary>
/// Takes back out of the tables the rows the recover extension decoded from damaged cells. The extension
/// trusts every cell pointer of a page it reaches; when a bit flip moved one, it decodes a "row" from the
/// middle of another record, and the shell's <c>.recover</c> writes that row into the table as if it were
/// data. On each malformed table-leaf page Walden finds the cells that cannot be trusted: cells reaching
/// outside the page, overlapping another, floating between records, whose rowid breaks the b-tree's
/// ascending order, or whose record its table could not have stored. It decodes every cell the same way (sqlite_dbdata), finds the page's table from its
/// intact neighbours, and moves the row decoded from each untrusted cell from that table into
/// lost_and_found, where a person can still look at it. Nothing is deleted.
/// </summary>
internal static class SuspectRows
{
    private sealed record Cell(int Index, long RowId, List<object?> Values);

    internal static long Move(SqliteConnection output, string inputPath, PageCheck pages, List<string> notes, RecoveryContext context)
    {
        var damaged = new List<(long Page, HashSet<int> Structural, HashSet<int> Consistent)>();
        for (long pgno = 2; pgno <= pages.PageCount; pgno++)
        {
            if (pages.Read(pgno) is { } page && page[0] == 0x0D && !PageCheck.IsWellFormed(page))
            {
                var structural = PageCheck.SuspectCells(page).ToHashSet();
                var consistent = structural.Where(i => 8 + (2 * i) + 1 < page.Length
                    && System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(page.AsSpan(8 + (2 * i))) is var offset
                    && (PageCheck.RecordConsistent(page, offset) || PageCheck.PayloadSizeFlipped(page, offset))).ToHashSet();
                damaged.Add((pgno, structural, consistent));
            }
        }

        if (damaged.Count == 0)
        {
            return 0;
        }

        var tables = TableShape.ReadAll(output, context.LostAndFound).Where(t => !t.Derived && !t.WithoutRowid).ToList();
        long moved = 0;
        long confirmed = 0;
        try
        {
            using var input = OpenWithDbdata(inputPath);
            context.StandIns.Register(input);
            foreach (var (page, structural, consistent) in damaged)
            {
                var cells = Decode(input, page);
                var suspects = Untrusted(cells, structural);
                var owner = Owner(output, tables, cells.Where(c => !suspects.Contains(c)));
                if (owner is not null)
                {
                    // On a damaged page, a record its table could never have stored (a non-number in an INTEGER column, a NULL in a NOT NULL one) is damage too.
                    suspects.UnionWith(cells.Where(c => !owner.Fits(AsRead(owner, c.Values))));
                    // A cell suspected only for where it sits, whose record agrees with its own payload size, fits the
                    // table and whose rowid falls between its trusted neighbours' is a record SQLite wrote there.
                    suspects.ExceptWith(cells.Where(c => structural.Contains(c.Index) && consistent.Contains(c.Index) && owner.Fits(AsRead(owner, c.Values))
                        && InOrder(cells, suspects, c)).ToList());
                }

                if (suspects.Count == 0)
                {
                    continue;
                }

                foreach (var cell in suspects)
                {
                    if (owner is not null && ConfirmedElsewhere(input, owner, cells, suspects, cell))
                    {
                        // The rowid belongs elsewhere in the tree (a pointer moved onto a stale copy of a record), and the
                        // input's own b-tree, searched by rowid, holds these very values there: the row is not this cell's.
                        confirmed++;
                        continue;
                    }

                    if (owner is not null && ConfirmedByIndexes(output, input, owner, cell))
                    {
                        // Every index of the table holds this row's indexed values under its rowid: a row decoded
                        // from the middle of another record would not match them all. It is the row that was written.
                        confirmed++;
                        continue;
                    }

                    var table = owner ?? tables.FirstOrDefault(t => t.Columns.Count == cell.Values.Count);
                    if (table is null)
                    {
                        continue;
                    }

                    if (cell.Values.Count == 0 || (cell.Values.Count != table.Columns.Count && owner is null))
                    {
                        // The extension inserts nothing for a cell without fields: a row under this rowid came from another cell.
                        continue;
                    }

                    if (TakeRow(output, table, cell.RowId, cell.Values) is { } values)
                    {
                        LostAndFound.Add(output, context.LostAndFound, page, cell.RowId, values);
                        moved++;
                    }
                }
            }
        }
        catch (SqliteException ex) when (!Errors.SqliteErrors.IsDiskFault(ex))
        {
            notes.Add($"{damaged.Count} damaged page(s) could not be re-read to check the rows decoded from them ({ex.Message}); rows from those pages may differ from what was written.");
        }

        if (confirmed > 0)
        {
            notes.Add($"{confirmed} row(s) on damaged pages were kept in their table because every index of the table confirms them.");
        }

        if (moved > 0)
        {
            notes.Add($"{moved} row(s) decoded from damaged cells (a cell pointer moved by damage) were moved from their table to lost_and_found: they may not be what was written.");
        }

        return moved;
    }

    /// <summary>
    /// Whether a suspect cell's rowid lies outside the range of its page's trusted cells, and the damaged input's table
    /// b-tree, searched by that rowid, holds a row with exactly the cell's values: the row lives on another page.
    /// </summary>
    private static bool ConfirmedElsewhere(SqliteConnection input, TableShape table, List<Cell> cells, HashSet<Cell> suspects, Cell cell)
    {
        var trusted = cells.Where(c => !suspects.Contains(c)).Select(c => c.RowId).ToList();
        if (cell.Values.Count != table.Columns.Count || trusted.Count == 0 || (cell.RowId >= trusted.Min() && cell.RowId <= trusted.Max()))
        {
            return false;
        }

        try
        {
            return Matches(input, table, cell.RowId, cell.Values);
        }
        catch (SqliteException disk) when (!Errors.SqliteErrors.IsDiskFault(disk))
        {
            return false; // the input's tree cannot be searched there: no confirmation
        }
    }

    /// <summary>
    /// The record's values as SQLite reads them into the row: the INTEGER PRIMARY KEY's slot is the rowid whatever the record
    /// holds there (SQLite writes NULL), so a damaged byte in that slot alone changes nothing of the row.
    /// </summary>
    private static List<object?> AsRead(TableShape table, List<object?> values) =>
        table.IntegerPrimaryKey >= 0 && table.IntegerPrimaryKey < values.Count
            ? values.Select((v, i) => i == table.IntegerPrimaryKey ? null : v).ToList()
            : values;

    private static bool InOrder(List<Cell> cells, HashSet<Cell> suspects, Cell cell)
    {
        var before = cells.Where(c => c.Index < cell.Index && !suspects.Contains(c)).Select(c => (long?)c.RowId).LastOrDefault();
        var after = cells.Where(c => c.Index > cell.Index && !suspects.Contains(c)).Select(c => (long?)c.RowId).FirstOrDefault();
        return (before is null || before < cell.RowId) && (after is null || cell.RowId < after) && (before is not null || after is not null);
    }

    private static HashSet<Cell> Untrusted(List<Cell> cells, HashSet<int> structural)
    {
        var suspects = cells.Where(c => structural.Contains(c.Index)).ToHashSet();
        var trusted = cells.Where(c => !suspects.Contains(c)).ToList();
        for (var i = 0; i < trusted.Count; i++)
        {
            // Rowids ascend with the cell index on a table leaf; a cell out of order was not written there.
            var before = i > 0 ? trusted[i - 1].RowId : long.MinValue;
            var after = i < trusted.Count - 1 ? trusted[i + 1].RowId : long.MaxValue;
            if (trusted[i].RowId <= before || trusted[i].RowId >= after)
            {
                var prevOk = i == 0 || trusted[i - 1].RowId < trusted[i].RowId;
                var nextOk = i == trusted.Count - 1 || trusted[i].RowId < trusted[i + 1].RowId;
                if (!prevOk && !nextOk)
                {
                    suspects.Add(trusted[i]);
                }
            }
        }

        return suspects;
    }

    private static SqliteConnection OpenWithDbdata(string inputPath)
    {
        var builder = new SqliteConnectionStringBuilder { DataSource = inputPath, Mode = SqliteOpenMode.ReadOnly, Pooling = false };
        var connection = new SqliteConnection(builder.ToString());
        connection.Open();
        var rc = SqliteNative.DbdataInit(connection.Handle!.DangerousGetHandle(), IntPtr.Zero, IntPtr.Zero);
        if (rc != 0)
        {
            connection.Dispose();
            throw new WaldenException($"Registering sqlite_dbdata failed with code {rc}.");
        }

        return connection;
    }

    private static List<Cell> Decode(SqliteConnection input, long page)
    {
        using var command = input.CreateCommand();
        command.CommandText = "SELECT cell, field, value FROM sqlite_dbdata WHERE pgno = $pgno ORDER BY cell, field";
        command.Parameters.AddWithValue("$pgno", page);
        using var reader = command.ExecuteReader();
        var cells = new List<Cell>();
        Cell? current = null;
        while (reader.Read())
        {
            var index = (int)reader.GetInt64(0);
            var field = reader.GetInt64(1);
            var value = reader.IsDBNull(2) ? null : reader.GetValue(2);
            if (field < 0)
            {
                current = value is long rowId ? new Cell(index, rowId, []) : null;
                if (current is not null)
                {
                    cells.Add(current);
                }
            }
            else if (current is not null && current.Index == index)
            {
                current.Values.Add(value);
            }
        }

        return cells;
    }

    /// <summary>
    /// Whether the table has at least one index on plain columns and every such index of the damaged input
    /// holds an entry with this row's values and rowid (an index entry is a copy of the indexed columns
    /// and the rowid, kept in a b-tree of its own). Read through the index only, never the table.
    /// </summary>
    private static bool ConfirmedByIndexes(SqliteConnection output, SqliteConnection input, TableShape table, Cell cell)
    {
        if (cell.Values.Count != table.Columns.Count)
        {
            return false;
        }

        var indexes = new List<(string Name, List<string> Columns)>();
        using (var list = output.CreateCommand())
        {
            list.CommandText = "SELECT l.name, i.name FROM pragma_index_list($table) AS l, pragma_index_info(l.name) AS i WHERE l.partial = 0 ORDER BY l.seq, i.seqno";
            list.Parameters.AddWithValue("$table", table.Name);
            using var reader = list.ExecuteReader();
            while (reader.Read())
            {
                var name = reader.GetString(0);
                if (indexes.Count == 0 || indexes[^1].Name != name)
                {
                    indexes.Add((name, []));
                }

                indexes[^1].Columns.Add(reader.IsDBNull(1) ? string.Empty : reader.GetString(1));
            }
        }

        var plain = indexes.Where(i => i.Columns.All(c => c.Length > 0)).ToList();
        if (plain.Count == 0)
        {
            return false;
        }

        foreach (var (name, columns) in plain)
        {
            using var probe = input.CreateCommand();
            var conditions = new List<string> { "rowid = $rowid" };
            probe.Parameters.AddWithValue("$rowid", cell.RowId);
            for (var i = 0; i < columns.Count; i++)
            {
                var field = table.Columns.ToList().FindIndex(c => c.Equals(columns[i], StringComparison.OrdinalIgnoreCase));
                if (field < 0)
                {
                    return false; // a column outside the record (a VIRTUAL generated one)
                }

                var value = field == table.IntegerPrimaryKey ? cell.RowId : cell.Values[field];
                conditions.Add($"{LostAndFoundMapper.Quote(columns[i])} IS $v{i}");
                probe.Parameters.AddWithValue($"$v{i}", value ?? DBNull.Value);
            }

            probe.CommandText = $"SELECT count(*) FROM {LostAndFoundMapper.Quote(table.Name)} INDEXED BY {LostAndFoundMapper.Quote(name)} WHERE {string.Join(" AND ", conditions)}";
            try
            {
                if (Convert.ToInt64(probe.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) == 0)
                {
                    return false;
                }
            }
            catch (SqliteException disk) when (!Errors.SqliteErrors.IsDiskFault(disk))
            {
                return false; // the index itself is damaged there: no confirmation
            }
        }

        return true;
    }

    /// <summary>The table holding, identically, the most of the page's trusted rows: the page's own table.</summary>
    private static TableShape? Owner(SqliteConnection output, List<TableShape> tables, IEnumerable<Cell> trusted)
    {
        var sample = trusted.Take(3).ToList();
        return tables
            .Select(t => (Table: t, Hits: sample.Count(c => c.Values.Count == t.Columns.Count && Matches(output, t, c.RowId, c.Values))))
            .Where(x => x.Hits > 0)
            .OrderByDescending(x => x.Hits)
            .Select(x => x.Table)
            .FirstOrDefault();
    }

    private static bool Matches(SqliteConnection output, TableShape table, long rowId, List<object?> values)
    {
        var (where, parameters) = Condition(table, rowId, values);
        using var command = output.CreateCommand();
        command.CommandText = $"SELECT count(*) FROM {LostAndFoundMapper.Quote(table.Name)} WHERE {where}";
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) > 0;
    }

    /// <summary>
    /// Removes the table's row with this rowid only when it is the row the extension made from this cell (its
    /// columns equal the cell's fields, as many as the cell has: the extension fills the columns it has fields for),
    /// and returns its values, in record order, for lost_and_found; null when there was none. A damaged cell often
    /// decodes a rowid that a sound cell elsewhere also holds: INSERT OR IGNORE kept the first, and when that was
    /// the sound cell's row it is not this cell's to take.
    /// </summary>
    private static List<object?>? TakeRow(SqliteConnection output, TableShape table, long rowId, List<object?> values)
    {
        var (where, parameters) = Condition(table, rowId, values);
        var name = LostAndFoundMapper.Quote(table.Name);
        using var select = output.CreateCommand();
        select.CommandText = $"SELECT {string.Join(", ", table.Columns.Select(LostAndFoundMapper.Quote))} FROM {name} WHERE {where}";
        foreach (var (parameter, value) in parameters)
        {
            select.Parameters.AddWithValue(parameter, value);
        }

        List<object?>? row = null;
        using (var reader = select.ExecuteReader())
        {
            if (reader.Read())
            {
                row = Enumerable.Range(0, reader.FieldCount).Select(i => i == table.IntegerPrimaryKey || reader.IsDBNull(i) ? null : reader.GetValue(i)).ToList();
            }
        }

        if (row is null)
        {
            return null;
        }

        using var delete = output.CreateCommand();
        delete.CommandText = $"DELETE FROM {name} WHERE rowid = $rowid";
        delete.Parameters.AddWithValue("$rowid", rowId);
        delete.ExecuteNonQuery();
        return row;
    }

    private static (string Where, List<(string Name, object Value)> Parameters) Condition(TableShape table, long rowId, List<object?> values)
    {
        var conditions = new List<string> { "rowid = $rowid" };
        var parameters = new List<(string, object)> { ("$rowid", rowId) };
        for (var i = 0; i < Math.Min(table.Columns.Count, values.Count); i++)
        {
            if (i == table.IntegerPrimaryKey)
            {
                continue;
            }

            var column = LostAndFoundMapper.Quote(table.Columns[i]);
            if (values[i] is null)
            {
                conditions.Add($"{column} IS NULL");
            }
            else
            {
                conditions.Add($"{column} IS $v{i}");
                parameters.Add(($"$v{i}", values[i]!));
            }
        }

        // A record with fewer fields gave the extension's INSERT only those columns: the others hold NULL unless they have a default.
        for (var i = values.Count; i < table.Columns.Count; i++)
        {
            if (i != table.IntegerPrimaryKey && !table.Fields[i].HasDefault)
            {
                conditions.Add($"{LostAndFoundMapper.Quote(table.Columns[i])} IS NULL");
            }
        }

        return (string.Join(" AND ", conditions), parameters);
    }
}
