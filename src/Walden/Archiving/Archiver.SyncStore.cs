using System.Diagnostics;

namespace Walden.Archiving;

/// <summary>
/// Sync mode: each batch's store runs on a thread of its own (<c>walden-archive-store</c>), not on the thread pool.
/// <para>
/// Why: the store (seal, encode, the append log's write and fdatasync) must start at once, so that it runs beside the
/// WAL's fsync (Archiver.WalSync.cs) rather than after it. A pool work item waits behind whatever the pool already
/// holds: the acknowledgement continuations of every producer (64 at N=64), and any blocking work an application runs
/// there, so under strace the store started milliseconds after the WAL fsync and almost never overlapped it (figures in
/// the README, "Where a lone producer's CPU went"). Waiting for
/// it was also costly: a pool worker and <see cref="Task.Wait(TimeSpan)"/> spin before they block, and with a lone
/// producer those spins were most of the process's CPU per write. Here both sides block on events (no spinning), and
/// the store thread is woken directly by the writer.
/// </para>
/// <code>
///   writer:  COMMIT (no fsync) ─ ask n ─▶ wake ─▶ fsync WAL ─▶ wait until done ≥ n (or SyncTimeout) ─▶ acknowledge
///   store:                            └─▶ round: target = asked; ShipAll(); done = target ─▶ signal ─▶ wait for an ask
/// </code>
/// A round ships every record taken so far (ShipAll), so one round answers every ask made before it started; an ask made
/// during a round waits for the next one (the round may have sealed its records before they were taken). Only the writer
/// asks, one ask at a time, except after a timeout: that round goes on, and the next ask is answered by the round after it,
/// so nothing is shipped twice or out of order. Guarded by <see cref="_storeGate"/>.
/// </summary>
internal sealed partial class Archiver
{
    private readonly object _storeGate = new();
    private readonly AutoResetEvent _storeFinished = new(initialState: false);
    private long _storeAsked; // under _storeGate: the last round the writer asked for
    private long _storeDone; // under _storeGate: every ask up to this one is answered by _storeResult
    private WaldenArchiveException? _storeResult; // under _storeGate: the outcome of the last round

    /// <summary>Tests: the store thread's managed id (null before open, and in Async mode).</summary>
    internal int? StoreThreadId => _options.Mode == WaldenArchiveMode.Sync ? _shipper?.ManagedThreadId : null;

    /// <summary>
    /// Whether a caller may commit a batch on its own thread now (GroupCommitWriter.Inline). Async: always. Sync: while the
    /// archive is in good standing (no base snapshot due or being copied, no destination failing or slower than
    /// SyncTimeout, no store of an earlier batch still running), so that such a caller blocks about as long as on the
    /// WAL's fsync (the store runs beside it on the store thread) and never for a base copy or a hanging destination.
    /// </summary>
    internal bool InlineCommitAllowed
    {
        get
        {
            if (_options.Mode != WaldenArchiveMode.Sync)
            {
                return true;
            }

            if (_needBase || BaseCopyRunning || _walSyncFault is not null)
            {
                return false;
            }

            lock (_storeGate)
            {
                if (_storeDone != _storeAsked)
                {
                    return false;
                }
            }

            foreach (var destination in _destinations)
            {
                if (destination.FailingSince is not null)
                {
                    return false;
                }
            }

            return true;
        }
    }

    /// <summary>
    /// Sync mode, on the writer thread: has the store thread ship, meanwhile fsyncs the WAL when this archive does that
    /// (<see cref="SyncsWal"/>), and waits up to <paramref name="timeout"/> for the store. A destination that does not
    /// answer in time fails the batch by name; its store goes on in the background (the next batch waits for it), so
    /// nothing acknowledged is missing and nothing is shipped twice or out of order.
    /// </summary>
    private WaldenArchiveException? ShipAllWithin(TimeSpan timeout)
    {
        long ask;
        lock (_storeGate)
        {
            ask = ++_storeAsked;
        }

        _wake.Set();
        var walFailed = SyncsWal ? SyncWal() : null;
        var started = Stopwatch.GetTimestamp();
        while (true)
        {
            lock (_storeGate)
            {
                if (_storeDone >= ask)
                {
                    return walFailed ?? _storeResult;
                }
            }

            var left = timeout - Stopwatch.GetElapsedTime(started);
            if (left <= TimeSpan.Zero || !_storeFinished.WaitOne(left))
            {
                lock (_storeGate)
                {
                    if (_storeDone >= ask)
                    {
                        return walFailed ?? _storeResult;
                    }
                }

                break;
            }
        }

        var target = LastTxid;
        var slow = _destinations.Where(d => d.ShippedTxid < target).Select(d => d.Destination.Name)
            .DefaultIfEmpty(_destinations[0].Destination.Name).ToList();
        foreach (var name in slow)
        {
            _destinations.First(d => d.Destination.Name == name).Slow(_time.GetUtcNow(), timeout);
        }

        return walFailed ?? new WaldenArchiveException(
            $"The archive destination '{string.Join("', '", slow)}' did not store the batch within SyncTimeout " +
            $"({timeout.TotalSeconds:0.###} s). In Sync mode the batch is committed locally but not acknowledged: it is not archived yet. " +
            "The store goes on in the background; " +
            "make the destination faster or reachable, or raise SyncTimeout.",
            isTransient: true, slow[0], null);
    }

    /// <summary>Sync mode: the store thread. Each round ships everything taken so far, for every ask made before it.</summary>
    private void SyncStoreLoop()
    {
        while (true)
        {
            _wake.WaitOne();
            if (_stopping)
            {
                return;
            }

            while (true)
            {
                long target;
                lock (_storeGate)
                {
                    target = _storeAsked;
                    if (target <= _storeDone)
                    {
                        break; // a wake without an ask (Wake from a test), or one already answered
                    }
                }

                WaldenArchiveException? result;
                try
                {
                    result = ShipAll();
                }
#pragma warning disable CA1031 // Must not end the thread: every later batch would wait for SyncTimeout. The batch fails instead.
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    NeedBase($"the archive's store failed: {ex.Message}");
                    result = new WaldenArchiveException(
                        $"The batch was committed to '{_name}' but not archived ({ex.Message}); the writes are not acknowledged.",
                        isTransient: true, destination: null, ex);
                }

                lock (_storeGate)
                {
                    _storeResult = result;
                    _storeDone = target;
                }

                _storeFinished.Set();
            }
        }
    }
}
