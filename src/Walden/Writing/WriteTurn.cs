using System.Diagnostics;
using Walden.Files;

namespace Walden.Writing;

/// <summary>
/// The write turn among the Walden processes on one file. SQLite has no queue for its write lock: a writer that finds it
/// taken polls (Walden's busy handler every millisecond), and a process that commits batch after batch takes the lock
/// back microseconds after releasing it, long before a poller looks again. Two Walden processes then ran at half the
/// rows/s of one, with one waiting up to seconds. So before BEGIN IMMEDIATE a Walden writer takes the turn, and it gives
/// it back right after COMMIT: two locks of the <see cref="CoordinationFile"/>, taken in the order queue, turn, and the
/// queue released once the turn is held. A writer that just gave the turn back finds the queue held by the one waiting
/// for the turn, so it queues behind it: turns alternate, and a waiting process is woken by the kernel the moment the
/// turn is free instead of polling. With more processes, those waiting for the queue are woken together and one wins.
/// Processes that are not Walden's only see SQLite's locks, which stay the ones that matter: the turn is taken before
/// and released after SQLite's write lock, so nobody holds SQLite's lock any longer than before, and a foreign writer
/// competes with the turn's holder through the busy handler as it always did.
/// The wait is bounded by <see cref="WaldenOptions.BusyTimeout"/>: kernel lock waits cannot time out, so a waiter thread
/// of its own blocks in them while the writer waits with a timeout; past it the writer goes on without the turn (SQLite's
/// lock still protects the file) and a turn granted later is given back at once.
/// Each hand-off between processes costs more than a commit's own work: the next process must be woken, and its SQLite
/// connection finds the WAL changed by another, so it drops its page cache and reads the pages of the batch again. So a
/// writer that had to wait for its turn (other processes are writing) may keep it for up to
/// <see cref="MaxTransactionsPerTurn"/> transactions in a row while its own next writes are back or come back soon (see
/// <see cref="TryKeep"/>): fewer, larger hand-offs, and no process waits more than that many transactions of each one
/// ahead of it. Between those transactions it holds only the turn, never SQLite's lock.
/// Used by one thread at a time: the writer, or the checkpointer while the writer is paused between batches.
/// </summary>
internal sealed class WriteTurn : IDisposable
{
    /// <summary>
    /// The most transactions one process runs on one turn while other Walden processes wait for it (2). A waiting process
    /// therefore waits for at most this many transactions of each process ahead of it.
    /// </summary>
    internal const int MaxTransactionsPerTurn = 2;

    private readonly CoordinationFile _file;
    private readonly object _gate = new();
    private readonly SemaphoreSlim _request = new(0);
    private readonly ManualResetEventSlim _granted = new(false);
    private readonly Thread _waiter;
    private bool _held;             // owned by the thread using the turn
    private bool _contended;        // the turn held now had to be waited for: other processes are writing
    private int _transactions;      // transactions run on the turn held now, counted by TryKeep

    // Shared with the waiter thread, under _gate.
    private bool _inFlight;
    private bool _holdsQueue;
    private bool _abandoned;
    private bool _disposed;
    private long _worstWaitTicks;
    private long _waits;

    internal WriteTurn(CoordinationFile file, string name)
    {
        _file = file;
        _waiter = new Thread(WaitLoop) { IsBackground = true, Name = $"walden-turn:{name}" };
        _waiter.UnsafeStart();
    }

    /// <summary>The longest any turn took to get (Stopwatch ticks), since open.</summary>
    internal long WorstWaitTicks => Interlocked.Read(ref _worstWaitTicks);

    /// <summary>Turns that had to wait for another process.</summary>
    internal long Waits => Interlocked.Read(ref _waits);

    /// <summary>
    /// Takes the turn, waiting up to <paramref name="timeout"/> behind the other Walden processes. False when the wait
    /// timed out: the caller goes on without it.
    /// </summary>
    internal bool Acquire(TimeSpan timeout)
    {
        if (_held)
        {
            return true;
        }

        var started = Stopwatch.GetTimestamp();
        lock (_gate)
        {
            if (_inFlight)
            {
                _abandoned = false; // a wait given up earlier is still queued: this one takes it over
            }
            else if (_file.TryLock(CoordinationFile.QueueByte))
            {
                if (_file.TryLock(CoordinationFile.TurnByte))
                {
                    _file.Unlock(CoordinationFile.QueueByte);
                    Take(contended: false);
                    return true; // nobody was in the way: no thread hand-off
                }

                StartWait(holdsQueue: true);
            }
            else
            {
                StartWait(holdsQueue: false);
            }
        }

        var granted = _granted.Wait(timeout);
        lock (_gate)
        {
            if (!granted && _inFlight)
            {
                _abandoned = true; // given back as soon as the waiter gets it
                return false;
            }

            _granted.Reset();
        }

        Take(contended: true);
        var waited = Stopwatch.GetTimestamp() - started;
        Interlocked.Increment(ref _waits);
        if (waited > Interlocked.Read(ref _worstWaitTicks))
        {
            Interlocked.Exchange(ref _worstWaitTicks, waited); // only this thread writes it
        }

        return true;
    }

    /// <summary>
    /// Takes the turn only when nobody holds or waits for it, without waiting (for a caller that runs a batch on its own
    /// thread, see GroupCommitWriter.Inline). True when the turn is held now.
    /// </summary>
    internal bool TryAcquireNow()
    {
        if (_held)
        {
            return true;
        }

        lock (_gate)
        {
            if (_inFlight || !_file.TryLock(CoordinationFile.QueueByte))
            {
                return false;
            }

            var taken = _file.TryLock(CoordinationFile.TurnByte);
            _file.Unlock(CoordinationFile.QueueByte);
            if (taken)
            {
                Take(contended: false);
            }

            return taken;
        }
    }

    /// <summary>
    /// After a transaction on the turn: whether the caller may keep the turn for one more transaction rather than give it
    /// back. True only when the turn had to be waited for (other processes are writing: a hand-off is what keeping saves)
    /// and fewer than <see cref="MaxTransactionsPerTurn"/> transactions have run on it. When false, call <see cref="Release"/>.
    /// </summary>
    internal bool TryKeep()
    {
        if (!_held || !_contended || ++_transactions >= MaxTransactionsPerTurn)
        {
            return false;
        }

        return true;
    }

    /// <summary>Gives the turn back (nothing when it is not held).</summary>
    internal void Release()
    {
        if (!_held)
        {
            return;
        }

        _held = false;
        _file.Unlock(CoordinationFile.TurnByte);
    }

    private void Take(bool contended)
    {
        _held = true;
        _contended = contended;
        _transactions = 0;
    }

    private void StartWait(bool holdsQueue)
    {
        _inFlight = true;
        _holdsQueue = holdsQueue;
        _abandoned = false;
        _granted.Reset();
        _request.Release();
    }

    private void WaitLoop()
    {
        while (true)
        {
            _request.Wait();
            bool holdsQueue;
            lock (_gate)
            {
                if (_disposed)
                {
                    return;
                }

                holdsQueue = _holdsQueue;
            }

            var ok = (holdsQueue || _file.LockWaiting(CoordinationFile.QueueByte)) && _file.LockWaiting(CoordinationFile.TurnByte);
            _file.Unlock(CoordinationFile.QueueByte);
            lock (_gate)
            {
                _inFlight = false;
                if (!ok || _abandoned || _disposed)
                {
                    if (ok)
                    {
                        _file.Unlock(CoordinationFile.TurnByte);
                    }

                    _abandoned = false;
                    if (!ok && !_disposed)
                    {
                        _granted.Set(); // the lock file failed: let the writer go on without the turn rather than wait out its timeout
                    }

                    continue;
                }

                _granted.Set();
            }
        }
    }

    /// <summary>Stops the waiter thread once it is not blocked in the kernel (it is a background thread either way).</summary>
    public void Dispose()
    {
        Release();
        lock (_gate)
        {
            _disposed = true;
        }

        _request.Release();
    }
}
