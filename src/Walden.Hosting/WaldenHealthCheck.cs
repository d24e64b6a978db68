using Microsoft.Extensions.Diagnostics.HealthChecks;

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
/// <see cref="WaldenDatabase.GetHealth"/> as a health check: Healthy, Degraded or Unhealthy with its reasons as the
/// description and its figures as the data. Unhealthy too when the database is not open or failed to open.
/// </summary>
internal sealed class WaldenHealthCheck(WaldenDatabases databases, string databaseName, WaldenHealthCheckOptions options) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (!databases.TryGet(databaseName, out var database))
        {
            if (databases.OpenFailure(databaseName) is { } failure)
            {
                return Task.FromResult(new HealthCheckResult(context.Registration.FailureStatus,
                    $"The Walden database '{databaseName}' failed to open: {failure.Message}", failure));
            }

            return Task.FromResult(new HealthCheckResult(context.Registration.FailureStatus,
                databases.IsRegistered(databaseName)
                    ? $"The Walden database '{databaseName}' is not open (the host has not started yet)."
                    : $"No Walden database is named '{databaseName}'."));
        }

        var health = database!.GetHealth(new WaldenHealthThresholds
        {
            SlowCommit = options.SlowCommitThreshold,
            QueueNearFullRatio = options.QueueNearFullRatio,
        });
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
