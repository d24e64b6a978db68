using System.Diagnostics;

namespace Walden.Cli.Bench;

/// <summary>
/// Acknowledgement latencies in fixed memory (log-linear buckets, 32 per power of two: about 3%
/// resolution), so recording a latency allocates nothing and does not skew the allocation figures.
/// One instance per producer; merged at the end. The maximum is kept exactly.
/// </summary>
internal sealed class LatencyHistogram
{
    private const int Linear = 64;          // 0..63 µs one bucket each
    private const int SubBuckets = 32;
    private const int MaxMagnitude = 40;    // 2^40 µs, about 12 days
    private readonly long[] _counts = new long[Linear + ((MaxMagnitude - 6 + 1) * SubBuckets)];
    private long _maxMicros;

    internal long Count { get; private set; }

    internal double MaxMs => _maxMicros / 1000.0;

    /// <summary>Records the time since <paramref name="startTimestamp"/> (a <see cref="Stopwatch"/> timestamp).</summary>
    internal void RecordSince(long startTimestamp) => RecordTicks(Stopwatch.GetTimestamp() - startTimestamp);

    internal void RecordTicks(long stopwatchTicks)
    {
        var micros = Math.Max(0, stopwatchTicks * 1_000_000 / Stopwatch.Frequency);
        _counts[Index(micros)]++;
        Count++;
        if (micros > _maxMicros)
        {
            _maxMicros = micros;
        }
    }

    internal void Add(LatencyHistogram other)
    {
        for (var i = 0; i < _counts.Length; i++)
        {
            _counts[i] += other._counts[i];
        }

        Count += other.Count;
        _maxMicros = Math.Max(_maxMicros, other._maxMicros);
    }

    /// <summary>The non-empty buckets as (index, count) pairs and the maximum, to carry a histogram across processes.</summary>
    internal (long[][] Buckets, long MaxMicros) Export() =>
        (_counts.Select((count, index) => new[] { index, count }).Where(pair => pair[1] > 0).ToArray(), _maxMicros);

    /// <summary>Rebuilds a histogram <see cref="Export"/> produced.</summary>
    internal static LatencyHistogram Import(long[][] buckets, long maxMicros)
    {
        var histogram = new LatencyHistogram { _maxMicros = maxMicros };
        foreach (var pair in buckets)
        {
            histogram._counts[pair[0]] += pair[1];
            histogram.Count += pair[1];
        }

        return histogram;
    }

    internal static LatencyHistogram Merge(IEnumerable<LatencyHistogram> histograms)
    {
        var merged = new LatencyHistogram();
        foreach (var histogram in histograms)
        {
            merged.Add(histogram);
        }

        return merged;
    }

    /// <summary>The latency below which a fraction <paramref name="p"/> of the recorded ones fall, in ms (bucket upper bound, at most the maximum).</summary>
    internal double PercentileMs(double p)
    {
        if (Count == 0)
        {
            return 0;
        }

        var rank = (long)Math.Ceiling(p * Count);
        long seen = 0;
        for (var i = 0; i < _counts.Length; i++)
        {
            seen += _counts[i];
            if (seen >= rank)
            {
                return Math.Min(UpperBound(i), _maxMicros) / 1000.0;
            }
        }

        return MaxMs;
    }

    private static int Index(long micros)
    {
        if (micros < Linear)
        {
            return (int)micros;
        }

        var magnitude = (int)Math.Min(63 - long.LeadingZeroCount(micros), MaxMagnitude);
        var sub = (int)Math.Min((micros >> (magnitude - 5)) - SubBuckets, SubBuckets - 1);
        return Linear + ((magnitude - 6) * SubBuckets) + sub;
    }

    private static long UpperBound(int index)
    {
        if (index < Linear)
        {
            return index;
        }

        var magnitude = ((index - Linear) / SubBuckets) + 6;
        var sub = (index - Linear) % SubBuckets;
        return ((SubBuckets + sub + 1L) << (magnitude - 5)) - 1;
    }
}
