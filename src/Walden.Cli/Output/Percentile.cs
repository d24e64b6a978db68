namespace Walden.Cli.Output;

/// <summary>Nearest-rank percentiles over sorted samples, for the commands that keep every latency.</summary>
internal static class Percentile
{
    /// <summary>The <paramref name="p"/> quantile (0 to 1) of <paramref name="sorted"/>; 0 for no samples.</summary>
    internal static double Of(double[] sorted, double p) =>
        sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p * sorted.Length) - 1)];
}
