using System.Diagnostics;
using Walden.Configuration;
using Walden.Diagnostics;

namespace Walden.Writing;

/// <summary>
/// How the writer gets SQLite's write lock when other processes write the same file: it takes the <see cref="WriteTurn"/>
/// among Walden's processes first (none when the database is used by this process only, or the lock file cannot be
/// created), and it measures every wait from asking for the turn to BEGIN IMMEDIATE succeeding: the worst one is in
/// <see cref="WaldenStats.WriteLockWaitMax"/>.
/// When it had to wait for the turn, the writes that came back meanwhile are in the queue: it takes them into the batch
/// without waiting for more (the idle part of its gathering budget went into the wait), so it holds the turn no longer
/// than the batch needs. After a commit it may keep the turn for the next transaction (<see cref="WriteTurn.TryKeep"/>)
/// when its next writes are queued, or come back within <see cref="KeepWaitTicks"/>; otherwise it gives the turn back.
/// </summary>
internal sealed partial class GroupCommitWriter
{
    private WriteTurn? _turn;
    private BusyHandler? _busy;
    private long _lockWaitStarted;
    private long _worstLockWaitTicks;
    private bool _turnKept; // the last commit kept the turn for the next transaction

    /// <summary>The recent waits for the write lock (turn and BEGIN IMMEDIATE), for the p99 in stats.</summary>
    internal LatencyReservoir LockWaits { get; } = new();

    /// <summary>The longest wait for the write lock since open.</summary>
    internal TimeSpan WorstLockWait => Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _worstLockWaitTicks));

    /// <summary>Makes the writer take <paramref name="turn"/> before each transaction; <paramref name="busy"/> is its connection's handler.</summary>
    internal void UseTurn(WriteTurn turn, BusyHandler busy)
    {
        _turn = turn;
        _busy = busy;
    }

    /// <summary>Before BEGIN IMMEDIATE: waits for the turn, and leaves BEGIN only what remains of BusyTimeout.</summary>
    private void TakeTurn()
    {
        _lockWaitStarted = Stopwatch.GetTimestamp();
        if (_turn is null)
        {
            return;
        }

        _turn.Acquire(_options.BusyTimeout); // past the timeout, SQLite's own lock still decides (see WriteTurn)
        // Waiting for the turn was waiting for returning writes too: what came back is queued, and the batch takes it
        // without idling under the turn for more.
        _gatherIdleTicks = Math.Max(0, _gatherIdleTicks - (Stopwatch.GetTimestamp() - _lockWaitStarted));
        if (_busy is not null)
        {
            var left = _options.BusyTimeout - Stopwatch.GetElapsedTime(_lockWaitStarted);
            _busy.Deadline = left > TimeSpan.Zero ? left : TimeSpan.Zero;
        }
    }

    /// <summary>After BEGIN IMMEDIATE succeeded: records how long the lock took.</summary>
    private void NoteLockTaken()
    {
        var waited = Stopwatch.GetTimestamp() - _lockWaitStarted;
        LockWaits.Add((double)waited / Stopwatch.Frequency);
        if (waited > _worstLockWaitTicks)
        {
            Interlocked.Exchange(ref _worstLockWaitTicks, waited);
        }

        if (_busy is not null && _turn is not null)
        {
            _busy.Deadline = _options.BusyTimeout; // the statements of the batch wait the full time again
        }
    }

    /// <summary>Right after a successful COMMIT: keeps the turn for the next transaction, or gives it back to the next process.</summary>
    private void KeepOrGiveTurnBack()
    {
        _turnKept = _turn?.TryKeep() == true;
        if (!_turnKept)
        {
            _turn?.Release(); // before the acknowledgements: the next process may begin while they are sent
        }
    }

    /// <summary>
    /// The longest a writer keeping the turn waits for its next writes (100 µs), however slow its commits: the producers'
    /// return trip and the cost of a hand-off do not grow with the disk's fsync, and the other processes wait meanwhile
    /// (with the gathering bound of 2 ms, four processes on a slow disk had longer worst waits and fewer rows/s).
    /// </summary>
    internal static readonly long MaxKeepWaitTicks = Stopwatch.Frequency / 10_000;

    /// <summary>
    /// How long a writer that may keep the turn waits, holding it, for the writes its last commit acknowledged to come back:
    /// a quarter of that commit's duration (as when it gathers a batch), at most <see cref="MaxKeepWaitTicks"/>, and not at
    /// all when that commit acknowledged nothing. A hand-off to another process costs more than that: the next process's
    /// wake-up, and its SQLite connection reading the batch's pages again. Without the wait the producers were almost never
    /// back in time and the turn changed hands after most transactions; with it, after about half (figures in the README,
    /// "Several processes on one file").
    /// </summary>
    internal static long KeepWaitTicks(int acknowledged, long commitTicks) =>
        acknowledged <= 0 || commitTicks <= 0 ? 0 : Math.Min(commitTicks / 4, MaxKeepWaitTicks);

    /// <summary>
    /// When the batch has ended: gives the turn back, unless the last commit kept it and its next writes are queued or come
    /// back within <see cref="KeepWaitTicks"/> (it spins for them, yielding the core to its producers; it holds only the
    /// turn meanwhile, never SQLite's lock). The turn is kept for at most <see cref="WriteTurn.MaxTransactionsPerTurn"/>
    /// transactions, so the others' wait grows by no more than that wait.
    /// </summary>
    private void EndTurn()
    {
        if (_turnKept)
        {
            _turnKept = false;
            if (_queue.Reader.Count > 0 || WaitForNextWrites())
            {
                return; // the next batch begins on this turn, without a hand-off
            }
        }

        GiveTurnBack();
    }

    private bool WaitForNextWrites()
    {
        var wait = KeepWaitTicks(_lastAcknowledged, _lastCommitTicks);
        if (wait <= 0)
        {
            return false;
        }

        _faults?.WhileKeepingTurn?.Invoke();
        return SpinUntilQueued(_queue.Reader, Stopwatch.GetTimestamp() + wait);
    }

    /// <summary>When the batch failed, or the writer stops: the next process may write.</summary>
    private void GiveTurnBack()
    {
        _turnKept = false;
        _turn?.Release();
    }
}
