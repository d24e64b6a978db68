using System.Diagnostics;

namespace Walden.Cli.Bench;

/// <summary>
/// Wraps the measured part of a scenario: wall time, process-wide managed allocations
/// (<see cref="GC.GetTotalAllocatedBytes"/> deltas, minus the sampler's own), peak WAL size and memory.
/// Set-up (opening connections, creating the schema) and tear-down stay outside.
/// </summary>
internal sealed class Measurement : IDisposable
{
    private readonly ResourceSampler _sampler;
    private readonly long _allocatedBefore;
    private readonly long _started;
    private long _stopped;
    private long _allocatedAfter;

    private Measurement(string databasePath, Budget budget)
    {
        _sampler = ResourceSampler.Start(databasePath);
        _allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        _started = Stopwatch.GetTimestamp();
        budget.Start();
    }

    /// <summary>Starts measuring and starts <paramref name="budget"/>'s clock at the same moment.</summary>
    internal static Measurement Start(string databasePath, Budget budget) => new(databasePath, budget);

    internal void Stop()
    {
        if (_stopped != 0)
        {
            return;
        }

        _stopped = Stopwatch.GetTimestamp();
        _allocatedAfter = GC.GetTotalAllocatedBytes(precise: true);
        _sampler.Dispose();
    }

    internal double Seconds => Stopwatch.GetElapsedTime(_started, _stopped).TotalSeconds;

    internal long AllocatedBytes => Math.Max(0, _allocatedAfter - _allocatedBefore - _sampler.OwnAllocatedBytes);

    internal ScenarioResult Result(ScenarioKind kind, int group, int producers, string synchronous, long rows, long rowsInDatabase, long errors,
        LatencyHistogram latencies, bool durableAtAck)
    {
        Stop();
        return new ScenarioResult(kind, group, producers, synchronous, rows, rowsInDatabase, errors, Seconds,
            Seconds > 0 ? rows / Seconds : 0,
            latencies.PercentileMs(0.50), latencies.PercentileMs(0.99), latencies.MaxMs,
            _sampler.PeakWalBytes, _sampler.PeakWorkingSetBytes, _sampler.PeakManagedHeapBytes,
            rows > 0 ? (double)AllocatedBytes / rows : 0, durableAtAck);
    }

    public void Dispose() => Stop();
}
