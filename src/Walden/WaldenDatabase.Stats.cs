using System.Globalization;
using Walden.Configuration;
using Walden.Diagnostics;

namespace Walden;

public sealed partial class WaldenDatabase
{
    /// <summary>
    /// A snapshot of the database's state: file sizes (from file metadata only), page figures, the write
    /// queue, recent acknowledgement latency percentiles, the last checkpoint and the counts since open.
    /// </summary>
    /// <param name="cancellationToken">Cancels the wait for a read connection.</param>
    /// <exception cref="WaldenClosedException">The database has been disposed.</exception>
    public async Task<WaldenStats> GetStatsAsync(CancellationToken cancellationToken = default)
    {
        var (pageSize, pageCount, freelist) = await ReadAsync(static c => (
            ConnectionFactory.Scalar<long>(c, "PRAGMA page_size"),
            ConnectionFactory.Scalar<long>(c, "PRAGMA page_count"),
            ConnectionFactory.Scalar<long>(c, "PRAGMA freelist_count")), cancellationToken).ConfigureAwait(false);
        var ack = _metrics.AckLatencies.Percentiles(0.50, 0.99);
        var commit = _metrics.CommitDurations.Percentiles(0.99);
        return new WaldenStats
        {
            Name = Name,
            Path = Path,
            TakenAt = _options.TimeProvider.GetUtcNow(),
            DatabaseFileBytes = Files.DatabaseFiles.SizeOf(Path) ?? 0,
            WalFileBytes = Files.DatabaseFiles.SizeOf(Path + "-wal") ?? 0,
            ShmFileBytes = Files.DatabaseFiles.SizeOf(Path + "-shm") ?? 0,
            WalSizeLimit = _options.WalSizeLimit,
            PageSize = pageSize,
            PageCount = pageCount,
            FreelistCount = freelist,
            WriteQueueDepth = WriteQueueDepth,
            WriteQueueCapacity = _options.WriteQueueCapacity,
            ActiveReaders = ActiveReaders,
            OldestReadLeaseAge = _readers.OldestLeaseAge(),
            AckLatencyP50 = ack is null ? null : TimeSpan.FromSeconds(ack[0]),
            AckLatencyP99 = ack is null ? null : TimeSpan.FromSeconds(ack[1]),
            CommitDurationP99 = commit is null ? null : TimeSpan.FromSeconds(commit[0]),
            Commits = _metrics.Commits,
            WritesCommitted = _metrics.WritesCommitted,
            WritesFailed = _metrics.WritesFailed,
            WritesCancelled = _metrics.WritesCancelled,
            BusyRetries = _factory.BusyRetries.Value,
            Checkpoints = _metrics.Checkpoints,
            LastCheckpoint = _metrics.LastCheckpoint,
            CheckpointStarvations = _metrics.Starvations,
            CheckpointStarved = _checkpointer?.Starved ?? false,
            WriteLockWaitMax = _writer?.WorstLockWait ?? TimeSpan.Zero,
            WriteLockWaitP99 = _writer?.LockWaits.Percentiles(0.99) is { } wait ? TimeSpan.FromSeconds(wait[0]) : null,
            IsCheckpointHolder = _checkpointer?.IsCheckpointHolder ?? false,
            IsReadOnly = IsReadOnly,
        };
    }

    /// <summary>Test seam: completes when the writer loop has ended.</summary>
    internal Task WriterCompletion => _writer?.Completion ?? Task.CompletedTask;

    /// <summary>Test seam: reads waiting for a connection of the pool.</summary>
    internal int ReadsWaiting => _readers.Waiting;

    /// <summary>Test seam: true once the checkpointer loop has ended.</summary>
    internal bool CheckpointerStopped => _checkpointer?.Stopped ?? true;

    /// <summary>What the health of this database rests on; the integrity features report corruption here.</summary>
    internal HealthSignals HealthSignals => _health;

    /// <summary>
    /// The health of the database, with the reasons and the figures behind the verdict. Unhealthy: closed,
    /// corrupt, read-only, out of disk space, or the writer stopped (writes fail). Degraded: the WAL over
    /// its limit, checkpoint starvation, repeated checkpoint failures, slow commits (recent p99 over
    /// <see cref="WaldenHealthThresholds.SlowCommit"/>), the write queue near full, or no verified backup
    /// for more than twice <see cref="WaldenBackupOptions.Interval"/>. Cheap enough to call from a health
    /// endpoint: it reads counters and file sizes, never the database.
    /// </summary>
    /// <param name="thresholds">What counts as slow and near full; null for the documented defaults.</param>
    public WaldenHealth GetHealth(WaldenHealthThresholds? thresholds = null)
    {
        thresholds ??= DefaultThresholds;
        var slowCommit = thresholds.SlowCommit;
        var queueNearFull = thresholds.QueueNearFullRatio;
        var reasons = new List<string>();
        var walBytes = Files.DatabaseFiles.SizeOf(Path + "-wal") ?? 0;
        var queueDepth = WriteQueueDepth;
        var commitP99 = _metrics.CommitDurations.Percentiles(0.99)?[0];
        var data = new Dictionary<string, object>
        {
            ["database"] = Name,
            ["path"] = Path,
            ["walBytes"] = walBytes,
            ["walSizeLimit"] = _options.WalSizeLimit,
            ["writeQueueDepth"] = queueDepth,
            ["writeQueueCapacity"] = _options.WriteQueueCapacity,
            ["activeReaders"] = ActiveReaders,
            ["checkpointStarved"] = _checkpointer?.Starved ?? false,
            ["checkpointStarvations"] = _metrics.Starvations,
            ["commits"] = _metrics.Commits,
            ["writesFailed"] = _metrics.WritesFailed,
            ["checkpointHolder"] = _checkpointer?.IsCheckpointHolder ?? false,
            ["writeLockWaitMaxMs"] = _writer?.WorstLockWait.TotalMilliseconds ?? 0,
            ["readOnlyInstance"] = IsReadOnly,
        };
        if (commitP99 is { } p99)
        {
            data["commitDurationP99Ms"] = p99 * 1000;
        }

        if (_readers.OldestLeaseAge() is { } lease)
        {
            data["oldestReadLeaseMs"] = lease.TotalMilliseconds;
        }

        var unhealthy = false;
        if (Volatile.Read(ref _disposed) != 0)
        {
            unhealthy = true;
            reasons.Add($"The database '{Name}' is closed.");
        }

        foreach (var (signal, label) in new[]
        {
            (_health.IsFileLoss ? null : _health.Corruption?.Message, "corrupt"),
            (_health.IsFileLoss ? _health.Corruption!.Message : null, "refusing writes since one of its files was lost"),
            (_health.ReadOnly, "read-only"), (_health.DiskFull, "disk full"),
            (_health.WalLimit, "refusing writes at MaxWalSize"), (_health.SyncFailure, "stopped after a failed fsync"),
        })
        {
            if (signal is not null)
            {
                unhealthy = true;
                data[label] = signal;
                reasons.Add($"The database '{Name}' is {label}: {signal}");
            }
        }

        if (_health.WriterStoppedReason is { } stopped)
        {
            unhealthy = true;
            data["writerStopped"] = stopped;
            reasons.Add($"The writer of '{Name}' stopped after an unexpected error ({stopped}); every write fails. Reopen the database.");
        }

        if (_health.CheckpointFailures >= HealthSignals.CheckpointFailuresForDegraded)
        {
            data["checkpointFailures"] = _health.CheckpointFailures;
            reasons.Add(string.Create(CultureInfo.InvariantCulture,
                $"The last {_health.CheckpointFailures} checkpoints failed, so the WAL keeps growing: {_health.LastCheckpointFailure}"));
        }

        if (!unhealthy)
        {
            if (walBytes > _options.WalSizeLimit)
            {
                reasons.Add(string.Create(CultureInfo.InvariantCulture, $"The -wal file is {walBytes:N0} bytes, over WalSizeLimit ({_options.WalSizeLimit:N0} bytes)."));
            }

            if (_checkpointer?.Starved == true)
            {
                reasons.Add("Checkpoint starvation: a read on an old snapshot, in this process or another, keeps the WAL from being reset " +
                    "(the starvation warning, event 1202, names it).");
            }

            if (commitP99 is { } p && p > slowCommit.TotalSeconds)
            {
                reasons.Add(string.Create(CultureInfo.InvariantCulture, $"Slow commits: the recent p99 is {p * 1000:0.#} ms, over {slowCommit.TotalMilliseconds:0.#} ms."));
            }

            var backup = LastBackup;
            if (backup.IsOverdue(_options.TimeProvider.GetUtcNow()))
            {
                var last = backup.LastSuccessAt?.ToString("O", CultureInfo.InvariantCulture) ?? "never";
                data["lastVerifiedBackupAt"] = last;
                var failure = backup.LastError is { } error ? $"; the last attempt failed: {error}" : ".";
                reasons.Add(string.Create(CultureInfo.InvariantCulture,
                    $"No verified backup for more than twice Backup.Interval ({backup.Interval}): the last one is from {last}{failure}"));
            }

            _archiver?.AddHealth(reasons, data);
            foreach (var hazard in _health.EnvironmentHazards)
            {
                reasons.Add(hazard);
            }

            if (queueDepth >= queueNearFull * _options.WriteQueueCapacity)
            {
                reasons.Add(string.Create(CultureInfo.InvariantCulture, $"The write queue is near full: {queueDepth:N0} of {_options.WriteQueueCapacity:N0}."));
            }
        }

        var status = unhealthy ? WaldenHealthStatus.Unhealthy : reasons.Count > 0 ? WaldenHealthStatus.Degraded : WaldenHealthStatus.Healthy;
        return new WaldenHealth(status, reasons, data);
    }

    private static readonly WaldenHealthThresholds DefaultThresholds = new();

    int IDatabaseGauges.QueueDepth => WriteQueueDepth;

    long IDatabaseGauges.BusyRetries => _factory.BusyRetries.Value;

    long IDatabaseGauges.WalFileBytes => Files.DatabaseFiles.SizeOf(Path + "-wal") ?? 0;

    long IDatabaseGauges.DatabaseFileBytes => Files.DatabaseFiles.SizeOf(Path) ?? 0;

    int IDatabaseGauges.ActiveReaders => ActiveReaders;

    int IDatabaseGauges.IntegrityStatus => _health.IsCorrupt && !_health.IsFileLoss ? 0 : 1;
}
