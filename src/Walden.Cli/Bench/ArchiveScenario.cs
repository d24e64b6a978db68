using System.Diagnostics;

namespace Walden.Cli.Bench;

/// <summary>What the archive scenarios measured beyond rows/s and acknowledgement latency.</summary>
/// <param name="Mode">"async" or "sync".</param>
/// <param name="Producers">Concurrent producers.</param>
/// <param name="LagP50Ms">Median lag: commit to durable in the destination, per shipped segment (its oldest transaction).</param>
/// <param name="LagP99Ms">99th percentile of that lag.</param>
/// <param name="RestoreBytes">Size of the database restored from the archive afterwards.</param>
/// <param name="RestoreSeconds">How long the restore took (base, segments, integrity_check).</param>
/// <param name="RestoreMegabytesPerSecond">Restored database bytes / restore time, in MB/s (10^6 bytes).</param>
/// <param name="ArchiveBytes">Bytes the archive holds (compressed base and segments).</param>
/// <param name="RestoredRowsMatch">Whether the restore holds every acknowledged row.</param>
internal sealed record ArchiveBenchResult(string Mode, int Producers, double LagP50Ms, double LagP99Ms, long RestoreBytes, double RestoreSeconds,
    double RestoreMegabytesPerSecond, long ArchiveBytes, bool RestoredRowsMatch);

/// <summary>
/// Walden Full with continuous archiving to a folder on the same disk (the bench's own folder), in Async or Sync mode:
/// the same producers as <see cref="WaldenScenario"/>, then a restore of the archive, timed.
/// </summary>
internal static class ArchiveScenario
{
    internal static async Task<(ScenarioResult Writes, ArchiveBenchResult Archive)> RunAsync(BenchConfig config, Workload workload, string path,
        int producers, WaldenArchiveMode mode)
    {
        PlainSqlite.Create(path);
        var archive = path + "-archive";
        Directory.CreateDirectory(archive);
        var budget = Budget.PerProducer(config);
        var states = Enumerable.Range(0, producers).Select(_ => new ProducerState()).ToArray();
        var options = new WaldenOptions { Durability = WaldenDurability.Full };
        options.Archive.AddFolder(archive).Mode = mode;
        options.Archive.DrillInterval = null; // measured apart: the restore below
        Measurement measurement;
        double[] lags;
        var database = await WaldenDatabase.OpenAsync(path, options).ConfigureAwait(false);
        try
        {
            measurement = Measurement.Start(path, budget);
            await WaldenScenario.ProduceAsync(database, workload, states, budget, seqOffset: 0).ConfigureAwait(false);
            measurement.Stop();
            if (mode == WaldenArchiveMode.Async)
            {
                // The lag of the last writes counts too: wait until the loop shipped them (bounded; a stuck loop shows as a huge p99).
                var waited = Stopwatch.StartNew();
                while (database.Archiver!.CurrentLag() > TimeSpan.Zero && waited.Elapsed < TimeSpan.FromSeconds(30))
                {
                    await Task.Delay(5).ConfigureAwait(false);
                }
            }

            lags = database.Archiver!.Lags.Percentiles(0.5, 0.99) ?? [0, 0];
        }
        finally
        {
            await database.DisposeAsync().ConfigureAwait(false);
        }

        var rows = states.Sum(s => s.Acknowledged);
        var result = measurement.Result(mode == WaldenArchiveMode.Async ? ScenarioKind.WaldenArchiveAsync : ScenarioKind.WaldenArchiveSync,
            producers, producers, "full", rows, PlainSqlite.CountRows(path), states.Sum(s => s.Errors),
            LatencyHistogram.Merge(states.Select(s => s.Latencies)), durableAtAck: true);
        PlainSqlite.Delete(path);

        var archiveBytes = new DirectoryInfo(archive).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length);
        var restored = path + "-restored";
        var restore = await WaldenArchive.RestoreAsync(archive, restored).ConfigureAwait(false);
        var match = restore.Complete && PlainSqlite.CountRows(restored) >= rows;
        PlainSqlite.Delete(restored);
        Directory.Delete(archive, recursive: true);
        return (result, new ArchiveBenchResult(mode.ToString().ToLowerInvariant(), producers, lags[0] * 1000, lags[1] * 1000, restore.Bytes,
            restore.Seconds, restore.Seconds > 0 ? restore.Bytes / 1e6 / restore.Seconds : 0, archiveBytes, match));
    }
}
