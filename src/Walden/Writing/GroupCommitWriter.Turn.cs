using System.Diagnostics;
using Walden.Configuration;
using Walden.Diagnostics;

namespace Walden.Writing;

/// <summary>
/// How the writer gets SQLite's write lock when other processes write the same file: it takes the <see cref="WriteTurn"/>
/// among Walden's processes first (none when the database is used by this process only, or the lock file cannot be
/// created), and it measures every wait from asking for the turn to BEGIN IMMEDIATE succeeding: the worst one is in
/// <see cref="WaldenStats.WriteLockWaitMax"/>.
/// </summary>
internal sealed partial class GroupCommitWriter
{
    private WriteTurn? _turn;
    private BusyHandler? _busy;
    private long _lockWaitStarted;
    private long _worstLockWaitTicks;

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

    /// <summary>Right after COMMIT (or when the batch ends otherwise): the next process may write.</summary>
    private void GiveTurnBack() => _turn?.Release();
}
