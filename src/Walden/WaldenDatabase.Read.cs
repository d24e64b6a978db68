using Microsoft.Data.Sqlite;

namespace Walden;

public sealed partial class WaldenDatabase
{
    /// <summary>
    /// Runs <paramref name="read"/> on a pooled read-only connection inside one read transaction, so
    /// every statement in it sees the same consistent snapshot. Reads never block the writer and are
    /// not blocked by it. Waits for a free connection when all <see cref="WaldenOptions.ReaderPoolSize"/> are busy.
    /// </summary>
    /// <param name="read">The work to do; it may not write (the connection is query_only).</param>
    /// <param name="cancellationToken">Cancels the wait for a connection.</param>
    /// <returns>What <paramref name="read"/> returned.</returns>
    /// <exception cref="WaldenClosedException">The database has been disposed.</exception>
    public Task<T> ReadAsync<T>(Func<SqliteConnection, T> read, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(read);
        RefuseAsyncDelegate<T>(nameof(read));
        if (Volatile.Read(ref _disposed) != 0)
        {
            return Task.FromException<T>(Closed());
        }

        return _readers.ReadAsync(read, cancellationToken);
    }

    /// <summary>Reads running now.</summary>
    internal int ActiveReaders => _readers.Active;
}
