using BenchmarkDotNet.Attributes;
using Microsoft.Data.Sqlite;

namespace Walden.Benchmarks;

/// <summary>
/// What one write costs through Walden's queue (channel, writer thread, savepoint, commit, completion)
/// against the same insert run directly in a transaction of its own on a plain connection. Both run
/// with synchronous NORMAL, so no fsync hides the overhead being measured. Read the Ratio and
/// Allocated columns, not the absolute times.
/// </summary>
[MemoryDiagnoser]
public class WriteBenchmarks
{
    private const string Insert = "INSERT INTO log(task_id, ts, body) VALUES ($task, $ts, $body)";
    private const int Concurrent = 64;
    private const string Body = "tool_result exit=0 tokens=1532 path=/src/app/main.cs the agent read the file and wrote the plan; build passed, tests passed";

    private string _folder = "";
    private SqliteConnection _direct = null!;
    private SqliteCommand _directInsert = null!;
    private SqliteCommand _begin = null!;
    private SqliteCommand _commit = null!;
    private WaldenDatabase _walden = null!;
    private long _ts;

    [GlobalSetup]
    public void Setup()
    {
        _folder = Directory.CreateTempSubdirectory("walden-benchmarks-").FullName;
        _walden = WaldenDatabase.OpenAsync(Path.Combine(_folder, "walden.db"), new WaldenOptions { Durability = WaldenDurability.Normal })
            .GetAwaiter().GetResult();
        _walden.WriteAsync(c => Exec(c, "CREATE TABLE log(id INTEGER PRIMARY KEY, task_id TEXT, ts INTEGER, body TEXT)")).GetAwaiter().GetResult();

        _direct = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = Path.Combine(_folder, "direct.db"), Pooling = false }.ToString());
        _direct.Open();
        Exec(_direct, "PRAGMA journal_mode=WAL");
        Exec(_direct, "PRAGMA synchronous=NORMAL");
        Exec(_direct, "CREATE TABLE log(id INTEGER PRIMARY KEY, task_id TEXT, ts INTEGER, body TEXT)");
        _directInsert = Prepare(_direct, Insert);
        _directInsert.Parameters.Add("$task", SqliteType.Text);
        _directInsert.Parameters.Add("$ts", SqliteType.Integer);
        _directInsert.Parameters.Add("$body", SqliteType.Text);
        _begin = Prepare(_direct, "BEGIN IMMEDIATE");
        _commit = Prepare(_direct, "COMMIT");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _walden.DisposeAsync().AsTask().GetAwaiter().GetResult();
        _directInsert.Dispose();
        _begin.Dispose();
        _commit.Dispose();
        _direct.Dispose();
        Directory.Delete(_folder, recursive: true);
    }

    /// <summary>One insert in its own transaction on a plain connection: the cost without Walden.</summary>
    [Benchmark(Baseline = true)]
    public int DirectInsertAndCommit()
    {
        _begin.ExecuteNonQuery();
        _directInsert.Parameters[0].Value = "task-0001";
        _directInsert.Parameters[1].Value = ++_ts;
        _directInsert.Parameters[2].Value = Body;
        var rows = _directInsert.ExecuteNonQuery();
        _commit.ExecuteNonQuery();
        return rows;
    }

    /// <summary>One write through the queue, awaited before the next: a batch of one per commit.</summary>
    [Benchmark]
    public Task<int> WaldenWriteAsync()
    {
        var ts = ++_ts;
        return _walden.WriteAsync(c => InsertRow(c, ts));
    }

    /// <summary>64 writes in flight at once, as 64 producers: the per-write cost when group commit batches them.</summary>
    [Benchmark(OperationsPerInvoke = Concurrent)]
    public Task WaldenWriteAsync64InFlight()
    {
        var writes = new Task<int>[Concurrent];
        for (var i = 0; i < Concurrent; i++)
        {
            var ts = ++_ts;
            writes[i] = _walden.WriteAsync(c => InsertRow(c, ts));
        }

        return Task.WhenAll(writes);
    }

    private static int InsertRow(SqliteConnection connection, long ts)
    {
        var insert = connection.GetCachedCommand(Insert);
        insert.Parameters.AddWithValue("$task", "task-0001");
        insert.Parameters.AddWithValue("$ts", ts);
        insert.Parameters.AddWithValue("$body", Body);
        return insert.ExecuteNonQuery();
    }

    private static SqliteCommand Prepare(SqliteConnection connection, string sql)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        command.Prepare();
        return command;
    }

    private static int Exec(SqliteConnection connection, string sql)
    {
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return command.ExecuteNonQuery();
    }
}
