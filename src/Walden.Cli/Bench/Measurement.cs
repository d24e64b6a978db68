using System.Diagnostics;

namespace Walden.Cli.Bench;

/// <summary>
/// Wraps the measured part of a scenario: wall time, process-wide managed allocations
/// (<see cref="GC.GetTotalAllocatedBytes"/> deltas, minus the sampler's own), process CPU
/// (<see cref="Environment.CpuUsage"/>, every thread), the time the JIT spent compiling
/// (<see cref="System.Runtime.JitInfo.GetCompilationTime"/>, every thread), peak WAL size and memory.
/// Set-up (opening connections, creating the schema) and tear-down stay outside.
/// </summary>
internal sealed class Measurement : IDisposable
{
    private readonly ResourceSampler _sampler;
    private readonly long _allocatedBefore;
    private readonly long _started;
    private readonly TimeSpan _cpuBefore;
    private readonly TimeSpan _jitBefore;
    private long _stopped;
    private long _allocatedAfter;
    private TimeSpan _cpuAfter;
    private TimeSpan _jitAfter;

    private Measurement(string databasePath, Budget budget)
    {
        _sampler = ResourceSampler.Start(databasePath);
        _allocatedBefore = GC.GetTotalAllocatedBytes(precise: true);
        _jitBefore = System.Runtime.JitInfo.GetCompilationTime(currentThread: false);
        _cpuBefore = Environment.CpuUsage.TotalTime;
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
        _cpuAfter = Environment.CpuUsage.TotalTime;
        _jitAfter = System.Runtime.JitInfo.GetCompilationTime(currentThread: false);
        _allocatedAfter = GC.GetTotalAllocatedBytes(precise: true);
        _sampler.Dispose();
    }

    internal double Seconds => Stopwatch.GetElapsedTime(_started, _stopped).TotalSeconds;

    /// <summary>Process CPU (every thread, user and kernel) during the measured part.</summary>
    internal TimeSpan Cpu => _cpuAfter - _cpuBefore;

    /// <summary>Time the JIT spent compiling, on any thread, during the measured part.</summary>
    internal TimeSpan Jit => _jitAfter - _jitBefore;

    internal long AllocatedBytes => Math.Max(0, _allocatedAfter - _allocatedBefore - _sampler.OwnAllocatedBytes);

    internal ScenarioResult Result(ScenarioKind kind, int group, int producers, string synchronous, long rows, long rowsInDatabase, long errors,
        LatencyHistogram latencies, bool durableAtAck)
    {
        Stop();
        return new ScenarioResult(kind, group, producers, synchronous, rows, rowsInDatabase, errors, Seconds,
            Seconds > 0 ? rows / Seconds : 0,
            latencies.PercentileMs(0.50), latencies.PercentileMs(0.99), latencies.MaxMs,
            _sampler.PeakWalBytes, _sampler.PeakWorkingSetBytes, _sampler.PeakManagedHeapBytes,
            rows > 0 ? (double)AllocatedBytes / rows : 0, durableAtAck,
            CpuMicrosecondsPerWrite: rows > 0 ? Cpu.TotalMicroseconds / rows : null,
            JitMilliseconds: Jit.TotalMilliseconds)
        {
            Latencies = latencies,
        };
    }

    public void Dispose() => Stop();
}
