using System.Diagnostics;
using System.Diagnostics.Metrics;
using Walden.Diagnostics;

namespace Walden.Archiving;

/// <summary>The archive's instruments on Walden's one meter.</summary>
internal static class ArchiveInstruments
{
    private static readonly Histogram<double> Lag = WaldenInstruments.Meter.CreateHistogram(
        "walden.archive.lag", "s", "From a transaction's commit to its being durable in an archive destination.",
        tags: null, advice: new InstrumentAdvice<double>
        {
            HistogramBucketBoundaries = [0.001, 0.005, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
        });

    private static readonly Counter<long> SealFailures = WaldenInstruments.Meter.CreateCounter<long>(
        "walden.archive.seal.failures", "{failure}",
        "Failed tries to seal a Sync archive's append log into a segment (retried with a back-off; health is Degraded until one succeeds).");

    internal static void RecordSealFailure(string name)
    {
        try
        {
            SealFailures.Add(1, new TagList { { WaldenInstruments.DatabaseNameTag, name } });
        }
#pragma warning disable CA1031 // A listener's exception must not fail the seal's bookkeeping.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    internal static void RecordLag(double seconds, string name)
    {
        try
        {
            Lag.Record(seconds, new TagList { { WaldenInstruments.DatabaseNameTag, name } });
        }
#pragma warning disable CA1031 // A listener's exception must not fail the shipping of a segment.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }
}
