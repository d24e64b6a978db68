namespace Walden;

/// <summary>How a database is doing, from <see cref="WaldenDatabase.GetHealth"/>.</summary>
public enum WaldenHealthStatus
{
    /// <summary>Nothing is wrong.</summary>
    Healthy,

    /// <summary>
    /// Writes and reads work, but something needs attention: the WAL over its limit, checkpoint starvation,
    /// repeated checkpoint failures, slow commits, a write queue near full, or an overdue backup.
    /// </summary>
    Degraded,

    /// <summary>
    /// Writes fail or are refused: the database is corrupt, read-only, out of disk space, its writer has
    /// stopped, or it is closed.
    /// </summary>
    Unhealthy,
}

/// <summary>A health verdict with the reasons for it and the figures behind it.</summary>
/// <param name="Status">Healthy, Degraded or Unhealthy.</param>
/// <param name="Reasons">One sentence per problem found, saying what to do; empty when Healthy.</param>
/// <param name="Data">The figures behind the verdict (WAL bytes, queue depth, commit p99, ...), by name.</param>
public sealed record WaldenHealth(WaldenHealthStatus Status, IReadOnlyList<string> Reasons, IReadOnlyDictionary<string, object> Data);

/// <summary>The thresholds <see cref="WaldenDatabase.GetHealth"/> judges by.</summary>
public sealed class WaldenHealthThresholds
{
    /// <summary>Recent commits whose p99 duration is above this make the database Degraded.</summary>
    /// <value>The default value is 1 second.</value>
    public TimeSpan SlowCommit { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>A write queue at least this full (0 to 1 of <see cref="WaldenOptions.WriteQueueCapacity"/>) makes the database Degraded.</summary>
    /// <value>The default value is 0.9.</value>
    public double QueueNearFullRatio { get; set; } = 0.9;
}
