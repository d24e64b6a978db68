using Microsoft.Extensions.Diagnostics.HealthChecks;
using Walden.Diagnostics;

namespace Walden.Hosting;

/// <summary>Thresholds of the Walden health check.</summary>
public sealed class WaldenHealthCheckOptions
{
    /// <summary>Recent commits whose p99 duration is above this make the database Degraded.</summary>
    /// <value>The default value is 1 second.</value>
    public TimeSpan SlowCommitThreshold { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>A write queue at least this full (0 to 1 of <see cref="WaldenOptions.WriteQueueCapacity"/>) makes the database Degraded.</summary>
    /// <value>The default value is 0.9.</value>
    public double QueueNearFullRatio { get; set; } = 0.9;
}

/// <summary>
/// Healthy; Degraded when the WAL is over its limit, checkpoints are starved, commits are slow or the write
/// queue is near full; Unhealthy when the database is not open, closed, corrupt, read-only or out of disk.
/// The figures behind the verdict are in the result's data.
/// </summary>
internal sealed class WaldenHealthCheck(WaldenDatabases databases, string databaseName, WaldenHealthCheckOptions options) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (!databases.TryGet(databaseName, out var database))
        {
            return Task.FromResult(new HealthCheckResult(context.Registration.FailureStatus,
                databases.IsRegistered(databaseName)
                    ? $"The Walden database '{databaseName}' is not open (the host has not started, or opening it failed)."
                    : $"No Walden database is named '{databaseName}'."));
        }

        var health = database!.GetHealth(options.SlowCommitThreshold, options.QueueNearFullRatio);
        var description = health.Reasons.Count == 0 ? $"The Walden database '{databaseName}' is healthy." : string.Join(" ", health.Reasons);
        var result = health.Status switch
        {
            WaldenHealthStatus.Healthy => HealthCheckResult.Healthy(description, health.Data),
            WaldenHealthStatus.Degraded => HealthCheckResult.Degraded(description, data: health.Data),
            _ => new HealthCheckResult(context.Registration.FailureStatus, description, data: health.Data),
        };
        return Task.FromResult(result);
    }
}
