using System.Threading.Channels;
using Microsoft.Data.Sqlite;
using Walden.Writing;

namespace Walden;

public sealed partial class WaldenDatabase
{
    /// <summary>
    /// Runs <paramref name="write"/> on the single writer connection, inside the current group-commit
    /// transaction (with a savepoint of its own), and completes only after that transaction committed:
    /// the write is then durable to <see cref="WaldenOptions.Durability"/>. If the delegate throws, only
    /// its own changes are rolled back and only this call fails with that exception. The delegate must
    /// not begin, commit or roll back transactions. Use plain commands or Dapper on the connection;
    /// <see cref="WaldenCommandExtensions.GetCachedCommand"/> keeps hot statements prepared.
    /// </summary>
    /// <param name="write">
    /// The work to do; keep it short and synchronous. It runs on Walden's writer thread or, when the writer is idle and the
    /// calling thread has no synchronization context, on the calling thread, which then also commits: the returned task is
    /// then already complete.
    /// </param>
    /// <param name="cancellationToken">Withdraws the write while it is still queued; once the writer has taken it, its outcome is reported.</param>
    /// <returns>What <paramref name="write"/> returned, once committed.</returns>
    /// <exception cref="WaldenClosedException">The database has been disposed.</exception>
    /// <exception cref="WaldenBusyException">Another process held the write lock longer than <see cref="WaldenOptions.BusyTimeout"/>.</exception>
    /// <exception cref="WaldenCorruptException">The database is corrupt (found now or earlier); no write is accepted any more.</exception>
    /// <exception cref="WaldenException">
    /// The write failed for a reason SQLite or Walden reports; its message says whether it was committed, not committed, or
    /// (after a failed COMMIT) not acknowledged and possibly on disk. Also when Walden's writer stopped after an unexpected error.
    /// </exception>
    /// <exception cref="ArgumentException"><paramref name="write"/> returns a task: write delegates must be synchronous.</exception>
    /// <exception cref="InvalidOperationException">Called from inside a write delegate of this database (it would wait forever).
    /// </exception>
    public Task<T> WriteAsync<T>(Func<SqliteConnection, T> write, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(write);
        RefuseAsyncDelegate<T>(nameof(write));
        _writer?.ThrowIfInsideWrite();
        if (Volatile.Read(ref _disposed) != 0)
        {
            return Task.FromException<T>(Closed());
        }

        if (_writer is null)
        {
            return Task.FromException<T>(ReadOnlyRefusal("WriteAsync"));
        }

        if (_writer.Fault is { } fault)
        {
            return Task.FromException<T>(fault);
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<T>(cancellationToken);
        }

        if (_health.IsCorrupt)
        {
            return Task.FromException<T>(_health.RefuseWrite());
        }

        if (_health.SyncFailure is not null)
        {
            return Task.FromException<T>(_health.RefuseAfterSyncFailure());
        }

        var request = new WriteRequest<T>(write, cancellationToken, _metrics.Timestamp());
        if (_writer.TryWriteInline(request))
        {
            return request.Task; // the writer was idle: this thread ran the batch, and the task is complete (see GroupCommitWriter.Inline)
        }

        var accepted = _writer.EnqueueAsync(request, cancellationToken);
        return accepted.IsCompletedSuccessfully ? request.Task : WhenAcceptedAsync(accepted, request);
    }

    /// <summary>
    /// Runs <paramref name="write"/> like <see cref="WriteAsync{T}"/> and completes once it has committed.
    /// </summary>
    /// <param name="write">The work to do on the writer connection.</param>
    /// <param name="cancellationToken">Withdraws the write while it is still queued.</param>
    public Task WriteAsync(Action<SqliteConnection> write, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(write);
        return WriteAsync(connection =>
        {
            write(connection);
            return true;
        }, cancellationToken);
    }

    /// <summary>Writes accepted and waiting for the writer.</summary>
    internal int WriteQueueDepth => _writer?.QueueDepth ?? 0;

    /// <summary>Tests: how often the writer asked the <c>-wal</c> file's size (WalPreallocation).</summary>
    internal long WalSizeAsks => _writer?.Preallocation?.SizeAsks ?? 0;

    /// <summary>Times the writer thread found a caller running a batch inline and waited for it (tests).</summary>
    internal long WriterRoleWaits => _writer?.RoleWaits ?? 0;

    /// <summary>Probes of a lone producer that a caller ran on its own thread (tests).</summary>
    internal long WriterInlineProbes => _writer?.InlineProbes ?? 0;

    /// <summary>How many hot writes may run inline before the next probe; 0 until a probe found one awaiting producer (tests).</summary>
    internal int WriterHotInlineLimit => _writer?.HotInlineLimit ?? 0;

    private async Task<T> WhenAcceptedAsync<T>(ValueTask accepted, WriteRequest<T> request)
    {
        try
        {
            await accepted.ConfigureAwait(false); // the queue was full: this is the back-pressure
        }
        catch (ChannelClosedException)
        {
            throw _writer!.Fault ?? Closed(); // completed by the writer's death, or by DisposeAsync
        }

        return await request.Task.ConfigureAwait(false);
    }
}
