namespace Walden.Cli.Bench;

/// <summary>
/// Seed pattern B (the StepFlow report): producers hand rows to an in-memory buffer in front of one
/// shared connection; the buffer is written in one transaction when it holds
/// <see cref="BenchConfig.BufferRows"/> rows (by the producer that filled it) or every
/// <see cref="BenchConfig.BufferInterval"/> (by a timer thread). As in that application, a row is
/// "acknowledged" when it is handed to the buffer, so it is NOT durable when acknowledged: a crash loses
/// everything still buffered. Synchronous NORMAL, as that application configured.
/// </summary>
internal static class SeedPatternB
{
    internal const string Synchronous = "normal";

    internal static ScenarioResult Run(BenchConfig config, Workload workload, string path, int producers)
    {
        PlainSqlite.Create(path);
        var budget = Budget.PerProducer(config);
        var states = Enumerable.Range(0, producers).Select(_ => new ProducerState()).ToArray();
        Measurement? measurement = null;
        long lost;
        using (var buffer = new WriteBuffer(PlainSqlite.Open(path, Synchronous.ToUpperInvariant()), config.BufferRows))
        {
            using var stopFlusher = new ManualResetEventSlim();
            var flusher = new Thread(() =>
            {
                while (!stopFlusher.Wait(config.BufferInterval))
                {
                    buffer.FlushPending();
                }
            })
            { IsBackground = true, Name = "bench-buffer-flusher" };

            ProducerThreads.Run(producers, p =>
            {
                var state = states[p];
                long seq = 0;
                do
                {
                    var row = workload.Row(p, seq);
                    var started = System.Diagnostics.Stopwatch.GetTimestamp();
                    buffer.Add(row);
                    state.Latencies.RecordSince(started);
                    state.Acknowledged++;
                    seq++;
                }
                while (!budget.IsDone(seq));
            }, () =>
            {
                measurement = Measurement.Start(path, budget);
                flusher.UnsafeStart();
            });

            // The rows still buffered are written now; only then are they all in the database.
            stopFlusher.Set();
            flusher.Join();
            buffer.FlushPending();
            measurement!.Stop();
            lost = buffer.LostRows;
        }

        var result = measurement.Result(ScenarioKind.SeedPatternB, producers, producers, Synchronous, states.Sum(s => s.Acknowledged), PlainSqlite.CountRows(path),
            lost, LatencyHistogram.Merge(states.Select(s => s.Latencies)), durableAtAck: false);
        PlainSqlite.Delete(path);
        return result;
    }
}
