using System.Diagnostics;
using System.Threading.Channels;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using SQLitePCL;
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
    private readonly CorruptionMonitor _health;
    private readonly DatabaseMetrics _metrics;
    private readonly HealthSignals _signals;
    private readonly WriterPause _pause;
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Thread _thread;

    // Owned by the writer thread only.
    private readonly List<IWriteRequest> _batch;
    private readonly List<IWriteRequest> _pending;
    private readonly SqliteCommand _begin;
    private readonly SqliteCommand _commit;
    private readonly SqliteCommand _rollback;
    private readonly RawStatement _savepoint;
    private readonly RawStatement _release;
    private readonly RawStatement _rollbackToSavepoint;
    private long _batchNumber;
    private int _committed;
    private int _cancelled;
    private delegate_commit? _commitHook;

    internal GroupCommitWriter(SqliteConnection connection, WaldenOptions options, string name,
        CorruptionMonitor health, DatabaseMetrics metrics, HealthSignals signals, WriterPause pause)
    {
        _health = health;
        _connection = connection;
        _metrics = metrics;
        _signals = signals;
        _pause = pause;
        _options = options;
        _faults = options.Faults;
        _logger = options.LoggerFactory.CreateLogger("Walden.Writing");
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
        _begin = Prepare("BEGIN IMMEDIATE");
        _commit = Prepare("COMMIT");
        _rollback = Prepare("ROLLBACK");
        _savepoint = new RawStatement(connection, $"SAVEPOINT {SavepointName}");
        _release = new RawStatement(connection, $"RELEASE {SavepointName}");
        _rollbackToSavepoint = new RawStatement(connection, $"ROLLBACK TO {SavepointName}");
        InstallFaults();
        _thread = new Thread(Run) { IsBackground = true, Name = $"walden-writer:{name}" };
    }

    /// <summary>Writes accepted and not yet taken into a batch.</summary>
    internal int QueueDepth => _queue.Reader.Count;

    /// <summary>Completes when the loop has drained the queue and stopped.</summary>
    internal Task Completion => _stopped.Task;

    internal void Start() => _thread.UnsafeStart(); // no ExecutionContext flows into the loop (Serilog, Npgsql)

    /// <summary>Accepts a write, waiting for room when the queue is full.</summary>
    internal ValueTask EnqueueAsync(IWriteRequest request, CancellationToken cancellationToken)
    {
        if (_queue.Writer.TryWrite(request))
        {
            return default;
        }

        return _queue.Writer.WriteAsync(request, cancellationToken);
    }

    /// <summary>Stops accepting writes; what is queued is still committed.</summary>
    internal void Complete() => _queue.Writer.TryComplete();

    private void Run()
    {
        var reader = _queue.Reader;
        try
        {
            while (WaitForWork(reader))
            {
                StartGathering();
                _batch.Clear();
                while (_batch.Count < _options.MaxBatchSize && reader.TryRead(out var request))
                {
                    _batch.Add(request);
                }

                if (_batch.Count > 0)
                {
                    // A RESTART or TRUNCATE checkpoint may hold the writer here, between two batches; so may the WAL's hard bound.
                    var admitted = _pause.EnterBatch();
                    try
                    {
                        if (admitted)
                        {
                            RunBatch(_batch);
                        }
                        else
                        {
                            var refused = _pause.WalLimitFailure();
                            _signals.Observe(refused);
                            FailAll(_batch, refused);
                        }
                    }
                    finally
                    {
                        _pause.ExitBatch();
                    }
                }
            }
        }
        catch (Exception ex)
        {
            // Nothing above should throw; if it does, no waiter may hang: fail everything left.
            LogMessages.WriterLoopFailed(_logger, ex);
            var failure = new WaldenException("Walden's writer stopped after an unexpected error; see the inner exception.", ex);
            FailAll(_batch, failure);
            while (reader.TryRead(out var request))
            {
                request.Fail(failure);
            }
        }
        finally
        {
            _stopped.TrySetResult();
        }
    }

    private static bool WaitForWork(ChannelReader<IWriteRequest> reader)
    {
        Linger(reader);

        // The loop has a thread of its own (SQLite calls block), so waiting synchronously here is right.
        var wait = reader.WaitToReadAsync();
        return wait.IsCompletedSuccessfully ? wait.Result : wait.AsTask().GetAwaiter().GetResult();
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

        _committed = 0;
        _cancelled = 0;
        var started = _metrics.Timestamp();
        try
        {
            RunBatchCore(batch);
        }
        finally
        {
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
                try
                {
                    request.Execute(_connection);
                }
                catch (SqliteException ex) when (SqliteErrors.IsCorrupt(ex.SqliteErrorCode))
                {
                    throw; // corruption is not this write's own failure: the whole batch is rolled back below
                }
                catch (Exception ex) when (InTransaction)
                {
                    // Only this write is undone and only its caller hears of it; the batch goes on.
                    _rollbackToSavepoint.Execute();
                    _release.Execute();
                    _signals.ObserveDelegateFailure(ex);
                    request.Fail(ex);
                    continue;
                }
                catch (Exception ex)
                {
                    _signals.ObserveDelegateFailure(ex);
                    request.Fail(ex);
                }

                if (!InTransaction)
                {
                    // The delegate ran COMMIT or ROLLBACK itself: nothing earlier in this transaction can be vouched for.
                    var misuse = new WaldenException(
                        "A write delegate ended Walden's transaction (it ran COMMIT, ROLLBACK or END, or BeginTransaction().Commit()). " +
                        "Walden owns the transaction around each write; remove those statements. " +
                        "The writes batched before it in the same transaction may or may not have been committed.");
                    request.Fail(misuse);
                    FailAll(_pending, misuse);
                    _pending.Clear();
                    if (!Begin(batch, i + 1))
                    {
                        return;
                    }

                    continue;
                }

                _release.Execute();
                _pending.Add(request);
            }

            Commit();
        }
        catch (Exception ex)
        {
            // A statement of Walden's own (SAVEPOINT, RELEASE, ROLLBACK TO) failed: the transaction cannot be trusted.
            RollbackIfOpen();
            var failure = ex is SqliteException sqlite
                ? SqliteErrors.Translate(sqlite, $"A batch of {batch.Count} writes", _options)
                : new WaldenException($"A batch of {batch.Count} writes failed; nothing of it was committed.", ex);
            if (SqliteErrors.IsCorrupt(ex))
            {
                _health.Report($"A batch of {batch.Count} writes", ex);
            }

            _signals.Observe(failure);
            FailAll(batch, failure);
        }
    }

    private bool Begin(List<IWriteRequest> batch, int from)
    {
        try
        {
            _begin.ExecuteNonQuery();
            return true;
        }
        catch (SqliteException ex)
        {
            var failure = SqliteErrors.Translate(ex, "Starting the write transaction (BEGIN IMMEDIATE)", _options);
            if (SqliteErrors.IsCorrupt(ex))
            {
                _health.Report("Starting a write transaction", ex);
            }

            _signals.Observe(failure);
            for (var i = from; i < batch.Count; i++)
            {
                if (batch[i].TryStart())
                {
                    batch[i].Fail(failure);
                }
            }

            return false;
        }
    }

    private void Commit()
    {
        _batchNumber++;
        var started = Stopwatch.GetTimestamp();
        try
        {
            _commit.ExecuteNonQuery();
            NoteCommit(_pending.Count, Stopwatch.GetTimestamp() - started);
        }
        catch (SqliteException ex)
        {
            NoteCommit(0, 0);
            RollbackIfOpen();
            var failure = SqliteErrors.Translate(ex, $"Committing a batch of {_pending.Count} writes", _options);
            if (SqliteErrors.IsCorrupt(ex))
            {
                _health.Report("A COMMIT", ex);
            }

            LogMessages.CommitFailed(_logger, _pending.Count, ex);
            _signals.Observe(failure);
            FailAll(_pending, failure);
            return;
        }

        if (_pending.Count > 0)
        {
            _signals.CommitSucceeded(); // something was written: the disk had room and the file was writable
        }

        var now = _metrics.Timestamp();
        foreach (var request in _pending)
        {
            request.Succeed();
            _metrics.RecordAck(request.AcceptedAt, now);
        }

        _committed = _pending.Count;
    }

    private bool InTransaction => raw.sqlite3_get_autocommit(_connection.Handle) == 0;

    private void RollbackIfOpen()
    {
        if (!InTransaction)
        {
            return;
        }

        try
        {
            _rollback.ExecuteNonQuery();
        }
        catch (SqliteException ex)
        {
            LogMessages.RollbackFailed(_logger, ex);
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

    private SqliteCommand Prepare(string sql)
    {
        var command = _connection.CreateCommand();
        command.CommandText = sql;
        command.Prepare();
        return command;
    }

    private void InstallFaults()
    {
        if (_faults?.FailCommit is not { } failCommit)
        {
            return;
        }

        // Keep the delegate referenced for as long as the connection lives.
        _commitHook = _ => failCommit(_batchNumber) ? 1 : 0;
        raw.sqlite3_commit_hook(_connection.Handle, _commitHook, null);
    }

    /// <summary>Disposes the prepared commands; the connection itself belongs to the database.</summary>
    internal void DisposeCommands()
    {
        foreach (var command in new[] { _begin, _commit, _rollback })
        {
            command.Dispose();
        }

        foreach (var statement in new[] { _savepoint, _release, _rollbackToSavepoint })
        {
            statement.Dispose();
        }
    }
}
