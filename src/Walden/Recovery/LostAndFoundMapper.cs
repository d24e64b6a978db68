using Microsoft.Data.Sqlite;
using Walden.Configuration;

namespace Walden.Recovery;

/// <summary>
/// Gives rows in <c>lost_and_found</c> back to their table when there is no doubt which table that is,
/// page by page (all records on one b-tree page belong to one table):
/// <list type="bullet">
/// <item>by root page: the recover extension records the root of the tree each orphaned page still
/// hangs from; when the known schema came from a copy of this database, that root names the table;</item>
/// <item>by shape: when exactly one table could hold every record on the page (field count, storage
/// classes against column affinities, a rowid present), and the file's freelist is known, so the page
/// cannot be a freed page holding deleted rows.</item>
/// </list>
/// A row that fits neither rule, or that its table refuses (a rowid already taken, a constraint), stays
/// in lost_and_found: Walden never invents data.
/// </summary>
internal static class LostAndFoundMapper
{
    private sealed record LostRow(long RowId, long RootPage, long? Id, object?[] Values);

    internal static long Map(SqliteConnection output, KnownSchema? known, bool freelistKnown, PageCheck pages, List<string> notes, RecoveryContext context)
    {
        if (!TableExists(output, context.LostAndFound))
        {
            return 0;
        }

        var shapes = TableShape.ReadAll(output, context.LostAndFound);
        var indexShapes = TableShape.ReadIndexes(output, shapes);
        var byRoot = new Dictionary<long, TableShape>();
        var indexRoots = new HashSet<long>();
        if (known is { RootPagesKnown: true })
        {
            foreach (var entry in known.Objects.Where(o => o.Type == "index" && o.RootPage > 0 && IndexExists(output, o.Name)))
            {
                indexRoots.Add(entry.RootPage);
            }

            foreach (var entry in known.Objects.Where(o => o.Type == "table" && o.RootPage > 0))
            {
                if (shapes.FirstOrDefault(s => s.Name.Equals(entry.Name, StringComparison.OrdinalIgnoreCase)) is { } shape)
                {
                    byRoot[entry.RootPage] = shape;
                }
            }
        }

        long moved = 0;
        long dropped = 0;
        var ambiguousPages = 0;
        var malformedPages = 0;
        var lostPages = ReadPages(output, context.LostAndFoundSql);
        // A table whose own b-tree (its root page in the backup) is among the orphaned pages: another tree that only fits its
        // shape is not its. Two root pages are two tables, and a schema taken from an older backup lacks the tables created
        // since (a "tags" shaped like "categories"): such a tree stays in lost_and_found, named, never merged into another table.
        var ownTreeFound = new HashSet<TableShape>(lostPages.Values.Select(r => r[0].RootPage).Where(byRoot.ContainsKey).Select(r => byRoot[r]));
        var otherTrees = new SortedDictionary<long, (string Table, long Rows)>();
        foreach (var page in lostPages)
        {
            var rows = page.Value;
            if (!pages.IsWellFormed(page.Key))
            {
                malformedPages++;
                continue;
            }

            TableShape? target = null;
            var root = rows[0].RootPage;
            if (indexRoots.Contains(root) && rows.All(r => r.Id is null))
            {
                // Entries of an index that exists in the output, which was built from the table rows.
                dropped += Delete(output, rows, context.LostAndFoundSql);
                continue;
            }

            // Table-leaf records carry a rowid; records of index b-trees (WITHOUT ROWID tables, indexes) do not.
            var rowid = rows.All(r => r.Id is not null);
            var keyed = rows.All(r => r.Id is null);
            if (byRoot.TryGetValue(root, out var rooted) && (rooted.WithoutRowid ? keyed : rowid) && rows.All(r => rooted.Fits(r.Values)))
            {
                target = rooted;
            }
            else if (freelistKnown && (rowid || keyed) && !context.DamagedRoots.Contains(root))
            {
                var candidates = shapes.Where(s => s.WithoutRowid == keyed && rows.All(r => s.Fits(r.Values))).ToList();
                // An index entry is a record too: a page that could be an index's is not a table's with certainty.
                var indexCandidates = keyed ? indexShapes.Count(s => rows.All(r => s.Fits(r.Values))) : 0;
                if (indexCandidates == 0 && candidates.Count == 1 && !candidates[0].Derived && ownTreeFound.Contains(candidates[0]))
                {
                    otherTrees[root] = (candidates[0].Name, (otherTrees.TryGetValue(root, out var seen) ? seen.Rows : 0) + rows.Count);
                }
                else if (indexCandidates == 0 && (candidates.Count == 1 || (candidates.Count > 1 && candidates.All(c => c.Derived))))
                {
                    target = candidates[0];
                }
                else if (candidates.Count + indexCandidates > 1)
                {
                    ambiguousPages++;
                }
            }

            if (target is { Derived: true })
            {
                dropped += Delete(output, rows, context.LostAndFoundSql);
            }
            else if (target is not null)
            {
                moved += MoveRows(output, target, rows, context.LostAndFoundSql);
            }
        }

        if (malformedPages > 0)
        {
            notes.Add($"{malformedPages} orphaned page(s) are not well-formed b-tree pages; rows decoded from them may be garbage and stay in lost_and_found.");
        }

        if (dropped > 0)
        {
            notes.Add($"{dropped:N0} entries of indexes and full-text index structures found on orphaned pages were dropped: those indexes are rebuilt from the table rows.");
        }

        foreach (var (root, (table, count)) in otherTrees)
        {
            notes.Add($"{count:N0} orphaned row(s) of the b-tree rooted at page {root} fit the shape of the table '{table}', but that table's own " +
                $"b-tree was found at its root page in the schema source: they are another table's, one the schema source does not have " +
                $"(created after that backup?), and stay in {context.LostAndFound} (rootpgno = {root}), not merged into '{table}'.");
        }

        if (ambiguousPages > 0)
        {
            notes.Add($"{ambiguousPages} orphaned page(s) fit more than one table; their rows stay in lost_and_found.");
        }

        if (ConnectionFactory.Scalar<long>(output, $"SELECT count(*) FROM {context.LostAndFoundSql}") == 0)
        {
            ConnectionFactory.Execute(output, $"DROP TABLE {context.LostAndFoundSql}");
        }

        return moved;
    }

    private static SortedDictionary<long, List<LostRow>> ReadPages(SqliteConnection output, string lostAndFound)
    {
        var pages = new SortedDictionary<long, List<LostRow>>();
        using var command = output.CreateCommand();
        command.CommandText = $"SELECT rowid, rootpgno, pgno, nfield, id, * FROM {lostAndFound}";
        using var reader = command.ExecuteReader();
        const int firstValue = 5 + 4; // rowid, rootpgno, pgno, nfield, id, then * repeats rootpgno, pgno, nfield, id before c0
        while (reader.Read())
        {
            var fields = (int)reader.GetInt64(3);
            var values = new object?[fields];
            for (var i = 0; i < fields; i++)
            {
                values[i] = reader.IsDBNull(firstValue + i) ? null : reader.GetValue(firstValue + i);
            }

            var row = new LostRow(reader.GetInt64(0), reader.IsDBNull(1) ? 0 : reader.GetInt64(1), reader.IsDBNull(4) ? null : reader.GetInt64(4), values);
            var pgno = reader.GetInt64(2);
            if (!pages.TryGetValue(pgno, out var list))
            {
                pages[pgno] = list = [];
            }

            list.Add(row);
        }

        return pages;
    }

    private static long MoveRows(SqliteConnection output, TableShape table, List<LostRow> rows, string lostAndFound)
    {
        var insert = output.CreateCommand();
        var prepared = -1;
        using var delete = output.CreateCommand();
        delete.CommandText = $"DELETE FROM {lostAndFound} WHERE rowid = $rowid";
        long moved = 0;
        foreach (var row in rows)
        {
            if (prepared != row.Values.Length)
            {
                // A shorter record (written before ALTER TABLE ADD COLUMN): the missing columns take their defaults, as SQLite reads them.
                insert.Dispose();
                insert = InsertFor(output, table, row.Values.Length);
                prepared = row.Values.Length;
            }

            insert.Parameters.Clear();
            if (!table.WithoutRowid)
            {
                insert.Parameters.AddWithValue("$id", row.Id);
            }

            for (var i = 0; i < row.Values.Length; i++)
            {
                if (i != table.IntegerPrimaryKey && !table.Fields[i].Generated)
                {
                    insert.Parameters.AddWithValue($"$c{i}", row.Values[i] ?? DBNull.Value);
                }
            }

            ConnectionFactory.Execute(output, "SAVEPOINT walden_move");
            try
            {
                insert.ExecuteNonQuery();
                delete.Parameters.Clear();
                delete.Parameters.AddWithValue("$rowid", row.RowId);
                delete.ExecuteNonQuery();
                ConnectionFactory.Execute(output, "RELEASE walden_move");
                moved++;
            }
            catch (SqliteException disk) when (!Errors.SqliteErrors.IsDiskFault(disk))
            {
                // The table refuses it (rowid taken, constraint): it stays where it is.
                ConnectionFactory.Execute(output, "ROLLBACK TO walden_move");
                ConnectionFactory.Execute(output, "RELEASE walden_move");
            }
        }

        insert.Dispose();
        return moved;
    }

    private static SqliteCommand InsertFor(SqliteConnection output, TableShape table, int fields)
    {
        var columns = Enumerable.Range(0, fields).Where(i => i != table.IntegerPrimaryKey && !table.Fields[i].Generated).ToList();
        var names = (table.WithoutRowid ? [] : new[] { "rowid" }).Concat(columns.Select(i => Quote(table.Columns[i])));
        var values = (table.WithoutRowid ? [] : new[] { "$id" }).Concat(columns.Select(i => $"$c{i}"));
        var insert = output.CreateCommand();
        insert.CommandText = $"INSERT INTO {Quote(table.Name)}({string.Join(", ", names)}) VALUES ({string.Join(", ", values)})";
        return insert;
    }

    private static long Delete(SqliteConnection output, List<LostRow> rows, string lostAndFound)
    {
        using var delete = output.CreateCommand();
        delete.CommandText = $"DELETE FROM {lostAndFound} WHERE rowid = $rowid";
        var parameter = delete.Parameters.Add("$rowid", SqliteType.Integer);
        foreach (var row in rows)
        {
            parameter.Value = row.RowId;
            delete.ExecuteNonQuery();
        }

        return rows.Count;
    }

    private static bool IndexExists(SqliteConnection connection, string name)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM sqlite_schema WHERE type = 'index' AND name = $name";
        command.Parameters.AddWithValue("$name", name);
        return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) > 0;
    }

    internal static bool TableExists(SqliteConnection connection, string name)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = $name";
        command.Parameters.AddWithValue("$name", name);
        return Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) > 0;
    }

    internal static string Quote(string identifier) => Configuration.SqlText.Quote(identifier);
}
