using Microsoft.Data.Sqlite;
using SQLitePCL;
using Walden.Diagnostics;
using Walden.Errors;

namespace Walden.Writing;

/// <summary>
/// How the writer knows what became of each write. SQLite's commit and rollback hooks tell it when a transaction
/// ends, and <c>sqlite3_get_autocommit</c> whether one is open, so a transaction that ended inside a batch (SQLite
/// rolled it back after SQLITE_FULL, SQLITE_IOERR or SQLITE_NOMEM; a delegate ran COMMIT or ROLLBACK) is reported as
/// it ended: committed writes as successful, rolled-back ones as not committed, and only a COMMIT that failed
/// part-way as "may or may not". The hooks also catch a commit that is not Walden's: a connection kept by a
/// delegate and used after it returned.
/// </summary>
internal sealed partial class GroupCommitWriter
{
    /// <summary>The first end of Walden's current transaction the hooks saw since its BEGIN.</summary>
    private enum TransactionEnd
    {
        None,
        Committed,
        RolledBack,
        CommitFailed, // a commit started, then a rollback: the COMMIT failed (or a later statement was rolled back)
    }

    // Written by the hooks, which SQLite calls on the thread that runs the statement; read by the role's holder.
    private TransactionEnd _end;
    // Owned by the role's holder (the writer thread, or a caller running a batch inline): what it is doing now, for the hooks to tell Walden's commit from a delegate's or a stranger's.
    private bool _committing;
    private bool _inDelegate;
    private bool _loopRunning;
    private bool _asyncVoidStarted;
    // Set by the hooks while a delegate runs (see OnCommit, OnRollback); cleared when the next delegate starts.
    private bool _vetoing;            // a commit is being refused: the rollback that follows is not Walden's transaction's
    private bool _refusedAfterEnd;    // the delegate wrote after Walden's transaction ended, and its commit was refused
    private string? _rollbackStatement; // the statement that made SQLite roll back Walden's transaction, when no ROLLBACK did
    // The hook delegates, referenced for as long as the connection lives.
    private delegate_commit? _commitHook;
    private delegate_rollback? _rollbackHook;

    /// <summary>Whether Walden's transaction has ended since its BEGIN, whatever ended it.</summary>
    private bool TransactionEnded => _end != TransactionEnd.None || !InTransaction;

    private bool InTransaction => raw.sqlite3_get_autocommit(_connection.Handle) == 0;

    /// <summary>
    /// The writer's native connection: still valid after a delegate closed the connection, as a "zombie" that SQLite closes
    /// for good (rolling back its transaction, calling the rollback hook) when its last statement is finalized.
    /// </summary>
    private IntPtr _db;

    private void InstallHooks()
    {
        _db = _connection.Handle!.DangerousGetHandle();
        _commitHook = OnCommit;
        _rollbackHook = OnRollback;
        raw.sqlite3_commit_hook(_connection.Handle, _commitHook, null);
        raw.sqlite3_rollback_hook(_connection.Handle, _rollbackHook, null);
        InstallAuthorizer();
    }

    /// <summary>Runs one delegate; returns what it threw, or null.</summary>
    private Exception? Execute(IWriteRequest request)
    {
        _asyncVoidStarted = false;
        _vetoing = false;
        _refusedAfterEnd = false;
        _rollbackStatement = null;
        _refusedPragma = null;
        _inDelegate = true;
        var scope = WriterScope.Value; // not null when a delegate of another database wrote here inline
        WriterScope.Value = this; // flows into anything the delegate starts: a WriteAsync from there is refused (see Misuse)
        try
        {
            request.Execute(_connection);
            ThrowIfConnectionClosed();
            return _refusedPragma is { } pragma ? SettingRefused(pragma, null) : _asyncVoidStarted ? AsyncVoidMisuse() : null;
        }
        catch (Exception ex) when (ex is not ConnectionClosedByDelegate)
        {
            ThrowIfConnectionClosed();
            return _refusedPragma is { } pragma ? SettingRefused(pragma, ex) : ex;
        }
        finally
        {
            WriterScope.Value = scope;
            _inDelegate = false;
        }
    }

    /// <summary>
    /// A delegate closed (or disposed) the connection it was given: Walden's transaction, hooks and statements went with it.
    /// The writer cannot go on on that connection: it stops with this error (see <see cref="Die"/>), which every write it
    /// held and every later one fails with, and DisposeAsync skips its close steps.
    /// </summary>
    private void ThrowIfConnectionClosed()
    {
        if (_connection.State != System.Data.ConnectionState.Open)
        {
            throw new ConnectionClosedByDelegate();
        }
    }

    private sealed class ConnectionClosedByDelegate() : WaldenException(
        "A write delegate closed the connection Walden gave it (Close(), Dispose(), or a 'using' around it). That connection " +
        "is Walden's writer: its transaction was rolled back (none of the writes of that batch were committed), and the " +
        "writer cannot go on without it. Never close or dispose the connection passed to a write delegate; dispose the " +
        "database and open it again.");

    /// <summary>
    /// Walden's transaction ended while <paramref name="request"/> ran. Reports the writes of that transaction as SQLite
    /// ended it, and <paramref name="request"/> as failed with the reason. The connection is left outside any transaction.
    /// </summary>
    private void ReportEndedTransaction(IWriteRequest request, Exception? error)
    {
        var end = _end;
        var sqlite = error as SqliteException;
        var leftOpen = InTransaction; // the delegate began a transaction of its own after ending Walden's
        RollbackIfOpen();
        var extra = leftOpen ? " The transaction the delegate left open was rolled back." : "";
        var rolledBackBySqlite = end == TransactionEnd.RolledBack && sqlite is not null &&
            SqliteErrors.MayEndTransaction(sqlite.SqliteErrorCode);
        if (rolledBackBySqlite)
        {
            // SQLite's answer to SQLITE_FULL, SQLITE_IOERR, SQLITE_NOMEM (...): the whole transaction is gone,
            // every write in it failed alike.
            var failure = SqliteErrors.Translate(sqlite!, $"A write in a batch of {_pending.Count + 1}", _options, _connection,
                $"Not committed: SQLite rolled back the whole transaction ({_pending.Count + 1} writes of this batch, " +
                $"this one among them).{extra}");
            _health.Observe(failure);
            request.Fail(failure);
            FailAll(_pending, failure);
            return;
        }

        if (end == TransactionEnd.RolledBack && _rollbackStatement is { } statement)
        {
            ReportRolledBackByStatement(request, error, statement, extra);
            return;
        }

        const string Ended = "A write delegate ended Walden's transaction (it ran COMMIT, ROLLBACK or END, or " +
            "BeginTransaction().Commit()). Walden owns the transaction around each write; remove those statements " +
            "and let WriteAsync commit. ";
        switch (end)
        {
            case TransactionEnd.Committed:
                // Committed by the delegate's COMMIT: reported successful, as they are, once a Sync archive has them too.
                AcknowledgeOnceArchived(_pending);

                request.Fail(new WaldenException(Ended +
                    $"Its COMMIT committed what it had changed until then, and the {_pending.Count} writes before it " +
                    "(reported successful); " + (_refusedAfterEnd
                        ? "what it wrote after that ran outside Walden's transaction and was refused: none of it was committed."
                        : "nothing it wrote after that can be committed outside Walden's transaction.") + extra, error));
                break;
            case TransactionEnd.RolledBack:
                var undone = new WaldenException(
                    "Not committed: a write delegate in the same batch rolled back Walden's transaction, and this write with it. " +
                    "It can be written again.",
                    isTransient: true);
                FailAll(_pending, undone);
                request.Fail(new WaldenException(Ended +
                    $"Its ROLLBACK undid what it had changed and the {_pending.Count} writes before it (they fail as not committed)." +
                    extra, error));
                break;
            default:
                // A commit started, then a rollback followed (the COMMIT failed part-way), or the hooks saw nothing at all.
                var unknown = new WaldenException(
                    "Not acknowledged: a write delegate in the same batch ended Walden's transaction and its COMMIT failed; " +
                    "this write may or may not be on disk. Read it back before writing it again.", error);
                FailAll(_pending, unknown);
                request.Fail(new WaldenException(Ended +
                    $"Its COMMIT failed: what it changed and the {_pending.Count} writes before it may or may not be on disk." +
                    extra, error));
                break;
        }

        _pending.Clear();
    }

    /// <summary>
    /// SQLite rolled back Walden's whole transaction in the middle of <paramref name="statement"/>, a statement of the delegate
    /// that is not ROLLBACK: a constraint declared ON CONFLICT ROLLBACK, a trigger's RAISE(ROLLBACK), INSERT or UPDATE OR
    /// ROLLBACK. The writes before it in the batch did nothing wrong: they fail as not committed and transient (the writer
    /// cannot run their delegates twice); the delegate fails with the statement named. Whatever it wrote after the rollback
    /// ran in autocommit mode and its commit was refused by <see cref="OnCommit"/>.
    /// </summary>
    private void ReportRolledBackByStatement(IWriteRequest request, Exception? error, string statement, string extra)
    {
        FailAll(_pending, new WaldenException(
            "Not committed: another write of the same batch ran a statement that made SQLite roll back the whole transaction " +
            "(a constraint declared ON CONFLICT ROLLBACK, a trigger's RAISE(ROLLBACK, ...), or INSERT/UPDATE OR ROLLBACK), and this " +
            "write with it. Nothing of this write is in the file: it can be written again.",
            isTransient: true));
        var refused = _refusedAfterEnd
            ? " What the delegate wrote after that ran outside Walden's transaction and was refused: none of it was committed."
            : "";
        request.Fail(new WaldenException(
            $"Not committed: the statement '{Shorten(statement)}' of this write made SQLite roll back Walden's whole transaction, " +
            "as SQLite does for a constraint declared ON CONFLICT ROLLBACK, a trigger's RAISE(ROLLBACK, ...), INSERT OR ROLLBACK " +
            "or UPDATE OR ROLLBACK (and for a few errors: disk full, I/O error, out of memory). It undid this write and the " +
            $"{_pending.Count} writes before it in the batch (they fail as not committed and may be written again).{refused}{extra} " +
            "To undo only the failing statement, use ON CONFLICT ABORT (SQLite's default), RAISE(ABORT, ...) or INSERT OR ABORT.",
            error));
        _pending.Clear();
    }

    private static string Shorten(string sql)
    {
        var text = sql.Trim();
        return text.Length <= 200 ? text : text[..200] + "...";
    }

    /// <summary>
    /// A committed batch: acknowledged, unless a Sync archive could not take it (committed here, not in every destination),
    /// then failed with why. A failed fsync of the WAL on that path (Sync with Full) stops writes as a COMMIT's would.
    /// </summary>
    private void AcknowledgeOnceArchived(List<IWriteRequest> committed)
    {
        if (Archive?.AfterCommit(_connection) is { } unarchived)
        {
            _health.Observe(unarchived);
            FailAll(committed, unarchived);
            return;
        }

        Acknowledge(committed);
    }

    /// <summary>
    /// Reports <paramref name="committed"/> successful: their COMMIT returned OK. From here on the code is expected to be
    /// infallible (Serilog's BatchingSink says the same of the last section of its loop): nothing may turn a committed write
    /// into a reported failure. Completing a waiter cannot throw (continuations run asynchronously); what runs the
    /// application's code (metric listeners, the clock, loggers) is guarded and at worst logged.
    /// </summary>
    private void Acknowledge(List<IWriteRequest> committed)
    {
        _metrics.CountWritesCommitted(committed.Count); // counted before acknowledged: a caller's stats read sees its write
        if (_pipeline is not null)
        {
            _pipeline.Submit(committed); // acknowledged by the sync thread once an fsync covers them
            _committed += committed.Count;
            if (committed.Count > 0)
            {
                _health.CommitSucceeded();
                _commitFailures.Succeeded();
            }

            return;
        }

        foreach (var request in committed)
        {
            if (!DeferredAsProbe(request, committed.Count))
            {
                request.Succeed();
            }
        }

        _committed += committed.Count;
        if (committed.Count == 0)
        {
            return;
        }

        _health.CommitSucceeded(); // something was written: the disk had room and the file was writable
        _commitFailures.Succeeded();
        try
        {
            var now = _metrics.Timestamp();
            foreach (var request in committed)
            {
                _metrics.RecordAck(request.AcceptedAt, now); // guarded itself: a listener's exception stops here
            }
        }
        catch (Exception ex)
        {
            LogMessages.MeasurementListenerFailed(_logger, WaldenInstruments.AckLatency.Name, _name, ex);
        }
    }

    /// <summary>
    /// SQLite's commit hook: Walden's own COMMIT goes through (unless a test's fault says otherwise); a delegate's COMMIT
    /// goes through and is reported by the writer; any other commit on this connection while the writer runs is a
    /// statement outside Walden's transaction (a connection kept after its delegate returned): refused, so SQLite rolls
    /// it back, and logged. Must not throw: an exception cannot cross back into SQLite's C code.
    /// </summary>
    private int OnCommit(object? state)
    {
        try
        {
            var onWriter = IsOwner; // the writer thread, or a caller running a batch inline
            if (onWriter && _committing)
            {
                return _faults?.FailCommit?.Invoke(_batchNumber) == true ? 1 : 0;
            }

            if (onWriter && _inDelegate)
            {
                if (_end == TransactionEnd.None)
                {
                    _end = TransactionEnd.Committed; // the delegate's COMMIT of Walden's transaction: reported as it is
                    return 0;
                }

                // Walden's transaction already ended (the delegate's COMMIT or ROLLBACK, or SQLite rolled it back on an
                // ON CONFLICT ROLLBACK): what the delegate writes now would be committed in autocommit mode, behind the
                // back of a write that is reported failed. Refused: SQLite rolls it back and the statement fails.
                _refusedAfterEnd = true;
                _vetoing = true;
                return 1;
            }

            if (!Volatile.Read(ref _loopRunning))
            {
                return 0; // before the writer starts or after it stopped: the database's own opening and closing statements
            }

            LogMessages.ForeignCommitRefused(_logger, _name, Environment.CurrentManagedThreadId);
            return 1;
        }
        catch (Exception)
        {
            return 0;
        }
    }

    /// <summary>
    /// SQLite's rollback hook: records that the transaction was rolled back (ROLLBACK TO a savepoint does not call it), and,
    /// while a delegate runs, which statement did it when it was not a ROLLBACK. Must not throw.
    /// </summary>
    private void OnRollback(object? state)
    {
        if (_vetoing)
        {
            _vetoing = false; // the rollback of a commit OnCommit refused: Walden's transaction had ended before
            return;
        }

        if (_end == TransactionEnd.None && _inDelegate && IsOwner)
        {
            _rollbackStatement = StatementRollingBack();
        }

        _end = _end switch
        {
            TransactionEnd.None => TransactionEnd.RolledBack,
            TransactionEnd.Committed => TransactionEnd.CommitFailed,
            _ => _end,
        };
    }
}
