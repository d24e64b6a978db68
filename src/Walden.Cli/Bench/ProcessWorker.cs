using System.Diagnostics;
using System.Text.Json;
using Walden.Cli.Output;

namespace Walden.Cli.Bench;

/// <summary>What one worker process of the processes scenario measured; its JSON line on stdout.</summary>
/// <param name="ProcessId">The worker's pid.</param>
/// <param name="Producers">Its producers.</param>
/// <param name="Rows">Writes acknowledged.</param>
/// <param name="Errors">Writes that failed.</param>
/// <param name="Seconds">From its start signal to its last acknowledgement.</param>
/// <param name="Buckets">Its acknowledgement latency histogram (see <see cref="LatencyHistogram.Export"/>).</param>
/// <param name="MaxMicros">Its slowest acknowledgement.</param>
/// <param name="WorstLockWaitMs">The longest its writer waited for the write lock (<see cref="WaldenStats.WriteLockWaitMax"/>).</param>
/// <param name="LockWaitP99Ms">The p99 of its recent waits for the write lock.</param>
/// <param name="Checkpoints">Checkpoints it ran (attempts, including those that copied nothing).</param>
/// <param name="BusyRetries">Times its connections waited on a lock held elsewhere.</param>
/// <param name="CheckpointHolder">Whether it held the checkpoint lease at the end.</param>
internal sealed record ProcessWorkerResult(int ProcessId, int Producers, long Rows, long Errors, double Seconds, long[][] Buckets, long MaxMicros,
    double WorstLockWaitMs, double LockWaitP99Ms, long Checkpoints, long BusyRetries, bool CheckpointHolder);

/// <summary>
/// The hidden <c>walden bench-worker</c>: one process of the processes scenario. Opens the database, says <c>ready</c>,
/// waits for <c>go</c> on stdin (so every process starts at once), runs its producers for the given time, prints its
/// figures as one JSON line, then closes the database.
/// </summary>
internal static class ProcessWorker
{
    internal const string Ready = "ready";
    internal const string Go = "go";

    internal static async Task<int> RunAsync(string path, int producers, double seconds, WaldenDurability durability, int? writes = null,
        long? walSizeLimit = null)
    {
        var config = new BenchConfig
        {
            Folder = Path.GetDirectoryName(path)!,
            ScenarioDuration = TimeSpan.FromSeconds(seconds),
            WritesPerProducer = writes,
        };
        var workload = new Workload(config.Seed);
        var states = Enumerable.Range(0, producers).Select(_ => new ProducerState()).ToArray();
        var options = new WaldenOptions { Durability = durability };
        if (walSizeLimit is { } limit)
        {
            options.WalSizeLimit = limit;
        }

        var database = await WaldenDatabase.OpenAsync(path, options).ConfigureAwait(false);
        await using (database.ConfigureAwait(false))
        {
            Console.Out.WriteLine(Ready);
            Console.Out.Flush();
            if (Console.In.ReadLine() != Go)
            {
                return 2;
            }

            var budget = Budget.PerProducer(config);
            budget.Start();
            var started = Stopwatch.GetTimestamp();
            // Rows of each process are told apart by a producer offset, so every row of the file is distinct.
            await WaldenScenario.ProduceAsync(database, workload, states, budget, seqOffset: Environment.ProcessId * 10_000_000L).ConfigureAwait(false);
            var elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;
            var stats = await database.GetStatsAsync().ConfigureAwait(false);
            var (buckets, max) = LatencyHistogram.Merge(states.Select(s => s.Latencies)).Export();
            var result = new ProcessWorkerResult(Environment.ProcessId, producers, states.Sum(s => s.Acknowledged), states.Sum(s => s.Errors), elapsed,
                buckets, max, stats.WriteLockWaitMax.TotalMilliseconds, stats.WriteLockWaitP99?.TotalMilliseconds ?? 0, stats.Checkpoints,
                stats.BusyRetries, stats.IsCheckpointHolder);
            Console.Out.WriteLine(JsonSerializer.Serialize(result, Json.Options).ReplaceLineEndings(" "));
            Console.Out.Flush();
        }

        return 0;
    }
}
