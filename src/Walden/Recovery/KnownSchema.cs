using Microsoft.Data.Sqlite;

namespace Walden.Recovery;

/// <summary>One entry of a schema: what <c>sqlite_schema</c> holds.</summary>
internal sealed record SchemaObject(string Type, string Name, string TableName, long RootPage, string Sql)
{
    internal bool IsVirtualTable => Type == "table" && Integrity.VirtualTableSql.IsVirtualTable(Sql);
}

/// <summary>
/// The application's schema from outside the damaged file: a healthy copy or backup of the database
/// (root page numbers included, so orphaned rows can be matched to their table by the page their tree
/// hangs from) or CREATE statements (shape only).
/// </summary>
internal sealed class KnownSchema
{
    private KnownSchema(IReadOnlyList<SchemaObject> objects, bool rootPagesKnown, string source, IReadOnlyList<string>? notes = null)
    {
        Objects = objects;
        RootPagesKnown = rootPagesKnown;
        Source = source;
        Notes = notes ?? [];
    }

    internal IReadOnlyList<SchemaObject> Objects { get; }

    /// <summary>True when the schema came from a database file, so its root page numbers mean something.</summary>
    internal bool RootPagesKnown { get; }

    internal string Source { get; }

    /// <summary>What reading a SQL schema skipped or ignored (SQLite's own objects, data lines of a .dump), for the report.</summary>
    internal IReadOnlyList<string> Notes { get; }

    internal static KnownSchema? Load(WaldenRecoveryOptions options)
    {
        if (options.SchemaSql is { } sql)
        {
            return FromSql(sql, "the SchemaSql option");
        }

        if (options.SchemaFrom is not { } path)
        {
            return null;
        }

        var fullPath = Path.GetFullPath(path);
        if (!File.Exists(fullPath))
        {
            throw new WaldenConfigurationException($"The schema source '{fullPath}' does not exist. Pass a healthy copy or backup of the database, or a .sql file with its CREATE statements.");
        }

        // Ask SQLite first: reading the bytes ourselves could be a file this process has open in SQLite.
        try
        {
            return FromDatabase(fullPath);
        }
        catch (SqliteException ex) when ((ex.SqliteErrorCode & 0xFF) == Errors.SqliteErrors.NotADb)
        {
            return FromSql(File.ReadAllText(fullPath), fullPath); // not a database, so a text file: safe to read directly
        }
    }

    private static KnownSchema FromDatabase(string path)
    {
        var builder = new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadOnly, Pooling = false };
        using var connection = new SqliteConnection(builder.ToString());
        connection.Open();
        return new KnownSchema(Read(connection), rootPagesKnown: true, path);
    }

    private static KnownSchema FromSql(string sql, string source)
    {
        using var connection = new SqliteConnection("Data Source=:memory:");
        connection.Open();
        Configuration.StandIns.Discover([sql]).Register(connection); // the application's own collations and functions
        var notes = SchemaScript.Run(connection, sql, source);
        return new KnownSchema(Read(connection), rootPagesKnown: false, source, notes);
    }

    private static List<SchemaObject> Read(SqliteConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT type, name, tbl_name, rootpage, sql FROM sqlite_schema WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'";
        using var reader = command.ExecuteReader();
        var objects = new List<SchemaObject>();
        while (reader.Read())
        {
            objects.Add(new SchemaObject(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.IsDBNull(3) ? 0 : reader.GetInt64(3), reader.GetString(4)));
        }

        return objects;
    }
}
