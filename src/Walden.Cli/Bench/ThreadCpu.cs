using System.Globalization;

namespace Walden.Cli.Bench;

/// <summary>
/// CPU time of this process's threads, grouped by what they do, from <c>/proc/self/task/*/stat</c> (Linux;
/// elsewhere nothing is reported). .NET names its threads on Linux, and Walden names its own, so the writer
/// thread, the checkpointer and the thread pool (where reads and the producers' continuations run) can be
/// told apart. <see cref="System.Diagnostics.ProcessThread"/> gives a thread's CPU time but not its name, and no
/// library maps one to the other, hence this reader of one small file per thread.
/// </summary>
internal static class ThreadCpu
{
    private const string TaskFolder = "/proc/self/task";
    private const double MillisecondsPerTick = 10; // USER_HZ is 100 on Linux

    /// <summary>The group of the runtime's tiered-compilation (JIT) thread.</summary>
    internal const string JitGroup = "JIT";

    /// <summary>CPU milliseconds used so far, per group; empty where /proc is not available.</summary>
    internal static Dictionary<string, double> Snapshot()
    {
        var used = new Dictionary<string, double>(StringComparer.Ordinal);
        if (!Directory.Exists(TaskFolder))
        {
            return used;
        }

        foreach (var task in Directory.EnumerateDirectories(TaskFolder))
        {
            string stat;
            try
            {
                stat = File.ReadAllText(Path.Combine(task, "stat"));
            }
            catch (IOException)
            {
                continue; // the thread ended between the listing and the read
            }

            var open = stat.IndexOf('(', StringComparison.Ordinal);
            var close = stat.LastIndexOf(')');
            if (open < 0 || close < open)
            {
                continue;
            }

            // After "pid (comm) ": state, then fields 4..; utime and stime are fields 14 and 15 (man 5 proc).
            var fields = stat[(close + 2)..].Split(' ');
            var ticks = double.Parse(fields[11], CultureInfo.InvariantCulture) + double.Parse(fields[12], CultureInfo.InvariantCulture);
            var group = Group(stat[(open + 1)..close]);
            used[group] = used.GetValueOrDefault(group) + (ticks * MillisecondsPerTick);
        }

        return used;
    }

    /// <summary>CPU milliseconds per second of wall time, per group, between two snapshots.</summary>
    internal static IReadOnlyDictionary<string, double> PerSecond(Dictionary<string, double> before, Dictionary<string, double> after, double seconds) =>
        after.Select(kv => (kv.Key, Rate: (kv.Value - before.GetValueOrDefault(kv.Key)) / seconds))
            .Where(x => x.Rate > 0)
            .OrderByDescending(x => x.Rate)
            .ToDictionary(x => x.Key, x => Math.Round(x.Rate, 1), StringComparer.Ordinal);

    private static string Group(string comm) => comm switch
    {
        _ when comm.StartsWith("walden-writer", StringComparison.Ordinal) => "writer thread",
        _ when comm.StartsWith("walden-checkpoi", StringComparison.Ordinal) => "checkpointer",
        _ when comm.StartsWith(".NET TP Worker", StringComparison.Ordinal) => "thread pool (reads, producers)",
        _ when comm.StartsWith(".NET Tiered", StringComparison.Ordinal) => JitGroup,
        _ => "other",
    };
}
