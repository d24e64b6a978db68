using Microsoft.Data.Sqlite;
using Walden.Configuration;

namespace Walden.Recovery;

/// <summary>The lost_and_found table in the shape the recover extension creates: rootpgno, pgno, nfield, id, c0, c1, ...</summary>
internal static class LostAndFound
{
    internal static void Add(SqliteConnection output, string name, long? page, long? rowId, List<object?> values)
    {
        var table = LostAndFoundMapper.Quote(name);
        if (!LostAndFoundMapper.TableExists(output, name))
        {
            ConnectionFactory.Execute(output, $"CREATE TABLE {table}(rootpgno INTEGER, pgno INTEGER, nfield INTEGER, id INTEGER)");
        }

        var columns = (int)ConnectionFactory.Scalar<long>(output, $"SELECT count(*) FROM pragma_table_info('{name}')") - 4;
        for (var i = columns; i < values.Count; i++)
        {
            ConnectionFactory.Execute(output, $"ALTER TABLE {table} ADD COLUMN c{i}");
        }

        using var insert = output.CreateCommand();
        var names = Enumerable.Range(0, values.Count).Select(i => $"c{i}");
        insert.CommandText = $"INSERT INTO {table}(rootpgno, pgno, nfield, id{string.Concat(names.Select(n => ", " + n))}) " +
            $"VALUES (NULL, $pgno, $nfield, $id{string.Concat(names.Select(n => ", $" + n))})";
        insert.Parameters.AddWithValue("$pgno", page is { } pgno ? pgno : DBNull.Value);
        insert.Parameters.AddWithValue("$nfield", values.Count);
        insert.Parameters.AddWithValue("$id", rowId is { } id ? id : DBNull.Value);
        for (var i = 0; i < values.Count; i++)
        {
            insert.Parameters.AddWithValue($"$c{i}", values[i] ?? DBNull.Value);
        }

        insert.ExecuteNonQuery();
    }
}
