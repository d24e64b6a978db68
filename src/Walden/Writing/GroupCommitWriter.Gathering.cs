using System.Diagnostics;
using System.Threading.Channels;

namespace Walden.Writing;

/// <summary>
/// How the writer gathers a batch. A commit acknowledges all its writes at once; their producers'
/// next writes then come back over the following tens of microseconds (each continuation runs on the
/// thread pool). Starting the next batch at the first arrival splits those producers over two commits
/// that then alternate, so each fsync carries about half of them. The writer therefore waits briefly
/// for as many writes as the last commit acknowledged, never longer than a quarter of that commit's
/// own duration: with synchronous FULL (a commit is about one fsync, ~1 ms) up to a few hundred
/// microseconds, with NORMAL next to nothing, with a single producer not at all.
/// </summary>
internal sealed partial class GroupCommitWriter
{
    /// <summary>The longest the writer ever waits for returning writes, whatever the commit time.</summary>
    internal static readonly long MaxGatherTicks = Stopwatch.Frequency / 500; // 2 ms

    // Owned by the writer thread only.
    private int _lastAcknowledged;
    private long _lastCommitTicks;

    private void NoteCommit(int acknowledged, long commitTicks)
    {
        _lastAcknowledged = acknowledged;
        _lastCommitTicks = commitTicks;
    }

    /// <summary>The writes to wait for and for how long (Stopwatch ticks) after a commit that acknowledged <paramref name="acknowledged"/> writes in <paramref name="commitTicks"/>.</summary>
    internal static (int Expected, long WaitTicks) GatherBudget(int acknowledged, long commitTicks, int maxBatchSize)
    {
        var expected = Math.Min(acknowledged, maxBatchSize);
        return expected <= 1 || commitTicks <= 0 ? (0, 0) : (expected, Math.Min(commitTicks / 4, MaxGatherTicks));
    }

    private void AwaitReturningWriters(ChannelReader<IWriteRequest> reader)
    {
        var (expected, waitTicks) = GatherBudget(_lastAcknowledged, _lastCommitTicks, _options.MaxBatchSize);
        if (waitTicks == 0 || reader.Count >= expected)
        {
            return;
        }

        // Real time on purpose (not the injected TimeProvider): this bounds a wait of microseconds on the
        // CPU, and a test clock that never advances must not turn it into a hang.
        var deadline = Stopwatch.GetTimestamp() + waitTicks;
        var spinner = default(SpinWait);
        while (reader.Count < expected && Stopwatch.GetTimestamp() < deadline)
        {
            spinner.SpinOnce(sleep1Threshold: -1); // spins, then yields the core to the producers it waits for; never sleeps
        }
    }
}
