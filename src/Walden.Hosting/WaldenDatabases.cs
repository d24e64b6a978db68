using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Walden.Hosting;

/// <summary>
/// The Walden databases registered with <c>AddWalden</c>, by name. The hosted service opens them all when
/// the host starts and disposes them (draining their write queues) when it stops. Inject this, or one
/// database as a keyed service: <c>[FromKeyedServices("orders")] WaldenDatabase orders</c>.
/// </summary>
public sealed class WaldenDatabases : IAsyncDisposable
{
    private readonly IReadOnlyList<WaldenDatabaseRegistration> _registrations;
    private readonly IServiceProvider _services;
    private readonly ConcurrentDictionary<string, WaldenDatabase> _open = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, Exception> _failed = new(StringComparer.Ordinal);

    internal WaldenDatabases(IEnumerable<WaldenDatabaseRegistration> registrations, IServiceProvider services)
    {
        _registrations = registrations.ToArray();
        _services = services;
    }

    /// <summary>The names of every registered database.</summary>
    public IReadOnlyList<string> Names => _registrations.Select(r => r.Name).ToArray();

    /// <summary>The open database registered under <paramref name="name"/>.</summary>
    /// <exception cref="InvalidOperationException">No database has that name, or the host has not started yet.</exception>
    public WaldenDatabase Get(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (_open.TryGetValue(name, out var database))
        {
            return database;
        }

        if (_failed.TryGetValue(name, out var failure))
        {
            throw new InvalidOperationException($"The Walden database '{name}' failed to open when the host started: {failure.Message}", failure);
        }

        throw _registrations.Any(r => r.Name == name)
            ? new InvalidOperationException($"The Walden database '{name}' is not open yet: it opens when the host starts (the Walden hosted service). Resolve it after startup.")
            : new InvalidOperationException($"No Walden database is named '{name}'. Registered: {string.Join(", ", Names.Select(n => $"'{n}'"))}. Add it with services.AddWalden(\"{name}\", path).");
    }

    /// <summary>The database named <paramref name="name"/> if it is open.</summary>
    public bool TryGet(string name, out WaldenDatabase? database) => _open.TryGetValue(name, out database);

    /// <summary>
    /// Why the database named <paramref name="name"/> failed to open when the host started, for a database registered
    /// with <see cref="WaldenOpenFailure.ReportUnhealthy"/>; null when it opened or has not been tried.
    /// </summary>
    public Exception? OpenFailure(string name) => _failed.TryGetValue(name, out var failure) ? failure : null;

    /// <summary>True when a database of that name is registered (open or not).</summary>
    internal bool IsRegistered(string name) => _registrations.Any(r => r.Name == name);

    /// <summary>Opens every registered database that is not open yet.</summary>
    internal async Task OpenAllAsync(CancellationToken cancellationToken)
    {
        var loggerFactory = (ILoggerFactory?)_services.GetService(typeof(ILoggerFactory)) ?? NullLoggerFactory.Instance;
        var timeProvider = (TimeProvider?)_services.GetService(typeof(TimeProvider)) ?? TimeProvider.System;
        await Task.WhenAll(_registrations.Where(r => !_open.ContainsKey(r.Name)).Select(async registration =>
        {
            var options = new WaldenOptions { Name = registration.Name, LoggerFactory = loggerFactory, TimeProvider = timeProvider };
            registration.Configure?.Invoke(_services, options);
            try
            {
                var database = await WaldenDatabase.OpenAsync(registration.Path, options, cancellationToken).ConfigureAwait(false);
                if (cancellationToken.IsCancellationRequested)
                {
                    await database.DisposeAsync().ConfigureAwait(false); // the host gave up starting: leave nothing open
                    cancellationToken.ThrowIfCancellationRequested();
                }

                _failed.TryRemove(registration.Name, out _);
                _open[registration.Name] = database;
            }
            catch (WaldenException ex) when (registration.OnOpenFailure == WaldenOpenFailure.ReportUnhealthy)
            {
                // The host starts without it; its health check reports it Unhealthy with this reason.
                _failed[registration.Name] = ex;
                loggerFactory.CreateLogger("Walden.Hosting").LogError(ex, "The Walden database {Name} failed to open; the host starts without it", registration.Name);
            }
        })).ConfigureAwait(false);
    }

    /// <summary>Disposes every open database: each stops accepting writes, commits what it accepted, checkpoints and closes.</summary>
    public async ValueTask DisposeAsync()
    {
        await Task.WhenAll(_open.Values.Select(d => d.DisposeAsync().AsTask())).ConfigureAwait(false);
    }
}

/// <summary>One <c>AddWalden</c> call.</summary>
internal sealed record WaldenDatabaseRegistration(string Name, string Path, Action<IServiceProvider, WaldenOptions>? Configure,
    WaldenOpenFailure OnOpenFailure = WaldenOpenFailure.FailHost);

/// <summary>What the host does when a registered database fails to open at start.</summary>
public enum WaldenOpenFailure
{
    /// <summary>The host fails to start with the <see cref="WaldenException"/> (the default).</summary>
    FailHost,

    /// <summary>
    /// The host starts without the database: its health check reports it Unhealthy with the reason,
    /// <see cref="WaldenDatabases.OpenFailure"/> returns the exception, and resolving it throws.
    /// </summary>
    ReportUnhealthy,
}
