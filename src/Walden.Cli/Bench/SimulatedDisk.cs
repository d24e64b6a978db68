namespace Walden.Cli.Bench;

/// <summary>
/// A slow disk simulated by the fsync-latency shim of bench/slowsync (an LD_PRELOAD library that sleeps after every
/// fsync and fdatasync of the process: <c>WALDEN_FSYNC_DELAY_US</c> microseconds). The bench cannot load it itself (the
/// dynamic linker reads LD_PRELOAD at process start), so it only detects it: the library mapped in this process and
/// the delay it reads.
/// </summary>
/// <param name="DelayMicroseconds">The latency added to every fsync and fdatasync.</param>
internal sealed record SimulatedDisk(int DelayMicroseconds)
{
    internal const string DelayVariable = "WALDEN_FSYNC_DELAY_US";

    internal string Description => $"simulated slow disk: every fsync/fdatasync + {DelayMicroseconds / 1000.0:0.###} ms (bench/slowsync LD_PRELOAD shim)";

    /// <summary>The shim loaded in this process and its delay, or null.</summary>
    internal static SimulatedDisk? Detect()
    {
        try
        {
            var loaded = File.ReadLines("/proc/self/maps").Any(l => l.Contains("libwalden_slowsync", StringComparison.Ordinal));
            return loaded && int.TryParse(Environment.GetEnvironmentVariable(DelayVariable), out var us) && us > 0 ? new SimulatedDisk(us) : null;
        }
        catch (IOException)
        {
            return null;
        }
    }
}
