namespace Walden.Backup;

/// <summary>
/// Runs a database's scheduled backups on its <see cref="TimeProvider"/>: one timer, re-armed after
/// each attempt, so attempts never overlap. Stopping cancels a running attempt and waits for it.
/// Lives in the engine, so any host (or none) gets scheduled backups by setting the options.
/// </summary>
internal sealed class BackupScheduler
{
    private readonly Func<CancellationToken, Task> _backup;
    private readonly TimeSpan _interval;
    private readonly TimeProvider _timeProvider;
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _gate = new();
    private ITimer? _timer;
    private Task _running = Task.CompletedTask;
    private DateTimeOffset _lastStart;
    private bool _stopped;

    internal BackupScheduler(Func<CancellationToken, Task> backup, TimeSpan interval, TimeProvider timeProvider)
    {
        _backup = backup;
        _interval = interval;
        _timeProvider = timeProvider;
    }

    /// <summary>The latest attempt (completed when none runs); tests await it instead of sleeping.</summary>
    internal Task Running
    {
        get
        {
            lock (_gate)
            {
                return _running;
            }
        }
    }

    /// <summary>Arms the first run: at once when <paramref name="newestVerified"/> is older than the interval (or absent), otherwise when it becomes due.</summary>
    internal void Start(DateTimeOffset? newestVerified)
    {
        var now = _timeProvider.GetUtcNow();
        var due = newestVerified is { } newest ? newest + _interval - now : TimeSpan.Zero;
        // Created unarmed and armed once assigned: a timer due now may fire (and its run finish and re-arm it) before
        // CreateTimer has even returned.
        using (ExecutionContext.SuppressFlow())
        {
            _timer = _timeProvider.CreateTimer(static state => ((BackupScheduler)state!).OnDue(), this,
                Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }

        _timer.Change(due < TimeSpan.Zero ? TimeSpan.Zero : due, Timeout.InfiniteTimeSpan);
    }

    private void OnDue()
    {
        lock (_gate)
        {
            if (_stopped)
            {
                return;
            }

            _lastStart = _timeProvider.GetUtcNow();
            _running = RunAsync();
        }
    }

    private async Task RunAsync()
    {
        try
        {
            await _backup(_stopping.Token).ConfigureAwait(false);
        }
        catch (Exception)
        {
            // The backup itself records and logs the failure in WaldenDatabase.LastBackup; the schedule goes on.
        }

        lock (_gate)
        {
            if (!_stopped)
            {
                var next = _lastStart + _interval - _timeProvider.GetUtcNow();
                _timer!.Change(next < TimeSpan.Zero ? TimeSpan.Zero : next, Timeout.InfiniteTimeSpan);
            }
        }
    }

    /// <summary>Stops the schedule, cancels a running backup and waits for it to end.</summary>
    internal async Task StopAsync()
    {
        Task running;
        lock (_gate)
        {
            _stopped = true;
            running = _running;
        }

        await _stopping.CancelAsync().ConfigureAwait(false);
        _timer?.Dispose();
        await running.ConfigureAwait(false);
        _stopping.Dispose();
    }
}
