using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Walden.Diagnostics;
using Walden.Native;

namespace Walden.Writing;

/// <summary>
/// The fsync half of <see cref="WaldenDurability.FullPipelined"/>. The writer commits with synchronous NORMAL (the
/// COMMIT writes the WAL frames and returns without an fsync) and hands the committed writes here, in commit order,
/// while it already runs the next batch. A few sync threads fsync the WAL: a sync that starts covers every write
/// submitted before it started (an fsync flushes every frame written to the file before it began, whatever thread
/// wrote it), so when it returns, every write up to that point is acknowledged, in commit order. Syncs may overlap:
/// the newest commit need not wait for an older fsync to finish before its own starts; with producers that each
/// await their write, that is what shortens a write's path to the slow fsync's duration plus its own commit.
/// Contract: a write is acknowledged only after an fsync that covers it; an fsync that fails faults every write not
/// yet acknowledged and every later one, and stops the writer: after a failed fsync nobody can say what reached the
/// disk (the kernel may already have dropped the dirty pages), so nothing later may be reported durable, even by a
/// sync that started later and returned first: results are taken in the order the syncs started (an fsync that
/// returns success while an earlier one is about to report a write-back error may not have seen the error, since
/// Linux reports one to a single caller). A checkpoint that copies a not-yet-synced frame into the database
/// is safe: SQLite fsyncs the WAL before it copies.
/// Ownership: <see cref="Submit"/> is called by the writer thread only; the queue, the counters, the fault and the stop
/// flag are guarded by <see cref="_gate"/>; a sync thread reports the writes it took off the queue.
/// </summary>
internal sealed unsafe class WalSyncPipeline
{
    /// <summary>Fsyncs in flight at most. More only adds threads parked in the kernel; fewer makes a commit wait for a free one.</summary>
    internal const int SyncThreads = 4;

    private readonly object _gate = new();
    private readonly object _metricsGate = new();
    private readonly SqliteConnection _connection;
    private readonly DatabaseMetrics _metrics;
    private readonly ILogger _logger;
    private readonly WriterFaults? _faults;
    private readonly string _name;
    private readonly Thread[] _threads;
    private readonly Queue<IWriteRequest> _unacknowledged = new(1024); // committed, in commit order
    private long _submitted;     // writes ever submitted
    private long _acknowledged;  // writes ever taken off the queue (acknowledged or failed)
    private long _covered;       // writes covered by the newest sync started
    private long _nextTicket;    // syncs ever started
    private long _nextToReport;  // the oldest sync whose result is not yet taken
    private readonly Dictionary<long, (long Cover, Exception? Failure)> _finished = new(); // results waiting for an older sync
    private bool _stopping;
    private Exception? _fault;
    private IntPtr _walFile;     // the writer connection's sqlite3_file of the WAL; valid while that connection is open in WAL mode
    private delegate* unmanaged[Cdecl]<IntPtr, int, int> _sync;

    internal WalSyncPipeline(SqliteConnection connection, DatabaseMetrics metrics, ILogger logger, WriterFaults? faults, string name)
    {
        _connection = connection;
        _metrics = metrics;
        _logger = logger;
        _faults = faults;
        _name = name;
        _threads = new Thread[SyncThreads];
        for (var i = 0; i < _threads.Length; i++)
        {
            _threads[i] = new Thread(Run) { IsBackground = true, Name = $"walden-walsync:{name}" };
        }
    }

    /// <summary>Why the pipeline stopped acknowledging, or null while every fsync succeeded.</summary>
    internal Exception? Fault
    {
        get
        {
            lock (_gate)
            {
                return _fault;
            }
        }
    }

    /// <summary>Starts the sync threads; called before the writer's loop, on the thread that opened the writer connection.</summary>
    internal void Start()
    {
        TryBindWalFile(); // the open read the file in WAL mode, so the WAL is open; if not, the first commit binds it
        foreach (var thread in _threads)
        {
            thread.UnsafeStart();
        }
    }

    /// <summary>Takes the writes a COMMIT that just returned made part of the database; they are acknowledged after an fsync.</summary>
    internal void Submit(List<IWriteRequest> committed)
    {
        if (committed.Count == 0)
        {
            return;
        }

        if (_walFile == IntPtr.Zero && !TryBindWalFile())
        {
            // Committed, but there is no way to sync them: never reported durable, and nothing later either.
            Fail(committed, new WaldenException($"Walden could not reach the WAL file of '{_name}' to sync it. These " +
                $"{committed.Count} writes were committed but may not be on disk; they are not acknowledged. Use WaldenDurability.Full."));
            return;
        }

        Exception? fault;
        lock (_gate)
        {
            fault = _fault;
            if (fault is null)
            {
                foreach (var request in committed)
                {
                    _unacknowledged.Enqueue(request);
                }

                _submitted += committed.Count;
                Monitor.Pulse(_gate); // one idle sync thread is enough: it covers everything submitted so far
                return;
            }
        }

        foreach (var request in committed)
        {
            request.Fail(fault);
        }
    }

    /// <summary>Waits until every submitted write has been acknowledged (or failed), then stops the sync threads.</summary>
    internal void Drain()
    {
        lock (_gate)
        {
            _stopping = true;
            Monitor.PulseAll(_gate);
        }

        foreach (var thread in _threads)
        {
            if ((thread.ThreadState & ThreadState.Unstarted) == 0)
            {
                thread.Join();
            }
        }
    }

    /// <summary>Finds the writer connection's WAL file (called by the thread that owns the connection at that moment).</summary>
    private bool TryBindWalFile()
    {
        var file = SqliteNative.WalFileOf(_connection.Handle!.DangerousGetHandle(), out _);
        if (file == IntPtr.Zero)
        {
            return false;
        }

        _sync = SqliteNative.SyncMethodOf(file);
        _walFile = file;
        return true;
    }

    private void Run()
    {
        var reported = new List<IWriteRequest>(256);
        while (true)
        {
            long cover;
            long ticket;
            lock (_gate)
            {
                while (_covered == _submitted && !(_stopping && _acknowledged == _submitted) && _fault is null)
                {
                    Monitor.Wait(_gate);
                }

                if (_fault is not null || _covered == _submitted)
                {
                    Monitor.PulseAll(_gate); // stopping (or failed) and nothing left to cover: let the other threads see it too
                    return;
                }

                cover = _covered = _submitted;
                ticket = _nextTicket++;
            }

            var result = SyncOnce();
            Exception? failure;
            lock (_gate)
            {
                _finished.Add(ticket, (cover, result));
                // Results count in the order the syncs started; a later one that returned first waits for the older ones.
                while (_finished.Remove(_nextToReport, out var older))
                {
                    _nextToReport++;
                    _fault ??= older.Failure;
                    var until = _fault is null ? older.Cover : _submitted;
                    while (_acknowledged < until)
                    {
                        reported.Add(_unacknowledged.Dequeue());
                        _acknowledged++;
                    }
                }

                failure = _fault;
                Monitor.PulseAll(_gate); // a stopping or failed pipeline lets its other threads go
            }

            Report(reported, failure);
            reported.Clear();
        }
    }

    /// <summary>One fsync of the WAL; null when it succeeded. Must not throw.</summary>
    private Exception? SyncOnce()
    {
        try
        {
            var rc = _faults?.WalSyncResult?.Invoke() ?? _sync(_walFile, SqliteNative.SyncNormal);
            return rc == 0 ? null : new WaldenException(
                $"The fsync of the WAL of '{_name}' failed (SQLite result code {rc}). The writes it covered were committed but " +
                "may not be on disk; they are not acknowledged. The writer stopped: dispose the database, check the disk, open it again.");
        }
        catch (Exception ex)
        {
            return new WaldenException($"The fsync of the WAL of '{_name}' failed: {ex.Message}", ex);
        }
    }

    /// <summary>Reports the outcome of writes taken off the queue. Must not throw.</summary>
    private void Report(List<IWriteRequest> writes, Exception? failure)
    {
        if (failure is not null)
        {
            foreach (var request in writes)
            {
                request.Fail(failure);
            }

            return;
        }

        // From here on nothing may fail the writes: they are durable.
        foreach (var request in writes)
        {
            request.Succeed();
        }

        lock (_metricsGate) // the metrics' latency ring has one writer at a time
        {
            var now = _metrics.Timestamp();
            foreach (var request in writes)
            {
                _metrics.RecordAck(request.AcceptedAt, now); // guarded itself
            }
        }
    }

    private void Fail(List<IWriteRequest> writes, Exception failure)
    {
        lock (_gate)
        {
            _fault ??= failure;
            Monitor.PulseAll(_gate);
        }

        foreach (var request in writes)
        {
            request.Fail(failure);
        }
    }
}
