using Walden.Backup;
using Walden.Diagnostics;

namespace Walden;

public sealed partial class WaldenDatabase
{
    private readonly SemaphoreSlim _backupGate = new(1, 1);
    private readonly CancellationTokenSource _backupsStopping = new();
    private BackupScheduler? _backupScheduler;
    private WaldenBackupStatus _backupStatus = new(null, null, null, null, null);

    /// <summary>
    /// How backups of this database went: the last verified backup (<see cref="WaldenBackupStatus.LastSuccess"/>,
    /// including one found in <see cref="WaldenBackupOptions.Directory"/> at open), the last failure, and the
    /// schedule. <see cref="WaldenBackupStatus.IsOverdue"/> tells a health check when to report Degraded
    /// (no verified backup within twice <see cref="WaldenBackupOptions.Interval"/>). Never null; updated
    /// after every backup, scheduled or not.
    /// </summary>
    public WaldenBackupStatus LastBackup => Volatile.Read(ref _backupStatus);

    /// <summary>
    /// Takes a consistent, verified backup of this database into <paramref name="directory"/> while
    /// writers keep committing. The copy comes from a connection of its own holding one read snapshot,
    /// through SQLite's online backup API in steps of <see cref="WaldenBackupOptions.PagesPerStep"/> pages
    /// (or <c>VACUUM INTO</c> with <see cref="WaldenBackupOptions.Vacuum"/>), so it contains exactly the
    /// writes acknowledged before it started (and possibly some after) and never blocks the writer. The
    /// copy then passes <c>integrity_check</c>, is hashed (SHA-256), optionally compressed, and gets its
    /// manifest (<c>&lt;file&gt;.json</c>) last; only then does it count. Then retention prunes older verified backups.
    /// </summary>
    /// <param name="directory">The backup folder, created owner-only (0700) if missing. Backup files are 0600.</param>
    /// <param name="options">How to copy and what to keep; null for the documented defaults (<see cref="WaldenBackupOptions.Directory"/> and <see cref="WaldenBackupOptions.Interval"/> are ignored here).</param>
    /// <param name="cancellationToken">Stops the copy between steps; the partial copy is removed.</param>
    /// <returns>The verified backup, as recorded in its manifest.</returns>
    /// <exception cref="WaldenClosedException">The database has been disposed.</exception>
    /// <exception cref="WaldenCorruptException">The copy failed its integrity check (it is discarded).</exception>
    public Task<WaldenBackup> BackupAsync(string directory, WaldenBackupOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        options = (options ?? _options.Backup).Clone();
        options.Validate();
        if (Volatile.Read(ref _disposed) != 0)
        {
            return Task.FromException<WaldenBackup>(Closed());
        }

        return RunBackupAsync(directory, options, cancellationToken);
    }

    private async Task<WaldenBackup> RunBackupAsync(string directory, WaldenBackupOptions options, CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _backupsStopping.Token);
        var token = linked.Token;
        await _backupGate.WaitAsync(token).ConfigureAwait(false); // one backup of a database at a time
        try
        {
            var backup = await WaldenBackups.RunBlocking(
                () => BackupRunner.Run(() => BackupSource.FromFactory(Path, _factory), directory, options, _options.BusyTimeout, _options.TimeProvider, token),
                token).ConfigureAwait(false);
            UpdateBackupStatus(status => status with { LastSuccess = backup, LastAttemptAt = _options.TimeProvider.GetUtcNow(), LastError = null });
            LogMessages.BackupCompleted(_logger, Name, backup.Path, backup.PageCount, backup.CopyDuration.TotalSeconds, backup.VerifyDuration.TotalSeconds, backup.Pruned.Count);
            return backup;
        }
        catch (Exception ex)
        {
            var error = ex is OperationCanceledException ? "The backup was cancelled." : ex.Message;
            UpdateBackupStatus(status => status with { LastAttemptAt = _options.TimeProvider.GetUtcNow(), LastError = error });
            if (ex is not OperationCanceledException)
            {
                LogMessages.BackupFailed(_logger, Name, ex);
            }

            throw;
        }
        finally
        {
            _backupGate.Release();
        }
    }

    private void UpdateBackupStatus(Func<WaldenBackupStatus, WaldenBackupStatus> change)
    {
        WaldenBackupStatus current, next;
        do
        {
            current = Volatile.Read(ref _backupStatus);
            next = change(current);
        }
        while (Interlocked.CompareExchange(ref _backupStatus, next, current) != current);
    }

    /// <summary>The latest scheduled backup attempt (completed when none runs); for tests.</summary>
    internal Task ScheduledBackupRun => _backupScheduler?.Running ?? Task.CompletedTask;

    /// <summary>Starts scheduled backups when <see cref="WaldenBackupOptions.Interval"/> is set; called once the writer runs.</summary>
    private void StartBackups()
    {
        var options = _options.Backup;
        if (options.Interval is not { } interval)
        {
            return;
        }

        var directory = System.IO.Path.GetFullPath(options.Directory!);
        WaldenBackup? newest = null;
        try
        {
            newest = Directory.Exists(directory)
                ? WaldenBackups.List(directory)
                    .Where(entry => entry.State == WaldenBackupState.Verified && entry.Backup!.Source == Path)
                    .Select(entry => entry.Backup)
                    .FirstOrDefault()
                : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // An unreadable folder must not fail the open: the first backup runs now and reports the problem in LastBackup.
        }

        _backupStatus = new WaldenBackupStatus(newest, null, null, interval, _options.TimeProvider.GetUtcNow());
        _backupScheduler = new BackupScheduler(token => RunBackupAsync(directory, options, token), interval, _options.TimeProvider);
        _backupScheduler.Start(newest?.CreatedAt);
    }

    /// <summary>Stops the schedule and any running backup (cancelled, its partial copy removed) before the database closes.</summary>
    private async Task StopBackupsAsync()
    {
        await _backupsStopping.CancelAsync().ConfigureAwait(false);
        if (_backupScheduler is { } scheduler)
        {
            await scheduler.StopAsync().ConfigureAwait(false);
        }

        await _backupGate.WaitAsync().ConfigureAwait(false); // a backup started by hand has ended too
        _backupGate.Release();
    }
}
