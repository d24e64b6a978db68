using System.Diagnostics;

namespace Walden.Cli.Bench;

/// <summary>
/// When a producer (or reader) stops: after a duration measured from <see cref="Start"/>, or after a
/// fixed number of operations. Every loop does at least one operation before it asks.
/// </summary>
internal sealed class Budget
{
    private readonly TimeSpan _duration;
    private readonly long? _operations;
    private long _deadline = long.MaxValue;

    private Budget(TimeSpan duration, long? operations)
    {
        _duration = duration;
        _operations = operations;
    }

    /// <summary>A budget per producer (or reader): the configured duration, or <see cref="BenchConfig.WritesPerProducer"/> operations.</summary>
    internal static Budget PerProducer(BenchConfig config) => new(config.ScenarioDuration, config.WritesPerProducer);

    /// <summary>A budget for one thread doing the work of <paramref name="producers"/> producers.</summary>
    internal static Budget Total(BenchConfig config, int producers) =>
        new(config.ScenarioDuration, config.WritesPerProducer is { } writes ? (long)writes * producers : null);

    internal void Start() => Volatile.Write(ref _deadline, Stopwatch.GetTimestamp() + (long)(_duration.TotalSeconds * Stopwatch.Frequency));

    /// <summary>True when a loop that has done <paramref name="done"/> operations should stop.</summary>
    internal bool IsDone(long done) => _operations is { } limit ? done >= limit : Stopwatch.GetTimestamp() >= Volatile.Read(ref _deadline);
}
