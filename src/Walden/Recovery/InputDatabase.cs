using Microsoft.Data.Sqlite;
using Walden.Configuration;

namespace Walden.Recovery;

/// <summary>
/// The persistent settings of a database file, as its PRAGMAs report them, and the bytes reserved at the end of each page
/// (header offset 20, which no PRAGMA reports: a checksum VFS or an encryption extension keeps its data there).
/// </summary>
internal sealed record DatabaseSettings(string JournalMode, long PageSize, long AutoVacuum, long UserVersion, long ApplicationId, string Encoding,
    int ReservedBytes)
{
    internal static DatabaseSettings Read(SqliteConnection connection) => new(
        ConnectionFactory.Scalar<string>(connection, "PRAGMA journal_mode").ToLowerInvariant(),
        ConnectionFactory.Scalar<long>(connection, "PRAGMA page_size"),
        ConnectionFactory.Scalar<long>(connection, "PRAGMA auto_vacuum"),
        ConnectionFactory.Scalar<long>(connection, "PRAGMA user_version"),
        ConnectionFactory.Scalar<long>(connection, "PRAGMA application_id"),
        ConnectionFactory.Scalar<string>(connection, "PRAGMA encoding"),
        Native.SqliteNative.ReserveBytes(connection.Handle!.DangerousGetHandle())); // after the PRAGMAs above read the header
}

/// <summary>
/// What SQLite itself can still read of the damaged input, through its -wal when it has one: the schema
/// (to know which objects the recovered file must have and which names are taken), the page count, the
/// persistent settings, and whether the freelist is intact. Every part is null when SQLite cannot read it.
/// Opened read-only after <see cref="InputHeader.Read"/> and closed before the recovery runs.
/// </summary>
internal sealed record InputDatabase(IReadOnlyList<SchemaObject>? Schema, long? PageCount, DatabaseSettings? Settings, bool WalFreelistIntact)
{
    internal static InputDatabase Read(string path, bool hasWal)
    {
        SqliteConnection connection;
        try
        {
            var builder = new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadOnly, Pooling = false };
            connection = new SqliteConnection(builder.ToString());
            connection.Open();
        }
        catch (SqliteException disk) when (!Errors.SqliteErrors.IsDiskFault(disk))
        {
            return new InputDatabase(null, null, null, false);
        }

        using (connection)
        {
            var schema = Try(() => ReadSchema(connection));
            var pageCount = Try<long?>(() => ConnectionFactory.Scalar<long>(connection, "PRAGMA page_count"));
            var settings = Try(() => DatabaseSettings.Read(connection));
            var freelist = hasWal && pageCount is { } pages && Try<bool?>(() => WalkFreelist(connection, pages)) == true;
            return new InputDatabase(schema, pageCount, settings, freelist);
        }
    }

    /// <summary>Every name the input's schema uses (case-insensitive, as SQLite compares them).</summary>
    internal IEnumerable<string> Names => Schema?.Select(o => o.Name) ?? [];

    private static List<SchemaObject> ReadSchema(SqliteConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT type, name, tbl_name, rootpage, sql FROM sqlite_schema WHERE sql IS NOT NULL ORDER BY rowid";
        using var reader = command.ExecuteReader();
        var objects = new List<SchemaObject>();
        while (reader.Read())
        {
            objects.Add(new SchemaObject(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.IsDBNull(3) ? 0 : reader.GetInt64(3), reader.GetString(4)));
        }

        return objects;
    }

    /// <summary>Page 1 and the freelist as SQLite sees them (the -wal's copies when newer), walked like <see cref="InputHeader.FreelistIntact(string)"/>.</summary>
    private static bool WalkFreelist(SqliteConnection connection, long pages)
    {
        using var read = connection.CreateCommand();
        read.CommandText = "SELECT data FROM sqlite_dbpage WHERE pgno = $pgno";
        var pgno = read.Parameters.Add("$pgno", SqliteType.Integer);
        byte[]? Page(long number)
        {
            pgno.Value = number;
            return read.ExecuteScalar() as byte[];
        }

        var header = InputHeader.Parse(Page(1) ?? [], 0);
        return header.FreelistIntact(pages, Page);
    }

    private static T? Try<T>(Func<T> read)
    {
        try
        {
            return read();
        }
        catch (SqliteException disk) when (!Errors.SqliteErrors.IsDiskFault(disk))
        {
            return default;
        }
    }
}
