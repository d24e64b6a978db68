using Walden.Configuration;

namespace Walden.Reading;

/// <summary>
/// One read's hold on a pooled connection and its snapshot: when it started (for the starvation report)
/// and, with <see cref="WaldenOptions.MaxReadLeaseDuration"/>, the timer that ends it. Expiry and the end of
/// the read race; the lock makes exactly one of them win and keeps the connection open while the
/// expiry releases the snapshot from the timer thread (<see cref="SnapshotRelease"/>; SQLite's serialized mode makes that safe).
/// </summary>
internal sealed class ReadLease : IDisposable
{
    private const int Active = 0;
    private const int Ended = 1;
    private const int Expired = 2;

    private readonly object _gate = new();
    private readonly Action<ReadLease>? _onExpired;
    private ITimer? _timer;
    private int _state;

    private readonly PooledReader _reader;

    internal ReadLease(PooledReader reader, long startedAt, Action<ReadLease>? onExpired)
    {
        Connection = reader.Opened;
        _reader = reader;
        StartedAt = startedAt;
        _onExpired = onExpired;
    }

    internal OpenedConnection Connection { get; }

    internal long StartedAt { get; }

    internal bool IsExpired => Volatile.Read(ref _state) == Expired;

    internal void StartTimer(TimeProvider time, TimeSpan maxDuration)
    {
        using (ExecutionContext.SuppressFlow())
        {
            _timer = time.CreateTimer(static state => ((ReadLease)state!).Expire(), this, maxDuration, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>Ends the lease normally (again, if it already ended); false only when it had expired.</summary>
    internal bool End()
    {
        _timer?.Dispose();
        lock (_gate)
        {
            if (_state == Expired)
            {
                return false;
            }

            _state = Ended;
            return true;
        }
    }

    /// <summary>Interrupts the read now (the database is closing): as an expiry, without the expiry's log line.</summary>
    internal void Interrupt() => Expire(log: false);

    private void Expire() => Expire(log: true);

    private void Expire(bool log)
    {
        lock (_gate)
        {
            if (_state != Active)
            {
                return;
            }

            _state = Expired;
            SnapshotRelease.Release(_reader);
        }

        if (log)
        {
            _onExpired?.Invoke(this);
        }
    }

    public void Dispose() => _timer?.Dispose();
}
