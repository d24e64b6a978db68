using Microsoft.Data.Sqlite;

namespace Walden.Recovery;

/// <summary>Column affinity as SQLite derives it from a declared type (https://www.sqlite.org/datatype3.html#determination_of_column_affinity).</summary>
internal enum Affinity
{
    Integer,
    Text,
    Blob,
    Real,
    Numeric,
}

/// <summary>One field of a table's on-disk record.</summary>
/// <param name="Name">The column.</param>
/// <param name="Affinity">Its affinity.</param>
/// <param name="StrictType">In a STRICT table, the declared type (INT, INTEGER, REAL, TEXT, BLOB or ANY); otherwise null.</param>
/// <param name="NotNull">Declared NOT NULL.</param>
/// <param name="HasDefault">Has a DEFAULT: a record written before the column was added reads as that value.</param>
/// <param name="Generated">A STORED generated column: in the record, but computed by SQLite, never inserted.</param>
internal sealed record RecordField(string Name, Affinity Affinity, string? StrictType, bool NotNull, bool HasDefault, bool Generated = false);

/// <summary>
/// A table of the recovered database and what a row of it looks like on disk, by SQLite's own record
/// rules (https://www.sqlite.org/fileformat.html#record_format): the fields are the columns of
/// <c>table_xinfo</c> without the VIRTUAL generated ones (STORED generated columns are in the record); in
/// a WITHOUT ROWID table the primary-key columns come first, in key order.
/// </summary>
/// <param name="Name">The table.</param>
/// <param name="Fields">The record's fields in order.</param>
/// <param name="IntegerPrimaryKey">The field of the INTEGER PRIMARY KEY (stored as the rowid, NULL in the record), or -1.</param>
/// <param name="WithoutRowid">A WITHOUT ROWID table: its rows are records of an index b-tree, with no rowid.</param>
/// <param name="KeyFields">In a WITHOUT ROWID table, how many leading fields are the primary key; otherwise 0.</param>
/// <param name="Derived">A full-text index's shadow table other than its content: rebuilt from the content, so rows found for it are dropped, not restored.</param>
internal sealed record TableShape(string Name, IReadOnlyList<RecordField> Fields, int IntegerPrimaryKey, bool WithoutRowid, int KeyFields, bool Derived)
{
    /// <summary>The record's column names in order.</summary>
    internal IReadOnlyList<string> Columns { get; } = Fields.Select(f => f.Name).ToList();

    /// <summary>
    /// Whether a record found on a page could be a row of this table as SQLite would have written it:
    /// no more fields than the table has (fewer when the missing trailing columns were added later by
    /// ALTER TABLE ADD COLUMN: each must allow NULL or have a default), each value of a storage class the
    /// column could hold (affinity conversions applied on insert, STRICT types), and NULL where the
    /// INTEGER PRIMARY KEY is (SQLite stores that column as the rowid).
    /// </summary>
    internal bool Fits(IReadOnlyList<object?> values)
    {
        if (values.Count > Fields.Count || values.Count == 0 || values.Count < KeyFields)
        {
            return false;
        }

        for (var i = values.Count; i < Fields.Count; i++)
        {
            if (i != IntegerPrimaryKey && Fields[i].NotNull && !Fields[i].HasDefault)
            {
                return false;
            }
        }

        for (var i = 0; i < values.Count; i++)
        {
            if (i == IntegerPrimaryKey ? values[i] is not null : !CanHold(Fields[i], values[i]))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Whether SQLite could have stored <paramref name="value"/> (as decoded from a record) in this column.</summary>
    internal static bool CanHold(RecordField field, object? value)
    {
        if (value is null)
        {
            return !field.NotNull;
        }

        if (field.StrictType is { } strict)
        {
            // STRICT: exactly the declared storage class (a REAL may be stored as an integer on disk), or anything in ANY.
            return strict switch
            {
                "INT" or "INTEGER" => value is long,
                "REAL" => value is long or double,
                "TEXT" => value is string,
                "BLOB" => value is byte[],
                _ => true,
            };
        }

        return value switch
        {
            // A TEXT column turns numbers into text; a REAL column may keep an integral value as an integer on disk.
            long => field.Affinity is not Affinity.Text,
            // INTEGER and NUMERIC columns turn a REAL with an exact integer value into an INTEGER.
            double d => field.Affinity switch
            {
                Affinity.Text => false,
                Affinity.Integer or Affinity.Numeric => !IsExactInteger(d),
                _ => true,
            },
            // Numeric columns turn text that is a well-formed number into that number: only other text stays text.
            string text => field.Affinity is Affinity.Text or Affinity.Blob || !LooksNumeric(text),
            _ => true, // a BLOB is stored as given in any column
        };
    }

    private static bool IsExactInteger(double d) => d == Math.Floor(d) && d >= -9.2e18 && d <= 9.2e18;

    private static bool LooksNumeric(string text) =>
        double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out _);

    /// <summary>The tables of a database (the lost-and-found table left out). Every one counts when deciding whether a shape is unambiguous.</summary>
    internal static List<TableShape> ReadAll(SqliteConnection connection, string lostAndFound)
    {
        var names = new List<(string Name, bool Derived, bool WithoutRowid, bool Strict)>();
        using (var list = connection.CreateCommand())
        {
            list.CommandText = "SELECT name, type, wr, strict FROM pragma_table_list WHERE schema = 'main' AND type IN ('table', 'shadow') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'";
            using var reader = list.ExecuteReader();
            while (reader.Read())
            {
                var name = reader.GetString(0);
                var shadow = reader.GetString(1) == "shadow";
                if (!name.Equals(lostAndFound, StringComparison.OrdinalIgnoreCase))
                {
                    // Of a full-text index's shadow tables only the content is data; the rest is rebuilt from it.
                    names.Add((name, shadow && !name.EndsWith("_content", StringComparison.Ordinal), reader.GetInt64(2) != 0, reader.GetInt64(3) != 0));
                }
            }
        }

        return names.Select(t => Read(connection, t.Name, t.Derived, t.WithoutRowid, t.Strict)).ToList();
    }

    private static TableShape Read(SqliteConnection connection, string name, bool derived, bool withoutRowid, bool strict)
    {
        using var info = connection.CreateCommand();
        // hidden: 0 an ordinary column, 2 a VIRTUAL generated one (not in the record), 3 a STORED one (in the record).
        info.CommandText = "SELECT name, type, pk, \"notnull\", dflt_value IS NOT NULL, hidden FROM pragma_table_xinfo($table) WHERE hidden IN (0, 3) ORDER BY cid";
        info.Parameters.AddWithValue("$table", name);
        var columns = new List<(RecordField Field, long Key, string Type)>();
        using (var reader = info.ExecuteReader())
        {
            while (reader.Read())
            {
                var type = reader.GetString(1);
                var field = new RecordField(reader.GetString(0), AffinityOf(type), strict ? type.ToUpperInvariant() : null, reader.GetInt64(3) != 0, reader.GetInt64(4) != 0, reader.GetInt64(5) == 3);
                columns.Add((field, reader.GetInt64(2), type));
            }
        }

        var keys = columns.Where(c => c.Key > 0).OrderBy(c => c.Key).ToList();
        if (withoutRowid)
        {
            // The record of a WITHOUT ROWID table is the primary key's columns in key order, then the others.
            var record = keys.Concat(columns.Where(c => c.Key == 0)).Select(c => c.Field with { NotNull = c.Field.NotNull || c.Key > 0 }).ToList();
            return new TableShape(name, record, -1, WithoutRowid: true, keys.Count, derived);
        }

        var ipk = keys.Count == 1 && keys[0].Type.Equals("INTEGER", StringComparison.OrdinalIgnoreCase) ? columns.IndexOf(keys[0]) : -1;
        return new TableShape(name, columns.Select(c => c.Field).ToList(), ipk, WithoutRowid: false, 0, derived);
    }

    /// <summary>
    /// The indexes of the given tables as record shapes (an index entry is the indexed columns, then the
    /// rowid or the rest of the primary key): pages of index entries must not be taken for a table's rows.
    /// </summary>
    internal static List<TableShape> ReadIndexes(SqliteConnection connection, IReadOnlyList<TableShape> tables)
    {
        var indexes = new List<TableShape>();
        foreach (var table in tables.Where(t => !t.Derived))
        {
            var names = new List<string>();
            using (var list = connection.CreateCommand())
            {
                // A WITHOUT ROWID table's primary-key index is the table itself, not a second shape.
                list.CommandText = "SELECT name FROM pragma_index_list($table) WHERE NOT ($wr AND origin = 'pk')";
                list.Parameters.AddWithValue("$wr", table.WithoutRowid);
                list.Parameters.AddWithValue("$table", table.Name);
                using var reader = list.ExecuteReader();
                while (reader.Read())
                {
                    names.Add(reader.GetString(0));
                }
            }

            foreach (var name in names)
            {
                using var info = connection.CreateCommand();
                info.CommandText = "SELECT cid, name FROM pragma_index_xinfo($index) ORDER BY seqno";
                info.Parameters.AddWithValue("$index", name);
                using var reader = info.ExecuteReader();
                var fields = new List<RecordField>();
                while (reader.Read())
                {
                    var cid = reader.GetInt64(0);
                    var column = reader.IsDBNull(1) ? null : table.Fields.FirstOrDefault(f => f.Name.Equals(reader.GetString(1), StringComparison.OrdinalIgnoreCase));
                    fields.Add(cid == -1
                        ? new RecordField("rowid", Affinity.Integer, "INTEGER", NotNull: true, HasDefault: false)
                        : column ?? new RecordField("expression", Affinity.Blob, null, NotNull: false, HasDefault: false));
                }

                indexes.Add(new TableShape(name, fields, -1, WithoutRowid: true, fields.Count, Derived: false));
            }
        }

        return indexes;
    }

    internal static Affinity AffinityOf(string declaredType)
    {
        var type = declaredType.ToUpperInvariant();
        if (type.Contains("INT", StringComparison.Ordinal))
        {
            return Affinity.Integer;
        }

        if (type.Contains("CHAR", StringComparison.Ordinal) || type.Contains("CLOB", StringComparison.Ordinal) || type.Contains("TEXT", StringComparison.Ordinal))
        {
            return Affinity.Text;
        }

        if (type.Length == 0 || type.Contains("BLOB", StringComparison.Ordinal))
        {
            return Affinity.Blob;
        }

        if (type.Contains("REAL", StringComparison.Ordinal) || type.Contains("FLOA", StringComparison.Ordinal) || type.Contains("DOUB", StringComparison.Ordinal))
        {
            return Affinity.Real;
        }

        return Affinity.Numeric;
    }
}
