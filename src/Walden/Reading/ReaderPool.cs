using System.Collections.Concurrent;
using Microsoft.Data.Sqlite;
using Walden.Configuration;
using Walden.Errors;
using Walden.Integrity;

namespace Walden.Reading;

/// <summary>
/// Read-only connections (<c>query_only</c>), opened on demand up to the pool size and leased one per
/// read. In WAL mode readers never block the writer and the writer never blocks readers; each read
/// runs inside its own deferred transaction, so all its statements see one snapshot.
/// </summary>
internal sealed class ReaderPool
{
    private readonly ConnectionFactory _factory;
    private readonly WaldenOptions _options;
    private readonly CorruptionMonitor _health;
    private readonly SemaphoreSlim _leases;
    private readonly ConcurrentStack<OpenedConnection> _idle = new();
    private readonly int _size;
    private int _active;

    internal ReaderPool(ConnectionFactory factory, WaldenOptions options, CorruptionMonitor health)
    {
        _health = health;
        _factory = factory;
        _options = options;
        _size = options.ReaderPoolSize;
        _leases = new SemaphoreSlim(_size, _size);
    }

    /// <summary>Reads running now.</summary>
    internal int Active => Volatile.Read(ref _active);

    internal async Task<T> ReadAsync<T>(Func<SqliteConnection, T> read, CancellationToken cancellationToken)
    {
        await _leases.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // SQLite blocks; run the read on a pool thread rather than on the caller's. PreferFairness puts it
            // in the pool's global FIFO queue: Task.Run from a pool thread would use that thread's local queue,
            // which the pool serves first, so a busy read loop would starve the writers' continuations (posted
            // globally by the writer thread) and with them the group commit.
            return await Task.Factory.StartNew(() => ReadInSnapshot(read), cancellationToken,
                TaskCreationOptions.PreferFairness | TaskCreationOptions.DenyChildAttach, TaskScheduler.Default).ConfigureAwait(false);
        }
        finally
        {
            _leases.Release();
        }
    }

    private T ReadInSnapshot<T>(Func<SqliteConnection, T> read)
    {
        var lease = Rent();
        Interlocked.Increment(ref _active);
        try
        {
            var connection = lease.Connection;
            ConnectionFactory.Execute(connection, "BEGIN");
            try
            {
                return read(connection);
            }
            finally
            {
                if (SQLitePCL.raw.sqlite3_get_autocommit(connection.Handle) == 0)
                {
                    ConnectionFactory.Execute(connection, "COMMIT");
                }
            }
        }
        catch (SqliteException ex) when (SqliteErrors.IsBusy(ex.SqliteErrorCode))
        {
            throw SqliteErrors.Translate(ex, "A read", _options);
        }
        catch (SqliteException ex) when (SqliteErrors.IsCorrupt(ex.SqliteErrorCode))
        {
            _health.Report("A read", ex);
            throw SqliteErrors.Translate(ex, "A read", _options);
        }
        finally
        {
            Interlocked.Decrement(ref _active);
            if (IsUsable(lease))
            {
                _idle.Push(lease);
            }
            else
            {
                lease.Dispose(); // left open or in a transaction by a failure: never hand it out again
            }
        }
    }

    private static bool IsUsable(OpenedConnection lease) =>
        lease.Connection.State == System.Data.ConnectionState.Open &&
        SQLitePCL.raw.sqlite3_get_autocommit(lease.Connection.Handle) != 0;

    private OpenedConnection Rent() => _idle.TryPop(out var lease) ? lease : _factory.Open(writer: false);

    /// <summary>Waits for every lease to come back, then closes all connections.</summary>
    internal async Task CloseAsync()
    {
        for (var i = 0; i < _size; i++)
        {
            await _leases.WaitAsync().ConfigureAwait(false);
        }

        while (_idle.TryPop(out var lease))
        {
            Writing.CommandCache.Release(lease.Connection);
            lease.Dispose();
        }
    }
}
