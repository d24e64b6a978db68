using System.Diagnostics;

namespace Walden.Cli.Bench;

/// <summary>
/// Walden: N producers, each an async loop that awaits <see cref="WaldenDatabase.WriteAsync{T}"/> for
/// every row before writing the next, as an agent does. Acknowledged = committed (durable to the
/// chosen durability).
/// </summary>
internal static class WaldenScenario
{
    internal static async Task<ScenarioResult> RunAsync(BenchConfig config, Workload workload, string path, int producers, WaldenDurability durability,
        bool plainCommands = false)
    {
        PlainSqlite.Create(path);
        var budget = Budget.PerProducer(config);
        var states = Enumerable.Range(0, producers).Select(_ => new ProducerState()).ToArray();
        Measurement measurement;
        var database = await WaldenDatabase.OpenAsync(path, new WaldenOptions { Durability = durability }).ConfigureAwait(false);
        try
        {
            measurement = Measurement.Start(path, budget);
            await ProduceAsync(database, workload, states, budget, seqOffset: 0, plainCommands).ConfigureAwait(false);
            measurement.Stop();
        }
        finally
        {
            await database.DisposeAsync().ConfigureAwait(false);
        }

        var kind = durability switch
        {
            WaldenDurability.Full => plainCommands ? ScenarioKind.WaldenFullPlain : ScenarioKind.WaldenFull,
            WaldenDurability.FullPipelined => ScenarioKind.WaldenPipelined,
            _ => ScenarioKind.WaldenNormal,
        };
        var result = measurement.Result(kind, producers, producers, durability switch
            {
                WaldenDurability.Full => "full",
                WaldenDurability.FullPipelined => "normal+sync",
                _ => "normal",
            },
            states.Sum(s => s.Acknowledged), PlainSqlite.CountRows(path), states.Sum(s => s.Errors),
            LatencyHistogram.Merge(states.Select(s => s.Latencies)), durableAtAck: true);
        PlainSqlite.Delete(path);
        return result;
    }

    /// <summary>Runs one producer loop per state until the budget says stop; returns when every producer has stopped.</summary>
    internal static Task ProduceAsync(WaldenDatabase database, Workload workload, ProducerState[] states, Budget budget, long seqOffset,
        bool plainCommands = false) =>
        Task.WhenAll(states.Select((state, producer) => Task.Run(() => ProduceOneAsync(database, workload, producer, state, budget, seqOffset, plainCommands))));

    private static async Task ProduceOneAsync(WaldenDatabase database, Workload workload, int producer, ProducerState state, Budget budget, long seqOffset,
        bool plainCommands)
    {
        long done = 0;
        do
        {
            var row = workload.Row(producer, seqOffset + done);
            var started = Stopwatch.GetTimestamp();
            try
            {
                if (plainCommands)
                {
                    await database.WriteAsync(connection => Workload.InsertAsUsersWriteIt(connection, row)).ConfigureAwait(false);
                }
                else
                {
                    await database.WriteAsync(connection => Workload.InsertThroughWalden(connection, row)).ConfigureAwait(false);
                }

                state.Latencies.RecordSince(started);
                state.Acknowledged++;
            }
            catch (WaldenException)
            {
                state.Errors++;
            }

            done++;
        }
        while (!budget.IsDone(done));
    }
}
