using Microsoft.Data.Sqlite;
using Walden.Archiving;
using Walden.Configuration;

namespace Walden.Cli.Bench;

/// <summary>
/// Plain Microsoft.Data.Sqlite connections for the baselines, on the same native SQLite as Walden, and
/// the bookkeeping every scenario shares (counting rows, removing its files once every connection is closed).
/// </summary>
internal static class PlainSqlite
{
    /// <summary>
    /// Opens a connection as the seed applications did: WAL, the given synchronous level, no connection
    /// pool (files close on dispose), and Microsoft.Data.Sqlite's busy handling: its own retry loop that
    /// sleeps 150 ms between attempts until <paramref name="busyTimeoutSeconds"/>.
    /// </summary>
    internal static SqliteConnection Open(string path, string synchronous, int busyTimeoutSeconds = 30)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = false,
            DefaultTimeout = busyTimeoutSeconds,
        }.ToString());
        connection.Open();
        ConnectionFactory.Execute(connection, "PRAGMA journal_mode=WAL");
        ConnectionFactory.Execute(connection, $"PRAGMA synchronous={synchronous}");
        return connection;
    }

    internal static SqliteCommand Prepare(SqliteConnection connection, string sql)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Prepare();
        return command;
    }

    /// <summary>Creates the scenario's database with the workload's schema.</summary>
    internal static void Create(string path)
    {
        using var connection = Open(path, "FULL");
        ConnectionFactory.Execute(connection, Workload.Schema);
    }

    /// <summary>Counts the rows of a closed scenario database.</summary>
    internal static long CountRows(string path)
    {
        using var connection = Open(path, "FULL");
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM agent_log";
        return (long)command.ExecuteScalar()!;
    }

    /// <summary>Removes a scenario's files. Called only after every connection to them is closed.</summary>
    internal static void Delete(string path)
    {
        foreach (var file in new[] { path, path + "-wal", path + "-shm", path + "-journal", path + Files.CoordinationFile.Suffix })
        {
            File.Delete(file);
        }

        var staging = ArchiveLineage.StagingFolder(path);
        if (Directory.Exists(staging))
        {
            Directory.Delete(staging, recursive: true); // an archived scenario's staging, or a restore's lineage
        }
    }
}
