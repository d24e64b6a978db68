using System.Diagnostics;
using Microsoft.Data.Sqlite;
using Walden.Configuration;

namespace Walden.Cli.Bench;

/// <summary>
/// Reads through <see cref="WaldenDatabase.ReadAsync{T}"/>: each reader asks for the latest 20 entries
/// of a random task (the index on (task_id, ts)), over and over. Three phases on one database: readers
/// alone, readers while producers write through Walden (durability Full), readers alone again. The
/// baseline is the mean of the two phases alone, so a drift of the machine during the run does not
/// count for or against the loaded phase.
/// </summary>
internal static class ReadScenario
{
    internal static async Task<ReadResult> RunAsync(BenchConfig config, Workload workload, string path, Action<string>? phaseStarted = null)
    {
        Populate(path, workload, config.ReadSeedRows);
        var phases = new List<ReadPhase>(3);
        var database = await WaldenDatabase.OpenAsync(path, new WaldenOptions { Durability = WaldenDurability.Full, ReaderPoolSize = config.Readers })
            .ConfigureAwait(false);
        try
        {
            long seqOffset = config.ReadSeedRows; // later phases append after the seeded rows
            foreach (var (name, producers) in new[] { ("alone-before", 0), ("loaded", config.ReadLoadProducers), ("alone-after", 0) })
            {
                phaseStarted?.Invoke(name);
                var phase = await PhaseAsync(config, workload, database, name, producers, seqOffset).ConfigureAwait(false);
                seqOffset += phase.WriteRows;
                phases.Add(phase);
            }
        }
        finally
        {
            await database.DisposeAsync().ConfigureAwait(false);
        }

        var rowsInDatabase = PlainSqlite.CountRows(path);
        PlainSqlite.Delete(path);
        var alone = (phases[0].ReadsPerSecond + phases[2].ReadsPerSecond) / 2;
        var loaded = phases[1].ReadsPerSecond;
        return new ReadResult(config.Readers, config.ReadLoadProducers, config.ReadSeedRows, phases, alone, loaded,
            alone > 0 ? (1 - (loaded / alone)) * 100 : 0, config.ReadSeedRows + phases.Sum(p => p.WriteRows), rowsInDatabase);
    }

    private static async Task<ReadPhase> PhaseAsync(BenchConfig config, Workload workload, WaldenDatabase database, string name, int producers, long seqOffset)
    {
        var budget = Budget.PerProducer(config);
        var readers = Enumerable.Range(0, config.Readers).Select(_ => new ProducerState()).ToArray();
        var writers = Enumerable.Range(0, producers).Select(_ => new ProducerState()).ToArray();
        var cpuBefore = ThreadCpu.Snapshot();
        var started = Stopwatch.GetTimestamp();
        budget.Start();
        var reading = Task.WhenAll(readers.Select((state, r) => Task.Run(() => ReadLoopAsync(database, workload, state, budget, config.Seed + r))));
        var writing = producers > 0 ? WaldenScenario.ProduceAsync(database, workload, writers, budget, seqOffset) : Task.CompletedTask;
        await Task.WhenAll(reading, writing).ConfigureAwait(false);
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        var cpu = ThreadCpu.PerSecond(cpuBefore, ThreadCpu.Snapshot(), seconds);

        var reads = LatencyHistogram.Merge(readers.Select(s => s.Latencies));
        var writes = LatencyHistogram.Merge(writers.Select(s => s.Latencies));
        var readCount = readers.Sum(s => s.Acknowledged);
        var writeCount = writers.Sum(s => s.Acknowledged);
        return new ReadPhase(name, readCount, seconds, readCount / seconds, reads.PercentileMs(0.50), reads.PercentileMs(0.99),
            writeCount, writeCount / seconds, writes.PercentileMs(0.99), cpu);
    }

    private static async Task ReadLoopAsync(WaldenDatabase database, Workload workload, ProducerState state, Budget budget, int seed)
    {
        var random = new Random(seed);
        long done = 0;
        do
        {
            var task = workload.TaskId(random.Next(Workload.Tasks));
            var started = Stopwatch.GetTimestamp();
            await database.ReadAsync(connection => ReadRecent(connection, task)).ConfigureAwait(false);
            state.Latencies.RecordSince(started);
            state.Acknowledged++;
            done++;
        }
        while (!budget.IsDone(done));
    }

    private static int ReadRecent(SqliteConnection connection, string task)
    {
        var query = connection.GetCachedCommand(Workload.ReadSql);
        query.Parameters.AddWithValue("$task", task);
        using var reader = query.ExecuteReader();
        var rows = 0;
        while (reader.Read())
        {
            _ = reader.GetInt64(1);
            rows++;
        }

        return rows;
    }

    private static void Populate(string path, Workload workload, int rows)
    {
        PlainSqlite.Create(path);
        using var connection = PlainSqlite.Open(path, "FULL");
        using var insert = Workload.PrepareInsert(connection);
        for (var written = 0; written < rows;)
        {
            ConnectionFactory.Execute(connection, "BEGIN");
            for (var i = 0; i < 10_000 && written < rows; i++, written++)
            {
                Workload.Bind(insert, workload.SequentialRow(written));
                insert.ExecuteNonQuery();
            }

            ConnectionFactory.Execute(connection, "COMMIT");
        }
    }
}
