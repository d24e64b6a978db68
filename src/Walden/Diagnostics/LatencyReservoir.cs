namespace Walden.Diagnostics;

/// <summary>
/// The most recent durations of one kind (acknowledgement latency, commit duration), kept in a fixed ring
/// for the percentiles of <see cref="WaldenStats"/>. Written by one thread (the writer) without locks or
/// allocations; a reader copies it and may see a value being overwritten, which is harmless for a percentile.
/// </summary>
internal sealed class LatencyReservoir
{
    private const int Size = 2048; // a power of two, so the ring index is a mask
    private readonly double[] _seconds = new double[Size];
    private long _next;

    /// <summary>Called only by the holder of the writer role (the writer thread, or a caller running a batch inline): one thread at a time.</summary>
    internal void Add(double seconds)
    {
        _seconds[_next & (Size - 1)] = seconds;
        Volatile.Write(ref _next, _next + 1);
    }

    /// <summary>The p-quantiles (0 to 1) of the values in the ring, in seconds; null when nothing was recorded yet.</summary>
    internal double[]? Percentiles(params double[] quantiles)
    {
        var count = (int)Math.Min(Volatile.Read(ref _next), Size);
        if (count == 0)
        {
            return null;
        }

        var copy = new double[count];
        Array.Copy(_seconds, copy, count);
        Array.Sort(copy);
        return quantiles.Select(q => copy[Math.Clamp((int)Math.Ceiling(q * count) - 1, 0, count - 1)]).ToArray();
    }
}
