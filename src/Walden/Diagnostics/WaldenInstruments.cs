using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace Walden.Diagnostics;

/// <summary>
/// The one <see cref="Meter"/> named "Walden" and its instruments (OpenTelemetry naming: dotted
/// lowercase names, UCUM units, durations in seconds), shared by every open database of the process;
/// each measurement carries the tag <c>walden.database.name</c>. Observable instruments report every
/// open database at each collection (Npgsql's MetricsReporter does the same with its data sources).
/// </summary>
internal static class WaldenInstruments
{
    internal const string MeterName = "Walden";
    internal const string DatabaseNameTag = "walden.database.name";
    internal const string OutcomeTag = "walden.write.outcome";
    internal const string CheckpointModeTag = "walden.checkpoint.mode";

    internal static readonly Meter Meter = new(MeterName, typeof(WaldenInstruments).Assembly.GetName().Version?.ToString(3));

    private static readonly ConcurrentDictionary<DatabaseMetrics, byte> Live = new();

    private static readonly double[] DurationBuckets =
        [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    internal static readonly Histogram<int> BatchSize = Meter.CreateHistogram(
        "walden.write.batch.size", "{write}", "Writes committed together in one group-commit transaction.",
        tags: null, advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000] });

    internal static readonly Histogram<double> CommitDuration = Meter.CreateHistogram(
        "walden.write.commit.duration", "s", "How long one group-commit transaction held the write lock, from BEGIN IMMEDIATE to the end of COMMIT.",
        tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });

    internal static readonly Histogram<double> AckLatency = Meter.CreateHistogram(
        "walden.write.ack.latency", "s", "From WriteAsync accepting a write to its acknowledgement after the commit.",
        tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });

    internal static readonly Counter<long> Writes = Meter.CreateCounter<long>(
        "walden.writes", "{write}", "Writes by outcome (walden.write.outcome = committed, failed or cancelled).");

    internal static readonly Histogram<double> CheckpointDuration = Meter.CreateHistogram(
        "walden.checkpoint.duration", "s", "How long one checkpoint took, by mode (walden.checkpoint.mode).",
        tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });

    internal static readonly Counter<long> CheckpointFrames = Meter.CreateCounter<long>(
        "walden.checkpoint.frames", "{frame}", "WAL frames copied into the database by checkpoints.");

    internal static readonly Counter<long> CheckpointStarvations = Meter.CreateCounter<long>(
        "walden.checkpoint.starvations", "{event}", "Times the WAL stayed over WaldenOptions.WalSizeLimit without a reset for WaldenOptions.CheckpointStarvationThreshold.");

    static WaldenInstruments()
    {
        Meter.CreateObservableUpDownCounter("walden.write.queue.depth", () => Observe(static m => (long)m.Source.QueueDepth),
            "{write}", "Writes accepted and waiting for the writer.");
        Meter.CreateObservableCounter("walden.busy.retries", () => Observe(static m => m.Source.BusyRetries),
            "{retry}", "Times a Walden connection waited on a lock held by another connection or process.");
        Meter.CreateObservableGauge("walden.wal.size", () => Observe(static m => m.Source.WalFileBytes),
            "By", "Size of the -wal file, from file metadata.");
        Meter.CreateObservableGauge("walden.database.size", () => Observe(static m => m.Source.DatabaseFileBytes),
            "By", "Size of the database file, from file metadata.");
        Meter.CreateObservableUpDownCounter("walden.readers.active", () => Observe(static m => (long)m.Source.ActiveReaders),
            "{read}", "Reads running now.");
        Meter.CreateObservableGauge("walden.integrity.status", () => Observe(static m => (long)m.Source.IntegrityStatus),
            "1", "1 while no corruption has been seen, 0 once SQLite or an integrity check reported the database damaged.");
    }

    internal static void Register(DatabaseMetrics metrics) => Live.TryAdd(metrics, 0);

    internal static void Unregister(DatabaseMetrics metrics) => Live.TryRemove(metrics, out _);

    private static IEnumerable<Measurement<long>> Observe(Func<DatabaseMetrics, long> value)
    {
        foreach (var metrics in Live.Keys)
        {
            yield return new Measurement<long>(value(metrics), metrics.Tags);
        }
    }
}
