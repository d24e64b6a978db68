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

/// <summary>A rowid table of the recovered database and what a row of it looks like on disk.</summary>
/// <param name="Name">The table.</param>
/// <param name="Columns">Its columns in order.</param>
/// <param name="Affinities">Each column's affinity.</param>
/// <param name="IntegerPrimaryKey">The index of the INTEGER PRIMARY KEY column, or -1.</param>
/// <param name="Derived">A full-text index's shadow table other than its content: rebuilt from the content, so rows found for it are dropped, not restored.</param>
/// <param name="NotNull">Which columns are declared NOT NULL.</param>
internal sealed record TableShape(string Name, IReadOnlyList<string> Columns, IReadOnlyList<Affinity> Affinities, IReadOnlyList<bool> NotNull, int IntegerPrimaryKey, bool Derived)
{
    /// <summary>
    /// Whether a record found on a page could be a row of this table: same number of fields, each value
    /// of a storage class the column's affinity would have kept, and NULL where the INTEGER PRIMARY KEY
    /// is (SQLite stores that column as the rowid, never in the record).
    /// </summary>
    internal bool Fits(IReadOnlyList<object?> values)
    {
        if (values.Count != Columns.Count)
        {
            return false;
        }

        for (var i = 0; i < values.Count; i++)
        {
            var value = values[i];
            if (i == IntegerPrimaryKey)
            {
                if (value is not null)
                {
                    return false;
                }

                continue;
            }

            var fits = value switch
            {
                null => !NotNull[i],
                long => Affinities[i] is not Affinity.Text,
                double => Affinities[i] is not Affinity.Text,
                string => Affinities[i] is Affinity.Text or Affinity.Numeric or Affinity.Blob,
                _ => Affinities[i] is Affinity.Blob,
            };
            if (!fits)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The rowid tables of a database (lost_and_found left out). Every one counts when deciding whether a shape is unambiguous.</summary>
    internal static List<TableShape> ReadAll(SqliteConnection connection)
    {
        var names = new List<(string Name, bool Derived)>();
        using (var list = connection.CreateCommand())
        {
            list.CommandText = "SELECT name, type, wr FROM pragma_table_list WHERE schema = 'main' AND type IN ('table', 'shadow') AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'";
            using var reader = list.ExecuteReader();
            while (reader.Read())
            {
                var name = reader.GetString(0);
                var shadow = reader.GetString(1) == "shadow";
                var withoutRowid = reader.GetInt64(2) != 0;
                if (!withoutRowid && name != RecoverExtension.LostAndFoundTable)
                {
                    // Of a full-text index's shadow tables only the content is data; the rest is rebuilt from it.
                    names.Add((name, shadow && !name.EndsWith("_content", StringComparison.Ordinal)));
                }
            }
        }

        var shapes = new List<TableShape>();
        foreach (var (name, derived) in names)
        {
            using var info = connection.CreateCommand();
            info.CommandText = "SELECT name, type, pk, \"notnull\" FROM pragma_table_info($table)";
            info.Parameters.AddWithValue("$table", name);
            using var reader = info.ExecuteReader();
            var columns = new List<string>();
            var affinities = new List<Affinity>();
            var notNull = new List<bool>();
            var primaryKeys = new List<(int Index, string Type)>();
            while (reader.Read())
            {
                var type = reader.GetString(1);
                columns.Add(reader.GetString(0));
                affinities.Add(AffinityOf(type));
                notNull.Add(reader.GetInt64(3) != 0);
                if (reader.GetInt64(2) > 0)
                {
                    primaryKeys.Add((columns.Count - 1, type));
                }
            }

            var ipk = primaryKeys.Count == 1 && primaryKeys[0].Type.Equals("INTEGER", StringComparison.OrdinalIgnoreCase) ? primaryKeys[0].Index : -1;
            shapes.Add(new TableShape(name, columns, affinities, notNull, ipk, derived));
        }

        return shapes;
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
