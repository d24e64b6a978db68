using Microsoft.Data.Sqlite;
using Walden.Errors;

namespace Walden.Cli.Bench;

/// <summary>
/// Seed pattern A (the Fusion report): every producer has its own connection and writes one
/// auto-committed INSERT per row; WAL, synchronous FULL, busy timeout 5 s through Microsoft.Data.Sqlite's
/// own retry loop (it sleeps 150 ms between attempts). A write still locked out after the timeout is an
/// error ("database is locked"); the producer counts it and goes on with its next row.
/// </summary>
internal static class SeedPatternA
{
    internal static ScenarioResult Run(BenchConfig config, Workload workload, string path, int producers)
    {
        PlainSqlite.Create(path);
        var budget = Budget.PerProducer(config);
        var states = new ProducerState[producers];
        var connections = new List<SqliteConnection>(producers);
        var commands = new List<SqliteCommand>(producers);
        Measurement? measurement = null;
        try
        {
            for (var p = 0; p < producers; p++)
            {
                var connection = PlainSqlite.Open(path, "FULL", config.SeedBusyTimeoutSeconds);
                connections.Add(connection);
                commands.Add(Workload.PrepareInsert(connection));
                states[p] = new ProducerState();
            }

            ProducerThreads.Run(producers, p =>
            {
                var insert = commands[p];
                var state = states[p];
                long seq = 0;
                do
                {
                    Workload.Bind(insert, workload.Row(p, seq));
                    var started = System.Diagnostics.Stopwatch.GetTimestamp();
                    try
                    {
                        insert.ExecuteNonQuery();
                        state.Latencies.RecordSince(started);
                        state.Acknowledged++;
                    }
                    catch (SqliteException ex) when (SqliteErrors.IsBusy(ex.SqliteErrorCode))
                    {
                        state.Errors++;
                    }

                    seq++;
                }
                while (!budget.IsDone(seq));
            }, () => measurement = Measurement.Start(path, budget));
            measurement!.Stop();
        }
        finally
        {
            commands.ForEach(c => c.Dispose());
            connections.ForEach(c => c.Dispose());
        }

        var result = measurement.Result(ScenarioKind.SeedPatternA, producers, producers, "full", states.Sum(s => s.Acknowledged), PlainSqlite.CountRows(path),
            states.Sum(s => s.Errors), LatencyHistogram.Merge(states.Select(s => s.Latencies)), durableAtAck: true);
        PlainSqlite.Delete(path);
        return result;
    }
}

/// <summary>What one producer counted; owned by that producer until the scenario ends.</summary>
internal sealed class ProducerState
{
    internal LatencyHistogram Latencies { get; } = new();

    internal long Acknowledged { get; set; }

    internal long Errors { get; set; }
}
