using System.Collections.Concurrent;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Walden.Configuration;
using Walden.Diagnostics;
using Walden.Errors;
using Walden.Integrity;

namespace Walden.Reading;

/// <summary>
/// Read-only connections (<c>query_only</c>), opened on demand up to the pool size and leased one per
/// read. In WAL mode readers never block the writer and the writer never blocks readers; each read
/// runs inside its own deferred transaction, so all its statements see one snapshot. Each lease is
/// tracked with its start time: a snapshot held open stops checkpoints from resetting the WAL, so the
/// starvation report names the oldest, and <see cref="WaldenOptions.MaxReadLeaseDuration"/> ends it.
/// </summary>
internal sealed class ReaderPool
{
    private readonly ConnectionFactory _factory;
    private readonly WaldenOptions _options;
    private readonly HealthSignals _health;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly string _name;
    private readonly SemaphoreSlim _leases;
    private readonly ConcurrentStack<PooledReader> _idle = new();
    private readonly ConcurrentDictionary<ReadLease, byte> _running = new();
    private readonly Action<ReadLease>? _onExpired;
    private readonly int _size;
    private int _active;
    private bool _closing;
    private int _waiting;
    private long _started;

    internal ReaderPool(ConnectionFactory factory, WaldenOptions options, HealthSignals health, string name)
    {
        _health = health;
        _factory = factory;
        _options = options;
        _time = options.TimeProvider;
        _logger = options.LoggerFactory.CreateLogger("Walden.Reading");
        _name = name;
        _size = options.ReaderPoolSize;
        _leases = new SemaphoreSlim(_size, _size);
        if (options.MaxReadLeaseDuration is { } max)
        {
            _onExpired = _ => LogMessages.ReadLeaseExpired(_logger, _name, max.TotalSeconds);
        }
    }

    /// <summary>Reads waiting for a connection of the pool.</summary>
    internal int Waiting => Volatile.Read(ref _waiting);

    /// <summary>Reads running now.</summary>
    internal int Active => Volatile.Read(ref _active);

    /// <summary>Reads started since the pool was created (the checkpointer checkpoints more often while this moves).</summary>
    internal long ReadsStarted => Interlocked.Read(ref _started);

    /// <summary>How long the oldest running read has held its snapshot, or null when none runs.</summary>
    internal TimeSpan? OldestLeaseAge()
    {
        long? oldest = null;
        foreach (var lease in _running.Keys)
        {
            if (oldest is null || lease.StartedAt < oldest)
            {
                oldest = lease.StartedAt;
            }
        }

        return oldest is { } started ? _time.GetElapsedTime(started) : null;
    }

    internal async Task<T> ReadAsync<T>(Func<SqliteConnection, T> read, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _waiting);
        try
        {
            await _leases.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref _waiting);
        }

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
        var reader = Rent();
        var lease = new ReadLease(reader, _time.GetTimestamp(), _onExpired);
        _running.TryAdd(lease, 0);
        Interlocked.Increment(ref _active);
        Interlocked.Increment(ref _started);
        if (_options.MaxReadLeaseDuration is { } max)
        {
            lease.StartTimer(_time, max);
        }

        try
        {
            var connection = lease.Connection.Connection;
            reader.Begin();
            T result;
            try
            {
                result = read(connection);
            }
            catch
            {
                // End the snapshot without letting a second error (a COMMIT on a damaged file) hide the first.
                RollbackQuietly(lease);
                throw;
            }

            if (!lease.IsExpired && SQLitePCL.raw.sqlite3_get_autocommit(connection.Handle) == 0)
            {
                reader.Commit();
            }

            return lease.End() ? result : throw LeaseExpired(null);
        }
        catch (WaldenReadLeaseExpiredException)
        {
            throw;
        }
        catch (Exception ex) when (!lease.End())
        {
            throw LeaseExpired(ex); // what failed was the interrupted read: report the reason, keep the failure inside
        }
        catch (SqliteException ex) when (SqliteErrors.IsBusy(ex.SqliteErrorCode))
        {
            throw SqliteErrors.Translate(ex, "A read", _options);
        }
        catch (SqliteException ex) when (SqliteErrors.IsCorrupt(ex.SqliteErrorCode))
        {
            _health.ReportCorruption("A read", ex);
            throw SqliteErrors.Translate(ex, "A read", _options);
        }
        catch (SqliteException ex) when (SqliteErrors.IsEnvironment(ex.SqliteErrorCode) && (ex.SqliteErrorCode & 0xFF) != SqliteErrors.ReadOnly)
        {
            // SQLITE_READONLY in a read is the read trying to write (readers are query_only): the application's own error.
            throw SqliteErrors.Translate(ex, "A read", _options);
        }
        finally
        {
            lease.End();
            lease.Dispose();
            _running.TryRemove(lease, out _);
            Interlocked.Decrement(ref _active);
            if (!lease.IsExpired && IsUsable(lease.Connection))
            {
                reader.MemoryMap.AfterRead();
                _idle.Push(reader);
            }
            else
            {
                reader.Dispose(); // interrupted, or left open or in a transaction by a failure: never hand it out again
            }
        }
    }

    private WaldenReadLeaseExpiredException LeaseExpired(Exception? cause) => Volatile.Read(ref _closing)
        ? new($"The database '{_name}' was closed while this read was still running after WaldenOptions.CloseReadTimeout " +
            $"(currently {_options.CloseReadTimeout.TotalSeconds:0.###} s), so Walden interrupted it. Its result was discarded. " +
            "Finish reads before disposing the database, or raise CloseReadTimeout.", cause)
        : new(
        $"A read on '{_name}' held its snapshot longer than WaldenOptions.MaxReadLeaseDuration (currently {_options.MaxReadLeaseDuration!.Value.TotalSeconds:0.###} s), " +
        "so Walden interrupted it and released the snapshot: an open snapshot stops checkpoints from resetting the WAL. Its result was discarded. " +
        "Make the read shorter (page through large results in several reads) or raise MaxReadLeaseDuration.", cause);

    private static void RollbackQuietly(ReadLease lease)
    {
        var connection = lease.Connection.Connection;
        if (lease.IsExpired || SQLitePCL.raw.sqlite3_get_autocommit(connection.Handle) != 0)
        {
            return;
        }

        try
        {
            ConnectionFactory.Execute(connection, "ROLLBACK");
        }
        catch (SqliteException)
        {
            // The connection is then still in a transaction: IsUsable rejects it and it is closed, not pooled.
        }
    }

    private static bool IsUsable(OpenedConnection lease) =>
        lease.Connection.State == System.Data.ConnectionState.Open &&
        SQLitePCL.raw.sqlite3_get_autocommit(lease.Connection.Handle) != 0;

    private PooledReader Rent() => _idle.TryPop(out var reader) ? reader : new PooledReader(_factory.Open(writer: false), _options.MmapSize, _time);

    /// <summary>Waits for every lease to come back, then closes all connections.</summary>
    /// <summary>
    /// Waits up to <paramref name="readTimeout"/> for running reads, then interrupts those still running (they fail with
    /// <see cref="WaldenReadLeaseExpiredException"/>) and waits at most as long again for them to return; then closes the
    /// idle connections. A read that still has not returned closes its own connection when it does.
    /// </summary>
    internal async Task CloseAsync(TimeSpan readTimeout)
    {
        var taken = 0;
        for (var round = 0; round < 2 && taken < _size; round++)
        {
            using var timeout = new CancellationTokenSource(readTimeout, _time);
            try
            {
                for (; taken < _size; taken++)
                {
                    await _leases.WaitAsync(timeout.Token).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested)
            {
                Volatile.Write(ref _closing, true);
                foreach (var lease in _running.Keys)
                {
                    lease.Interrupt();
                }
            }
        }

        while (_idle.TryPop(out var reader))
        {
            reader.Dispose();
        }
    }
}
