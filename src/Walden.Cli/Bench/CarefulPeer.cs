using System.Diagnostics;
using Microsoft.Data.Sqlite;

namespace Walden.Cli.Bench;

/// <summary>
/// The careful .NET peer: what a competent developer writes without Walden. N async producers share one
/// connection behind a <see cref="SemaphoreSlim"/>; each write takes the semaphore, runs one BEGIN IMMEDIATE
/// transaction (<see cref="SqliteConnection.BeginTransaction()"/>) with a prepared insert, commits and lets go.
/// WAL, synchronous FULL: every acknowledged row is durable, as with Walden Full. It never sees "database is
/// locked" (one connection), but each commit carries one row.
/// </summary>
internal static class CarefulPeer
{
    internal static async Task<ScenarioResult> RunAsync(BenchConfig config, Workload workload, string path, int producers)
    {
        PlainSqlite.Create(path);
        var budget = Budget.PerProducer(config);
        var states = Enumerable.Range(0, producers).Select(_ => new ProducerState()).ToArray();
        Measurement measurement;
        using (var gate = new SemaphoreSlim(1, 1))
        using (var connection = PlainSqlite.Open(path, "FULL"))
        using (var insert = Workload.PrepareInsert(connection))
        {
            measurement = Measurement.Start(path, budget);
            await Task.WhenAll(states.Select((state, producer) => Task.Run(async () =>
            {
                long seq = 0;
                do
                {
                    var row = workload.Row(producer, seq);
                    var started = Stopwatch.GetTimestamp();
                    await gate.WaitAsync().ConfigureAwait(false);
                    try
                    {
                        using var transaction = connection.BeginTransaction();
                        insert.Transaction = transaction;
                        Workload.Bind(insert, row);
                        insert.ExecuteNonQuery();
                        transaction.Commit();
                    }
                    finally
                    {
                        gate.Release();
                    }

                    state.Latencies.RecordSince(started);
                    state.Acknowledged++;
                    seq++;
                }
                while (!budget.IsDone(seq));
            }))).ConfigureAwait(false);
            measurement.Stop();
        }

        var result = measurement.Result(ScenarioKind.CarefulPeer, producers, producers, "full", states.Sum(s => s.Acknowledged),
            PlainSqlite.CountRows(path), 0, LatencyHistogram.Merge(states.Select(s => s.Latencies)), durableAtAck: true);
        PlainSqlite.Delete(path);
        return result;
    }
}
