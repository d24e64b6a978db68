using System.Diagnostics;

namespace Walden.Cli.Bench;

/// <summary>What a slow trickle of writes, and no writes at all, cost in CPU.</summary>
/// <param name="WritesPerSecond">The paced rate of both trickle phases.</param>
/// <param name="DirectAchievedPerSecond">The rate the direct phase reached (below the paced rate when a write took longer than the period).</param>
/// <param name="WaldenAchievedPerSecond">The rate Walden's phase reached.</param>
/// <param name="Writes">Writes per trickle phase.</param>
/// <param name="DirectCpuUsPerWrite">Process CPU per write of a direct insert-and-commit (one connection, synchronous FULL).</param>
/// <param name="WaldenCpuUsPerWrite">Process CPU per write of Walden Full, one producer awaiting each write.</param>
/// <param name="CpuRatio">Walden over direct.</param>
/// <param name="IdleSeconds">How long the idle phase watched an open Walden database that received no write.</param>
/// <param name="IdlePercentOfCore">Process CPU in the idle phase, in percent of one core.</param>
/// <param name="IdlePercentWithoutJit">The same without the runtime's tiered-compilation thread (the figure the target is judged on).</param>
/// <param name="TrickleCpuMsPerSecond">CPU ms/s by thread group during Walden's trickle phase (Linux).</param>
/// <param name="IdleCpuMsPerSecond">CPU ms/s by thread group during the idle phase (Linux).</param>
internal sealed record IdleResult(double WritesPerSecond, double DirectAchievedPerSecond, double WaldenAchievedPerSecond, long Writes, double DirectCpuUsPerWrite, double WaldenCpuUsPerWrite, double CpuRatio,
    double IdleSeconds, double IdlePercentOfCore, double IdlePercentWithoutJit, IReadOnlyDictionary<string, double> TrickleCpuMsPerSecond,
    IReadOnlyDictionary<string, double> IdleCpuMsPerSecond);

/// <summary>
/// Idle means idle. Trickle: one producer writes 100 rows per second (a <see cref="PeriodicTimer"/> of 10 ms), first
/// directly (one connection, a prepared insert, auto-commit, synchronous FULL), then through Walden Full, each for the
/// scenario's duration; CPU per write is the whole process's CPU time (<see cref="Environment.CpuUsage"/>) over the
/// writes, so the writer thread, the checkpointer and the thread pool all count. Each phase first writes 300 rows
/// unmeasured and waits a second, so that the JIT has compiled the hot code at its final tier, as in a process that has
/// run for a while. Idle: Walden stays open after its last write; a second later the idle window starts and lasts
/// <see cref="BenchConfig.IdleWindow"/> (3 s) with no write.
/// </summary>
internal static class IdleScenario
{
    internal const double Rate = 100;
    private const int WarmUpWrites = 300;
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(1);

    internal static async Task<IdleResult> RunAsync(BenchConfig config, Workload workload, string folder)
    {
        var directPath = Path.Combine(folder, "bench-idle-direct.db");
        var waldenPath = Path.Combine(folder, "bench-idle-walden.db");
        PlainSqlite.Create(directPath);
        PlainSqlite.Create(waldenPath);
        var writes = config.WritesPerProducer ?? Math.Max(10, (long)(config.ScenarioDuration.TotalSeconds * Rate));

        double direct;
        double directRate;
        double waldenRate;
        using (var connection = PlainSqlite.Open(directPath, "FULL"))
        using (var insert = Workload.PrepareInsert(connection))
        {
            (direct, directRate, _) = await TrickleAsync(writes, seq =>
            {
                Workload.Bind(insert, workload.Row(0, seq));
                insert.ExecuteNonQuery();
                return Task.CompletedTask;
            }).ConfigureAwait(false);
        }

        double walden;
        IReadOnlyDictionary<string, double> trickleCpu;
        IReadOnlyDictionary<string, double> idleCpu;
        double idlePercent;
        double idleWithoutJit;
        var database = await WaldenDatabase.OpenAsync(waldenPath, new WaldenOptions { Durability = WaldenDurability.Full }).ConfigureAwait(false);
        try
        {
            (walden, waldenRate, trickleCpu) = await TrickleAsync(writes, seq =>
                database.WriteAsync(c => Workload.InsertThroughWalden(c, workload.Row(0, seq)))).ConfigureAwait(false);

            await Task.Delay(Settle).ConfigureAwait(false); // "no write for a second": the window starts a second after the last write
            var threadsBefore = ThreadCpu.Snapshot();
            var before = Environment.CpuUsage.TotalTime;
            var started = Stopwatch.GetTimestamp();
            await Task.Delay(config.IdleWindow).ConfigureAwait(false);
            var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
            idlePercent = (Environment.CpuUsage.TotalTime - before).TotalSeconds / seconds * 100;
            idleCpu = ThreadCpu.PerSecond(threadsBefore, ThreadCpu.Snapshot(), seconds);
            // The runtime's tiered-compilation worker may still be recompiling code of the phases before (a process that has
            // run for days has no such work left); it is shown, and left out of the figure the target is judged on.
            idleWithoutJit = idlePercent - (idleCpu.GetValueOrDefault(ThreadCpu.JitGroup) / 10);
        }
        finally
        {
            await database.DisposeAsync().ConfigureAwait(false);
        }

        PlainSqlite.Delete(directPath);
        PlainSqlite.Delete(waldenPath);
        return new IdleResult(Rate, directRate, waldenRate, writes, direct, walden, direct > 0 ? walden / direct : 0, config.IdleWindow.TotalSeconds,
            idlePercent, Math.Max(0, idleWithoutJit), trickleCpu, idleCpu);
    }

    /// <summary>Writes <paramref name="writes"/> rows at <see cref="Rate"/> per second; returns process CPU microseconds per write.</summary>
    private static async Task<(double CpuUsPerWrite, double Rate, IReadOnlyDictionary<string, double> ByThread)> TrickleAsync(long writes,
        Func<long, Task> write)
    {
        // Warm up as a long-running process is: its code compiled at the JIT's final tier, its pages cached. Then let the JIT's
        // background compilations finish, so that they are not counted against the writes.
        for (var seq = writes; seq < writes + WarmUpWrites; seq++)
        {
            await write(seq).ConfigureAwait(false);
        }

        await Task.Delay(Settle).ConfigureAwait(false);
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1 / Rate));
        var threadsBefore = ThreadCpu.Snapshot();
        var before = Environment.CpuUsage.TotalTime;
        var started = Stopwatch.GetTimestamp();
        for (long seq = 0; seq < writes; seq++)
        {
            await timer.WaitForNextTickAsync().ConfigureAwait(false);
            await write(seq).ConfigureAwait(false);
        }

        var cpu = Environment.CpuUsage.TotalTime - before;
        var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
        return (cpu.TotalMicroseconds / writes, writes / seconds, ThreadCpu.PerSecond(threadsBefore, ThreadCpu.Snapshot(), seconds));
    }
}
