using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Walden;
using Walden.Hosting;

namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Registers Walden databases and their health checks.</summary>
public static class WaldenServiceCollectionExtensions
{
    /// <summary>
    /// Registers a Walden database named <paramref name="name"/> at <paramref name="path"/>: opened when the host
    /// starts and drained and closed when it stops, available from <see cref="WaldenDatabases"/> and as the keyed
    /// service <c>[FromKeyedServices(name)] WaldenDatabase</c>. Call once per database. The options start with
    /// <see cref="WaldenOptions.Name"/> = <paramref name="name"/> and the host's logger factory and TimeProvider.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="name">A name unique among the registered databases; used in logs and metric tags.</param>
    /// <param name="path">The database file.</param>
    /// <param name="configure">Sets options; may be null for the defaults.</param>
    public static IServiceCollection AddWalden(this IServiceCollection services, string name, string path, Action<WaldenOptions>? configure = null) =>
        services.AddWalden(name, path, configure is null ? null : (_, options) => configure(options));

    /// <summary>Registers a Walden database, with options that may read other services.</summary>
    /// <param name="services">The service collection.</param>
    /// <param name="name">A name unique among the registered databases.</param>
    /// <param name="path">The database file.</param>
    /// <param name="configure">Sets options from the service provider; may be null.</param>
    public static IServiceCollection AddWalden(this IServiceCollection services, string name, string path, Action<IServiceProvider, WaldenOptions>? configure) =>
        services.AddWalden(name, path, WaldenOpenFailure.FailHost, configure);

    /// <summary>
    /// Registers a Walden database and says what happens when it fails to open at start: fail the host (the other
    /// overloads), or start without it and report it Unhealthy through its health check.
    /// </summary>
    /// <param name="services">The service collection.</param>
    /// <param name="name">A name unique among the registered databases.</param>
    /// <param name="path">The database file.</param>
    /// <param name="onOpenFailure">What the host does when the database fails to open.</param>
    /// <param name="configure">Sets options from the service provider; may be null.</param>
    public static IServiceCollection AddWalden(this IServiceCollection services, string name, string path, WaldenOpenFailure onOpenFailure,
        Action<IServiceProvider, WaldenOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (services.Any(d => d.ServiceType == typeof(WaldenDatabaseRegistration) && d.ImplementationInstance is WaldenDatabaseRegistration r && r.Name == name))
        {
            throw new ArgumentException($"A Walden database named '{name}' is already registered; give each database a name of its own.", nameof(name));
        }

        services.AddSingleton(new WaldenDatabaseRegistration(name, path, configure, onOpenFailure));
        services.TryAddSingleton(sp => new WaldenDatabases(sp.GetServices<WaldenDatabaseRegistration>(), sp));
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IHostedService, WaldenHostedService>());
        services.TryAddKeyedSingleton(name, static (sp, key) => sp.GetRequiredService<WaldenDatabases>().Get((string)key!));
        return services;
    }

    /// <summary>
    /// Adds a health check for the Walden database <paramref name="databaseName"/> (registered with <c>AddWalden</c>).
    /// </summary>
    /// <param name="builder">The health checks builder (<c>services.AddHealthChecks()</c>).</param>
    /// <param name="databaseName">The database to check.</param>
    /// <param name="checkName">The check's name; default "walden:" + the database name.</param>
    /// <param name="failureStatus">What Unhealthy is reported as; default <see cref="HealthStatus.Unhealthy"/>.</param>
    /// <param name="tags">Tags for filtering checks.</param>
    /// <param name="configure">Adjusts the Degraded thresholds.</param>
    public static IHealthChecksBuilder AddWalden(this IHealthChecksBuilder builder, string databaseName, string? checkName = null,
        HealthStatus? failureStatus = null, IEnumerable<string>? tags = null, Action<WaldenHealthCheckOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentException.ThrowIfNullOrWhiteSpace(databaseName);
        var options = new WaldenHealthCheckOptions();
        configure?.Invoke(options);
        if (options.SlowCommitThreshold <= TimeSpan.Zero || options.QueueNearFullRatio is <= 0 or > 1)
        {
            throw new ArgumentException(
                $"SlowCommitThreshold must be positive (currently {options.SlowCommitThreshold}) and QueueNearFullRatio between 0 and 1 (currently {options.QueueNearFullRatio}).",
                nameof(configure));
        }

        return builder.Add(new HealthCheckRegistration(
            checkName ?? $"walden:{databaseName}",
            sp => new WaldenHealthCheck(sp.GetRequiredService<WaldenDatabases>(), databaseName, options),
            failureStatus,
            tags));
    }
}
