namespace Walden;

/// <summary>
/// What an open <see cref="WaldenDatabase"/> knows about its backups: the last verified backup and the
/// last failure. Read it from <see cref="WaldenDatabase.LastBackup"/>; a health check reports Degraded
/// when <see cref="IsOverdue"/> is true.
/// </summary>
/// <param name="LastSuccess">The last backup that was copied and verified (taken by this instance, or found in the backup folder at open); null when there is none.</param>
/// <param name="LastAttemptAt">When the last backup attempt (scheduled or not) finished, successfully or not; null before the first.</param>
/// <param name="LastError">Why the last attempt failed; null when it succeeded or none was made.</param>
/// <param name="Interval">The schedule (<see cref="WaldenBackupOptions.Interval"/>); null when backups are not scheduled.</param>
/// <param name="ScheduledSince">When the schedule started (the open), to judge "overdue" before any backup exists.</param>
public sealed record WaldenBackupStatus(
    WaldenBackup? LastSuccess,
    DateTimeOffset? LastAttemptAt,
    string? LastError,
    TimeSpan? Interval,
    DateTimeOffset? ScheduledSince)
{
    /// <summary>When the last verified backup's snapshot was taken; null when there is none.</summary>
    public DateTimeOffset? LastSuccessAt => LastSuccess?.CreatedAt;

    /// <summary>
    /// True when backups are scheduled and the newest verified backup is older than twice
    /// <see cref="Interval"/> (or, with no backup at all, the schedule started more than twice
    /// <see cref="Interval"/> ago). Always false when backups are not scheduled.
    /// </summary>
    /// <param name="now">The current time, from the same <see cref="TimeProvider"/> as the database.</param>
    public bool IsOverdue(DateTimeOffset now)
    {
        if (Interval is not { } interval)
        {
            return false;
        }

        var since = LastSuccessAt ?? ScheduledSince;
        return since is { } start && now - start > 2 * interval;
    }
}
