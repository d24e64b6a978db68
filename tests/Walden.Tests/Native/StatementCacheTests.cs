using Microsoft.Data.Sqlite;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Native;

/// <summary>
/// Application code that creates a new <see cref="SqliteCommand"/> for every write or read reuses the statement SQLite
/// prepared the first time, on Walden's connections only, and sees exactly what it would see without the cache.
/// </summary>
public sealed class StatementCacheTests : IDisposable
{
    private const string Insert = "INSERT INTO t(v) VALUES ($v)";

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task WritesWithANewCommandEach_RunOneStatementPreparedOnce_AndStoreEveryValue()
    {
        await using var db = await OpenAsync();
        for (var i = 0; i < 5; i++)
        {
            var value = i;
            await db.WriteAsync(c => NewCommandInsert(c, value));
        }

        // sqlite_stmt lists the connection's prepared statements: the insert is there once, run by all five writes.
        var runs = await db.WriteAsync(c => RunsOf(c, Insert));
        Assert.Equal([5L], runs);
        Assert.Equal([0L, 1L, 2L, 3L, 4L], await db.ReadAsync(c => Values(c, "SELECT v FROM t ORDER BY v")));
    }

    [Fact]
    public async Task ReadsWithANewCommandEach_ReuseTheirStatementToo()
    {
        await using var db = await OpenAsync();
        await db.WriteAsync(c => NewCommandInsert(c, 7));
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal([7L], await db.ReadAsync(c => Values(c, "SELECT v FROM t")));
        }

        Assert.Contains(await db.ReadAsync(c => RunsOf(c, "SELECT v FROM t")), runs => runs >= 1);
    }

    [Fact]
    public async Task AKeptStatement_BehavesAsANewOne_AfterAFailure_WithAMissingParameter_AndAfterASchemaChange()
    {
        await using var db = await OpenAsync();
        await db.WriteAsync(c => NewCommandInsert(c, 1));

        // A constraint failure leaves the statement reusable, and only that write fails.
        await db.WriteAsync(c => Execute(c, "CREATE UNIQUE INDEX t_v ON t(v)"));
        await Assert.ThrowsAsync<SqliteException>(() => db.WriteAsync(c => NewCommandInsert(c, 1)));
        await db.WriteAsync(c => NewCommandInsert(c, 2));

        // Bindings do not carry over from the last use: a parameter left out is still an error.
        var missing = await Assert.ThrowsAsync<InvalidOperationException>(() => db.WriteAsync(c =>
        {
            using var command = new SqliteCommand(Insert, c);
            return command.ExecuteNonQuery();
        }));
        Assert.StartsWith("Must add values for the following parameters", missing.Message, StringComparison.Ordinal);

        // A kept SELECT * sees a column added since it was prepared.
        Assert.Equal(2, await db.WriteAsync(c => ColumnCount(c, "SELECT * FROM t")));
        await db.WriteAsync(c => Execute(c, "ALTER TABLE t ADD COLUMN w TEXT"));
        Assert.Equal(3, await db.WriteAsync(c => ColumnCount(c, "SELECT * FROM t")));
        Assert.Equal([1L, 2L], await db.ReadAsync(c => Values(c, "SELECT v FROM t ORDER BY v")));
    }

    [Fact]
    public async Task TwoCommandsOfTheSameTextAtOnce_EachGetAStatementOfItsOwn()
    {
        await using var db = await OpenAsync();
        for (var i = 1; i <= 3; i++)
        {
            var value = i;
            await db.WriteAsync(c => NewCommandInsert(c, value));
        }

        // While the outer reader is between rows, the same text runs again to the end in the loop.
        var pairs = await db.ReadAsync(c =>
        {
            var seen = new List<(long Outer, int Inner)>();
            using var outer = new SqliteCommand("SELECT v FROM t ORDER BY v", c);
            using var reader = outer.ExecuteReader();
            while (reader.Read())
            {
                seen.Add((reader.GetInt64(0), Values(c, "SELECT v FROM t ORDER BY v").Count));
            }

            return seen;
        });
        Assert.Equal([(1L, 3), (2L, 3), (3L, 3)], pairs);
    }

    [Fact]
    public async Task DisposeAsync_ClosesTheDatabaseFiles_ThoughStatementsWereKept()
    {
        var path = _dir.File("closed.db");
        var db = await WaldenDatabase.OpenAsync(path, new WaldenOptions());
        await db.WriteAsync(c => Execute(c, "CREATE TABLE t(id INTEGER PRIMARY KEY, v INTEGER)"));
        await db.WriteAsync(c => NewCommandInsert(c, 1));
        Assert.Equal([1L], await db.ReadAsync(c => Values(c, "SELECT v FROM t")));
        await db.DisposeAsync();

        // A kept statement would leave its connection open as a zombie, holding the file's descriptors.
        var open = Directory.GetFiles("/proc/self/fd")
            .Select(fd => new FileInfo(fd).LinkTarget)
            .Where(target => target is not null && target.StartsWith(path, StringComparison.Ordinal))
            .ToList();
        Assert.Empty(open);
    }

    [Fact]
    public async Task TheApplicationsOwnConnections_AreNotCached()
    {
        await using (var db = await OpenAsync())
        {
            await db.WriteAsync(c => NewCommandInsert(c, 1));
        }

        using var connection = new SqliteConnection($"Data Source={_dir.File("app.db")};Pooling=False");
        connection.Open();
        Execute(connection, "CREATE TABLE t(id INTEGER PRIMARY KEY, v INTEGER)");
        NewCommandInsert(connection, 1);
        NewCommandInsert(connection, 2);
        Assert.Empty(RunsOf(connection, Insert));
    }

    private async Task<WaldenDatabase> OpenAsync()
    {
        var db = await WaldenDatabase.OpenAsync(_dir.File("cache.db"), new WaldenOptions());
        await db.WriteAsync(c => Execute(c, "CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v INTEGER)"));
        return db;
    }

    private static int NewCommandInsert(SqliteConnection connection, long value)
    {
        using var command = new SqliteCommand(Insert, connection);
        command.Parameters.AddWithValue("$v", value);
        return command.ExecuteNonQuery();
    }

    private static int Execute(SqliteConnection connection, string sql)
    {
        using var command = new SqliteCommand(sql, connection);
        return command.ExecuteNonQuery();
    }

    private static List<long> Values(SqliteConnection connection, string sql)
    {
        using var command = new SqliteCommand(sql, connection);
        using var reader = command.ExecuteReader();
        var values = new List<long>();
        while (reader.Read())
        {
            values.Add(reader.GetInt64(0));
        }

        return values;
    }

    private static int ColumnCount(SqliteConnection connection, string sql)
    {
        using var command = new SqliteCommand(sql, connection);
        using var reader = command.ExecuteReader();
        return reader.FieldCount;
    }

    /// <summary>How often each prepared statement of <paramref name="connection"/> with this text has run (sqlite_stmt).</summary>
    private static List<long> RunsOf(SqliteConnection connection, string sql)
    {
        using var command = new SqliteCommand("SELECT run FROM sqlite_stmt WHERE sql = $sql", connection);
        command.Parameters.AddWithValue("$sql", sql);
        using var reader = command.ExecuteReader();
        var runs = new List<long>();
        while (reader.Read())
        {
            runs.Add(reader.GetInt64(0));
        }

        return runs;
    }
}
