using System.Diagnostics;
using System.Runtime.ExceptionServices;
using System.Threading.Channels;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Walden.Checkpointing;
using Walden.Configuration;
using Walden.Diagnostics;
using Walden.Errors;
using Walden.Integrity;

namespace Walden.Writing;

/// <summary>
/// The single writer of a database: one bounded channel in, one thread that owns the only write
/// connection. It takes everything queued (up to <see cref="WaldenOptions.MaxBatchSize"/>), runs it in
/// one BEGIN IMMEDIATE transaction with a SAVEPOINT around each write, and commits once: one fsync
/// per batch. While a commit is in flight the next batch accumulates in the channel; after it, the
/// batch stays open briefly for the writes that commit released (bounded, see Gathering).
/// Contract (Tsavorite's): queued is not durable; success is reported only after the COMMIT returned;
/// a failed COMMIT faults every waiter of that batch, and batches are strictly one after another, so no
/// later success is ever reported ahead of an earlier failure.
/// </summary>
internal sealed partial class GroupCommitWriter
{
    private const string SavepointName = "walden_write";

    private readonly Channel<IWriteRequest> _queue;
    private readonly SqliteConnection _connection;
    private readonly WaldenOptions _options;
    private readonly ILogger _logger;
    private readonly WriterFaults? _faults;
    private readonly HealthSignals _health;
    private readonly DatabaseMetrics _metrics;
    private readonly WriterPause _pause;
    private readonly RepeatedFailureLog _commitFailures;
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Thread _thread;
    private readonly int _threadId;
    private readonly string _name;
    private WaldenException? _fault; // set once, when the loop dies; every later write fails with it
    private readonly WalSyncPipeline? _pipeline; // FullPipelined only: acknowledges after the fsync of the WAL

    // Owned by the role's holder: the writer thread, or a caller running a batch inline (see Inline).
    private readonly List<IWriteRequest> _batch;
    private readonly List<IWriteRequest> _pending;
    private readonly RawStatement _begin;
    private readonly RawStatement _commit;
    private readonly RawStatement _rollback;
    private readonly RawStatement _savepoint;
    private readonly RawStatement _release;
    private readonly RawStatement _rollbackToSavepoint;
    private long _batchNumber;
    private int _committed;
    private int _cancelled;
    private bool _inlineAllowed; // set once at Start: whether callers may run a batch themselves (see Inline)
    private readonly DelegateContext _delegateContext;

    internal GroupCommitWriter(SqliteConnection connection, WaldenOptions options, string name,
        HealthSignals health, DatabaseMetrics metrics, WriterPause pause)
    {
        _health = health;
        _connection = connection;
        _metrics = metrics;
        _pause = pause;
        _options = options;
        _faults = options.Faults;
        _name = name;
        _logger = new InfallibleLogger(options.LoggerFactory.CreateLogger("Walden.Writing"));
        _commitFailures = new RepeatedFailureLog(_logger, options.TimeProvider);
        _queue = Channel.CreateBounded<IWriteRequest>(new BoundedChannelOptions(options.WriteQueueCapacity)
        {
            SingleReader = true,
            SingleWriter = false,
            FullMode = BoundedChannelFullMode.Wait,
            // Completions are posted to the thread pool by each request; the channel need not hop too.
            AllowSynchronousContinuations = true,
        });
        _batch = new List<IWriteRequest>(Math.Min(options.MaxBatchSize, 4096));
        _pending = new List<IWriteRequest>(_batch.Capacity);
        // Stepped directly, not through SqliteCommand: they wait BusyTimeout for the lock and not longer.
        _begin = new RawStatement(connection, "BEGIN IMMEDIATE");
        _commit = new RawStatement(connection, "COMMIT");
        _rollback = new RawStatement(connection, "ROLLBACK");
        _savepoint = new RawStatement(connection, $"SAVEPOINT {SavepointName}");
        _release = new RawStatement(connection, $"RELEASE {SavepointName}");
        _rollbackToSavepoint = new RawStatement(connection, $"ROLLBACK TO {SavepointName}");
        _thread = new Thread(Run) { IsBackground = true, Name = $"walden-writer:{name}" };
        _threadId = _thread.ManagedThreadId;
        _delegateContext = new DelegateContext(this);
        _pipeline = options.Durability == WaldenDurability.FullPipelined ? new WalSyncPipeline(connection, metrics, _logger, _faults, name) : null;
        InstallHooks();
    }

    /// <summary>The archive, when <see cref="WaldenOptions.Archive"/> is on: it decides after each COMMIT whether the batch may be acknowledged.</summary>
    internal Archiving.Archiver? Archive { get; init; }

    /// <summary>Keeps the <c>-wal</c> file allocated ahead of the commits (see <see cref="WalPreallocation"/>); null in the tests that measure without it.</summary>
    internal WalPreallocation? Preallocation { get; init; }

    /// <summary>Writes accepted and not yet taken into a batch.</summary>
    internal int QueueDepth => _queue.Reader.Count;

    /// <summary>Completes when the loop has drained the queue and stopped.</summary>
    internal Task Completion => _stopped.Task;

    internal void Start()
    {
        _inlineAllowed = _faults?.KeepWritesOnWriterThread != true;
        _inlineClock = _faults?.InlineClock ?? TimeProvider.System;
        _pipeline?.Start();
        _thread.UnsafeStart(); // no ExecutionContext flows into the loop (Serilog, Npgsql)
    }

    /// <summary>Why the writer stopped after an unexpected error, or null while it runs (or stopped normally).</summary>
    internal WaldenException? Fault => Volatile.Read(ref _fault);

    /// <summary>Accepts a write, waiting for room when the queue is full; fails at once when the writer has stopped.</summary>
    internal ValueTask EnqueueAsync(IWriteRequest request, CancellationToken cancellationToken)
    {
        if (_queue.Writer.TryWrite(request))
        {
            return default;
        }

        // The queue is full, or completed: by DisposeAsync (the caller reports it closed) or by the loop's death.
        return Fault is { } fault ? ValueTask.FromException(fault) : _queue.Writer.WriteAsync(request, cancellationToken);
    }

    /// <summary>Stops accepting writes; what is queued is still committed.</summary>
    internal void Complete()
    {
        _queue.Writer.TryComplete();
        if ((_thread.ThreadState & System.Threading.ThreadState.Unstarted) != 0)
        {
            _pipeline?.Drain();
            _stopped.TrySetResult(); // an open that failed before the loop started: nothing to drain
        }
    }

    private void Run()
    {
        var reader = _queue.Reader;
        Volatile.Write(ref _loopRunning, true);
        // Tells an async void delegate apart (it calls OperationStarted); everything else behaves as on the thread pool.
        SynchronizationContext.SetSynchronizationContext(_delegateContext);
        try
        {
            while (WaitForWork(reader))
            {
                // A caller running a batch inline holds the role: the writer waits for it (the batch is short), then goes on.
                if (!_role.TryEnter())
                {
                    Interlocked.Increment(ref _roleWaits);
                    _role.Enter();
                }

                try
                {
                    _ownerThreadId = _threadId;
                    RunQueuedBatch(reader);
                }
                finally
                {
                    _ownerThreadId = 0;
                    _roleReleasedAt = _inlineClock.GetTimestamp();
                    _role.Exit();
                }
            }
        }
        catch (Exception ex)
        {
            using (_role.EnterScope())
            {
                Die(ex);
            }
        }
        finally
        {
            using (_role.EnterScope())
            {
                Volatile.Write(ref _loopRunning, false); // under the role: no caller runs a batch from here on
                GiveTurnBack(); // a writer that died holding the turn must not keep the other processes waiting for it
                _pipeline?.Drain(); // every committed write is synced and reported before the writer counts as stopped
            }

            _stopped.TrySetResult();
        }
    }

    /// <summary>Under the role, on the writer thread: runs what is queued as one batch.</summary>
    private void RunQueuedBatch(ChannelReader<IWriteRequest> reader)
    {
        if (_pipeline?.Fault is { } syncFailed)
        {
            throw syncFailed; // nothing may be committed past an fsync that failed
        }

        StartGathering();
        _batch.Clear();
        while (_batch.Count < _options.MaxBatchSize && reader.TryRead(out var request))
        {
            _batch.Add(request);
        }

        if (_batch.Count == 0)
        {
            return; // a caller that held the role took them into its own batch
        }

        // A RESTART or TRUNCATE checkpoint may hold the writer here, between two batches; so may the WAL's hard bound.
        var admitted = _pause.EnterBatch();
        try
        {
            if (admitted)
            {
                RunBatch(_batch);
                _faults?.AfterQueuedBatch?.Invoke();
                NoteProbe(_batch);
            }
            else
            {
                var refused = _pause.WalLimitFailure();
                _health.Observe(refused);
                FailAll(_batch, refused);
            }
        }
        finally
        {
            _pause.ExitBatch();
        }
    }

    /// <summary>
    /// The loop met an error no write's outcome accounts for. Nobody may wait forever: the writer fails what it
    /// holds, what is queued and every later write with one error that names the cause (fail fast, rather than
    /// guess what state the connection is in), and the database reports Unhealthy. Must not throw.
    /// </summary>
    private void Die(Exception cause)
    {
        if (Fault is { } fault)
        {
            // Already dead (a caller's inline batch died first; the loop then finds the queue completed with its error).
            FailAll(_batch, fault);
            return;
        }

        var failure = new WaldenException(
            $"Walden's writer for '{_name}' stopped after an unexpected error ({cause.GetType().Name}: {cause.Message}). " +
            "No write is accepted any more: dispose the database and open it again. See the inner exception for where it failed.", cause);
        Volatile.Write(ref _fault, failure);
        _queue.Writer.TryComplete(failure); // from here on no write can join the queue: what is in it is all there is
        _health.WriterStopped(failure);
        try
        {
            if (_connection.State == System.Data.ConnectionState.Open)
            {
                RollbackIfOpen();
            }
            else
            {
                // The closed handle lives on while its statements do, holding the write lock: let it go. Its final close rolls
                // back and calls the hooks, whose SQLitePCLRaw registrations went with the handle (a NullReferenceException in
                // its bridge crashed the process): they are cleared natively first.
                Native.SqliteNative.CommitHook(_db, IntPtr.Zero, IntPtr.Zero);
                Native.SqliteNative.RollbackHook(_db, IntPtr.Zero, IntPtr.Zero);
                DisposeCommands();
            }
        }
        catch (Exception)
        {
            // The connection is in an unknown state; the failure above already says so.
        }

        FailAll(_batch, failure);
        while (_queue.Reader.TryRead(out var request))
        {
            request.TryStart();
            request.Fail(failure);
        }

        LogMessages.WriterLoopFailed(_logger, _name, cause);
    }

    private bool WaitForWork(ChannelReader<IWriteRequest> reader)
    {
        var started = Stopwatch.GetTimestamp();
        Linger(reader);

        // The loop has a thread of its own (SQLite calls block), so waiting synchronously here is right.
        var wait = reader.WaitToReadAsync();
        var more = wait.IsCompletedSuccessfully ? wait.Result : wait.AsTask().GetAwaiter().GetResult();
        NoteWait(Stopwatch.GetTimestamp() - started);
        return more;
    }

    private void RunBatch(List<IWriteRequest> batch)
    {
        _faults?.BeforeBatch?.Invoke(batch.Count);
        _pending.Clear();
        if (_health.IsCorrupt)
        {
            // Known corrupt: nothing more reaches the file, so it takes no further damage.
            FailAll(batch, _health.RefuseWrite());
            return;
        }

        if (_health.SyncFailure is not null)
        {
            // The disk failed an fsync: no retry on this open database (see HealthSignals.SyncFailure).
            FailAll(batch, _health.RefuseAfterSyncFailure());
            return;
        }

        _committed = 0;
        _cancelled = 0;
        _probeCommittedAlone = false;
        var started = _metrics.Timestamp();
        try
        {
            RunBatchCore(batch);
        }
        finally
        {
            EndTurn(); // however the batch ended; kept for the next batch only after a commit, while its writes come back

            var ended = _metrics.Timestamp();
            _metrics.RecordBatch(batch.Count, _committed, batch.Count - _committed - _cancelled, _cancelled,
                _options.TimeProvider.GetElapsedTime(started, ended).TotalSeconds);
        }
    }

    private void RunBatchCore(List<IWriteRequest> batch)
    {
        try
        {
            if (!Begin(batch, 0))
            {
                return;
            }

            // The batch may grow while it runs: writes returning from the last commit join it (see Gathering).
            for (var i = 0; i < batch.Count || TryGather(_queue.Reader, batch); i++)
            {
                var request = batch[i];
                if (!request.TryStart())
                {
                    _cancelled++;
                    continue; // its caller cancelled it while it was queued
                }

                _savepoint.Execute();
                var error = Execute(request);
                var leftRunning = ResetLeftoverStatements();
                if (TransactionEnded)
                {
                    // The delegate ended Walden's transaction (SQLite rolled it back after an error, or the delegate ran
                    // COMMIT or ROLLBACK): report what SQLite says became of it, then go on in a new transaction.
                    ReportEndedTransaction(request, error);
                    if (_health.IsCorrupt)
                    {
                        FailRest(batch, i + 1, _health.RefuseWrite());
                        return;
                    }

                    if (!Begin(batch, i + 1))
                    {
                        return;
                    }

                    continue;
                }

                if (error is SqliteException corrupt && SqliteErrors.IsCorrupt(corrupt.SqliteErrorCode))
                {
                    ExceptionDispatchInfo.Throw(corrupt); // not this write's own failure: the whole batch is rolled back below
                }

                if (error is null && leftRunning is not null)
                {
                    error = LeftRunning(leftRunning); // a misuse that would otherwise fail its batch and every later one as busy
                }

                if (error is not null)
                {
                    // Only this write is undone and only its caller hears of it; the batch goes on.
                    _rollbackToSavepoint.Execute();
                    _release.Execute();
                    _health.ObserveDelegateFailure(error);
                    request.Fail(SqliteErrors.ForCaller(error, "A write", _options, _connection));
                    continue;
                }

                _release.Execute();
                _pending.Add(request);
            }

            Commit();
        }
        catch (Exception ex) when (ex is not ConnectionClosedByDelegate) // that one stops the writer (Run)
        {
            // A statement of Walden's own (SAVEPOINT, RELEASE, ROLLBACK TO) failed, or SQLite reported corruption:
            // the transaction cannot be trusted. What was already reported stays as reported (FailAll skips it).
            var outcome = _end switch
            {
                TransactionEnd.None => "Not committed: Walden rolled back the transaction.",
                TransactionEnd.RolledBack => "Not committed: SQLite rolled back the transaction.",
                _ => "The writes not yet reported may or may not have been committed: a write delegate ended Walden's transaction.",
            };
            RollbackIfOpen();
            var failure = ex is SqliteException sqlite
                ? SqliteErrors.Translate(sqlite, $"A batch of {batch.Count} writes", _options, _connection, outcome)
                : new WaldenException($"A batch of {batch.Count} writes failed. {outcome}", ex);
            if (SqliteErrors.IsCorrupt(ex))
            {
                _health.ReportCorruption($"A batch of {batch.Count} writes", ex);
            }

            _health.Observe(failure);
            FailAll(batch, failure);
        }
    }

    private bool Begin(List<IWriteRequest> batch, int from)
    {
        _pending.Clear();
        _end = TransactionEnd.None;
        try
        {
            TakeTurn();
            _begin.Execute();
            NoteLockTaken();
            Preallocation?.EnsureRoom(); // with the write lock held: no other writer appends while the file grows
            return true;
        }
        catch (SqliteException ex)
        {
            GiveTurnBack();
            var failure = SqliteErrors.Translate(ex, "Starting the write transaction (BEGIN IMMEDIATE)", _options, _connection);
            if (SqliteErrors.IsCorrupt(ex))
            {
                _health.ReportCorruption("Starting a write transaction", ex);
            }

            _health.Observe(failure);
            FailRest(batch, from, failure);
            return false;
        }
    }

    private void Commit()
    {
        _batchNumber++;
        var started = Stopwatch.GetTimestamp();
        _committing = true;
        try
        {
            _commit.Execute();
        }
        catch (Exception ex)
        {
            _committing = false;
            NoteCommit(0, 0, 0);
            RollbackIfOpen();
            GiveTurnBack();
            // However SQLite failed the COMMIT, part of it may have reached the WAL: never report these writes as not written.
            var outcome = $"These {_pending.Count} writes are not acknowledged: they may or may not be on disk " +
                "(after a failed COMMIT neither SQLite nor Walden can tell). Read them back before writing them again.";
            var operation = $"The COMMIT of a batch of {_pending.Count} writes";
            var failure = ex is SqliteException sqlite
                ? SqliteErrors.Translate(sqlite, operation, _options, _connection, outcome)
                : new WaldenException($"{operation} failed. {outcome}", ex);
            if (SqliteErrors.IsCorrupt(ex))
            {
                _health.ReportCorruption("A COMMIT", ex);
            }

            var count = _pending.Count;
            _commitFailures.Failed(failure, "A COMMIT", (logger, e) => LogMessages.CommitFailed(logger, count, e));
            _health.Observe(failure);
            FailAll(_pending, failure);
            return;
        }

        _committing = false;
        var queuedBehind = _queue.Reader.Count; // queued now: too late for this commit
        _probeCommittedAlone = _pending.Count == 1 && queuedBehind == 0;
        NoteCommit(_pending.Count, queuedBehind, Stopwatch.GetTimestamp() - started);
        KeepOrGiveTurnBack();
        AcknowledgeOnceArchived(_pending);
    }

    private void RollbackIfOpen()
    {
        if (!InTransaction)
        {
            return;
        }

        try
        {
            _rollback.Execute();
        }
        catch (SqliteException ex)
        {
            LogMessages.RollbackFailed(_logger, ex);
        }
    }

    /// <summary>Fails the writes of <paramref name="batch"/> from <paramref name="from"/> on that were not withdrawn.</summary>
    private static void FailRest(List<IWriteRequest> batch, int from, Exception failure)
    {
        for (var i = from; i < batch.Count; i++)
        {
            if (batch[i].TryStart())
            {
                batch[i].Fail(failure);
            }
        }
    }

    private static void FailAll(List<IWriteRequest> requests, Exception failure)
    {
        foreach (var request in requests)
        {
            request.TryStart();
            request.Fail(failure);
        }
    }

    /// <summary>Disposes the prepared commands; the connection itself belongs to the database.</summary>
    internal void DisposeCommands()
    {
        foreach (var statement in new[] { _begin, _commit, _rollback, _savepoint, _release, _rollbackToSavepoint })
        {
            statement.Dispose();
        }
    }
}
