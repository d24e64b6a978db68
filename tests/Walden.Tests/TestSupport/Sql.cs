using Microsoft.Data.Sqlite;

namespace Walden.Tests.TestSupport;

/// <summary>Small helpers for test statements.</summary>
internal static class Sql
{
    public static int Exec(this SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteNonQuery();
    }

    public static T Scalar<T>(this SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return (T)Convert.ChangeType(command.ExecuteScalar()!, typeof(T), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>The first column of every row <paramref name="sql"/> returns, as integers.</summary>
    public static List<int> Ints(this SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        using var reader = command.ExecuteReader();
        var values = new List<int>();
        while (reader.Read())
        {
            values.Add(reader.GetInt32(0));
        }

        return values;
    }

    /// <summary>Opens a plain connection outside Walden, as another program would.</summary>
    public static SqliteConnection OpenDirect(string path, bool readOnly = false)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = readOnly ? SqliteOpenMode.ReadOnly : SqliteOpenMode.ReadWriteCreate,
            Pooling = false,
        }.ToString());
        connection.Open();
        return connection;
    }

    public const string LogTable = "CREATE TABLE log(id INTEGER PRIMARY KEY, producer INTEGER NOT NULL, seq INTEGER NOT NULL, body TEXT, UNIQUE(producer, seq))";

    public static int Insert(SqliteConnection connection, int producer, int seq)
    {
        var insert = connection.GetCachedCommand("INSERT INTO log(producer, seq, body) VALUES ($p, $s, 'x')");
        insert.Parameters.AddWithValue("$p", producer);
        insert.Parameters.AddWithValue("$s", seq);
        return insert.ExecuteNonQuery();
    }
}
