using System.Text;
using Microsoft.Data.Sqlite;

namespace Walden.Cli.Bench;

/// <summary>
/// The agent-log workload every scenario writes: the same table, the same index and the same rows
/// (row <c>seq</c> of producer <c>p</c> is identical in every scenario), so scenarios differ only in how
/// they write. Bodies come from a seeded <see cref="Random"/>, so every run writes the same bytes.
/// </summary>
internal sealed class Workload
{
    internal const string Schema =
        "CREATE TABLE IF NOT EXISTS agent_log(id INTEGER PRIMARY KEY, task_id TEXT NOT NULL, ts INTEGER NOT NULL, type TEXT NOT NULL, body TEXT NOT NULL);" +
        "CREATE INDEX IF NOT EXISTS agent_log_task_ts ON agent_log(task_id, ts);";

    internal const string InsertSql = "INSERT INTO agent_log(task_id, ts, type, body) VALUES ($task, $ts, $type, $body)";

    internal const string ReadSql = "SELECT id, ts, type, length(body) FROM agent_log WHERE task_id = $task ORDER BY ts DESC LIMIT 20";

    /// <summary>The number of task ids; producer p writes to task p modulo this, and one-thread scenarios rotate through them.</summary>
    internal const int Tasks = 64;

    private const int BodyCount = 4096;
    private const long BaseTimestamp = 1_763_700_000_000; // a fixed epoch in ms: rows do not depend on the clock

    private static readonly string[] Types = ["thought", "tool_call", "tool_result", "message", "status", "error"];
    private static readonly string[] Words =
    [
        "agent", "task", "tool", "result", "file", "read", "write", "step", "plan", "error", "retry", "build",
        "test", "passed", "failed", "output", "input", "query", "index", "commit", "json", "{\"ok\":true}",
        "path=/src/app/main.cs", "exit=0", "tokens=1532", "the", "a", "of", "and", "to", "in", "with",
    ];

    private readonly string[] _bodies;
    private readonly string[] _taskIds;

    internal Workload(int seed)
    {
        var random = new Random(seed);
        _bodies = new string[BodyCount];
        long total = 0;
        for (var i = 0; i < BodyCount; i++)
        {
            _bodies[i] = Body(random, BodyLength(random));
            total += Encoding.UTF8.GetByteCount(_bodies[i]);
        }

        MeanBodyBytes = (double)total / BodyCount;
        _taskIds = Enumerable.Range(0, Tasks).Select(t => $"task-{t:D4}").ToArray();
    }

    /// <summary>The mean body size in bytes (UTF-8) of the mix.</summary>
    internal double MeanBodyBytes { get; }

    internal string TaskId(int task) => _taskIds[task % Tasks];

    /// <summary>Row <paramref name="seq"/> of producer <paramref name="producer"/>.</summary>
    internal LogRow Row(int producer, long seq) => new(
        _taskIds[producer % Tasks],
        BaseTimestamp + (seq * 10) + (producer % 10),
        Types[(int)((seq + producer) % Types.Length)],
        _bodies[(int)(((producer * 7919L) + seq) % BodyCount)]);

    /// <summary>Row <paramref name="index"/> of a single-threaded writer, spread over the tasks as 64 producers would.</summary>
    internal LogRow SequentialRow(long index) => Row((int)(index % Tasks), index / Tasks);

    /// <summary>A prepared insert whose parameters are created once; <see cref="Bind"/> sets their values.</summary>
    internal static SqliteCommand PrepareInsert(SqliteConnection connection)
    {
        var command = connection.CreateCommand();
        command.CommandText = InsertSql;
        command.Parameters.Add("$task", SqliteType.Text);
        command.Parameters.Add("$ts", SqliteType.Integer);
        command.Parameters.Add("$type", SqliteType.Text);
        command.Parameters.Add("$body", SqliteType.Text);
        command.Prepare();
        return command;
    }

    internal static void Bind(SqliteCommand insert, in LogRow row)
    {
        var parameters = insert.Parameters;
        parameters[0].Value = row.TaskId;
        parameters[1].Value = row.Ts;
        parameters[2].Value = row.Type;
        parameters[3].Value = row.Body;
    }

    /// <summary>
    /// The insert as an application writes it inside <see cref="WaldenDatabase.WriteAsync{T}"/>: the cached
    /// command, parameters added by name.
    /// </summary>
    internal static int InsertThroughWalden(SqliteConnection connection, in LogRow row)
    {
        var insert = connection.GetCachedCommand(InsertSql);
        insert.Parameters.AddWithValue("$task", row.TaskId);
        insert.Parameters.AddWithValue("$ts", row.Ts);
        insert.Parameters.AddWithValue("$type", row.Type);
        insert.Parameters.AddWithValue("$body", row.Body);
        return insert.ExecuteNonQuery();
    }

    /// <summary>
    /// The insert as most ADO.NET code is written, without Walden's <c>GetCachedCommand</c>: a new command per write,
    /// parameters added by name (Microsoft.Data.Sqlite prepares every new command's statement again; on Walden's connections
    /// its statement cache gives back the statement prepared the first time, so the parse is paid once).
    /// </summary>
    internal static int InsertAsUsersWriteIt(SqliteConnection connection, in LogRow row)
    {
        using var insert = new SqliteCommand(InsertSql, connection);
        insert.Parameters.AddWithValue("$task", row.TaskId);
        insert.Parameters.AddWithValue("$ts", row.Ts);
        insert.Parameters.AddWithValue("$type", row.Type);
        insert.Parameters.AddWithValue("$body", row.Body);
        return insert.ExecuteNonQuery();
    }

    /// <summary>The seeded parts of the rows, for a peer in another language to write the very same rows (bench/node).</summary>
    internal object Export() => new { tasks = _taskIds, types = Types, bodies = _bodies, baseTimestamp = BaseTimestamp };

    private static int BodyLength(Random random)
    {
        // Mostly short lines, some tool output, a few long results: mean about 250 bytes.
        var pick = random.NextDouble();
        return pick switch
        {
            < 0.55 => random.Next(40, 160),
            < 0.90 => random.Next(150, 450),
            _ => random.Next(500, 1300),
        };
    }

    private static string Body(Random random, int length)
    {
        var builder = new StringBuilder(length + 32);
        while (builder.Length < length)
        {
            builder.Append(Words[random.Next(Words.Length)]).Append(' ');
        }

        builder.Length = length;
        return builder.ToString();
    }
}

/// <summary>One agent-log entry.</summary>
internal readonly record struct LogRow(string TaskId, long Ts, string Type, string Body);
