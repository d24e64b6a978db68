using System.Diagnostics;
using System.Threading.Channels;

namespace Walden.Writing;

/// <summary>
/// How the writer gathers a batch. A commit acknowledges all its writes at once; their producers'
/// next writes then come back over the following tens to hundreds of microseconds (each continuation
/// runs on the thread pool). Committing at the first arrival splits those producers over two commits
/// that then alternate, so each fsync carries about half of them. The writer therefore keeps the
/// transaction open for as many writes as the last commit acknowledged plus those that arrived too late to join it
/// (queued when it returned: their producers are not among the ones coming back), waiting idle for them no longer
/// in all than a quarter of that commit's own duration (and never more than <see cref="MaxGatherTicks"/>): with synchronous FULL
/// up to a few hundred microseconds, with NORMAL next to nothing, with a single producer not at all.
/// Counting only the acknowledged writes would make one late write split every later batch too: after a commit of
/// N - 1 writes with one queued behind it, the next batch would take that one and close at N - 1 again, leaving one of
/// the returning writes for the batch after, and so on, each commit one write short.
/// It does not sit idle meanwhile: each write is executed as soon as it arrives, so the producers'
/// return trip overlaps with the SQLite work of the writes already back, and only the COMMIT waits.
/// </summary>
internal sealed partial class GroupCommitWriter
{
    /// <summary>The longest the writer ever keeps a batch open for returning writes, whatever the commit time.</summary>
    internal static readonly long MaxGatherTicks = Stopwatch.Frequency / 500; // 2 ms

    /// <summary>
    /// How long the writer spins for the next write before it parks its thread (50 µs), when writes are arriving.
    /// Parking and waking a thread costs tens of microseconds on each side, and a busy producer's next write usually
    /// comes back sooner than that, so the spin saves a park and a wake-up per batch. Spinning delays no write (one that
    /// arrives is taken at once) and costs at most this much CPU per batch.
    /// </summary>
    internal static readonly long LingerTicks = Stopwatch.Frequency / 20_000;

    /// <summary>
    /// The writer spins only while writes are arriving: when its last wait for a write was this short (twice the spin).
    /// A writer that waited longer parks at once: at a few writes per second, or idle, it burns no CPU on spinning.
    /// </summary>
    internal static readonly long LingerWhenWaitedTicks = 2 * LingerTicks;

    // Owned by the role's holder (see Inline); _lastWaitTicks by the writer thread.
    private int _lastAcknowledged;
    private int _lastQueuedBehind; // writes queued when the last COMMIT returned: they came too late to join it
    private long _lastCommitTicks;
    private int _gatherExpected;
    private long _gatherIdleTicks;
    private long _lastWaitTicks = long.MaxValue; // how long the writer last waited for a write; none yet counts as long

    /// <summary>Whether the writer should spin before it parks, after a last wait of <paramref name="lastWaitTicks"/>.</summary>
    internal static bool ShouldLinger(long lastWaitTicks) => lastWaitTicks <= LingerWhenWaitedTicks;

    private void NoteWait(long waitedTicks) => _lastWaitTicks = waitedTicks;

    private void NoteCommit(int acknowledged, int queuedBehind, long commitTicks)
    {
        _lastAcknowledged = acknowledged;
        _lastQueuedBehind = queuedBehind;
        _lastCommitTicks = commitTicks;
    }

    /// <summary>
    /// The writes a batch gathers and how long it may wait for them (Stopwatch ticks), after a commit that acknowledged
    /// <paramref name="acknowledged"/> writes in <paramref name="commitTicks"/> and returned with <paramref name="queuedBehind"/>
    /// writes queued: those are taken at the batch's start, the acknowledged ones' next writes are waited for. Only after
    /// a commit of several writes, as before: after one of a single write its producer's next write is all that comes back.
    /// </summary>
    internal static (int Expected, long WaitTicks) GatherBudget(int acknowledged, int queuedBehind, long commitTicks, int maxBatchSize)
    {
        if (acknowledged <= 1 || commitTicks <= 0)
        {
            return (0, 0); // at most one write coming back: nothing worth keeping the transaction open for
        }

        var expected = (int)Math.Min((long)acknowledged + Math.Max(0, queuedBehind), maxBatchSize);
        return (expected, Math.Min(commitTicks / 4, MaxGatherTicks));
    }

    /// <summary>Sets how long the batch starting now may stay open for returning writes.</summary>
    private void StartGathering()
    {
        var (expected, waitTicks) = GatherBudget(_lastAcknowledged, _lastQueuedBehind, _lastCommitTicks, _options.MaxBatchSize);
        _gatherExpected = expected;
        _gatherIdleTicks = waitTicks;
    }

    /// <summary>Before the writer parks: spins up to <see cref="LingerTicks"/> for the next write, if writes are arriving.</summary>
    private void Linger(ChannelReader<IWriteRequest> reader)
    {
        if (reader.Count == 0 && ShouldLinger(_lastWaitTicks))
        {
            SpinUntilQueued(reader, Stopwatch.GetTimestamp() + LingerTicks);
        }
    }

    /// <summary>
    /// Called when every write taken so far has run: adds the next returning write to <paramref name="batch"/>,
    /// waiting for it while the batch is short of the expected count and idle time is left in the budget.
    /// Only the waiting counts against the budget: running a write that has arrived delays nobody, it would
    /// otherwise run first thing in the next batch. False when the batch should commit now.
    /// </summary>
    private bool TryGather(ChannelReader<IWriteRequest> reader, List<IWriteRequest> batch)
    {
        if (batch.Count >= _gatherExpected || batch.Count >= _options.MaxBatchSize)
        {
            return false;
        }

        if (!reader.TryRead(out var request) && _gatherIdleTicks > 0)
        {
            var started = Stopwatch.GetTimestamp();
            var arrived = SpinUntilQueued(reader, started + _gatherIdleTicks);
            _gatherIdleTicks -= Stopwatch.GetTimestamp() - started;
            if (arrived)
            {
                reader.TryRead(out request);
            }
        }

        if (request is null)
        {
            return false;
        }

        batch.Add(request);
        return true;
    }

    /// <summary>
    /// Spins, then yields the core to the producers it waits for (never sleeps), until a write is queued
    /// (true) or <paramref name="deadline"/> passes (false). Real time on purpose, not the injected
    /// TimeProvider: this bounds a wait of microseconds on the CPU, and a test clock that never advances
    /// must not turn it into a hang.
    /// </summary>
    private static bool SpinUntilQueued(ChannelReader<IWriteRequest> reader, long deadline)
    {
        var spinner = default(SpinWait);
        while (reader.Count == 0)
        {
            if (Stopwatch.GetTimestamp() >= deadline)
            {
                return false;
            }

            spinner.SpinOnce(sleep1Threshold: -1);
        }

        return true;
    }
}
