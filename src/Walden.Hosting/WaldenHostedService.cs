using Microsoft.Extensions.Hosting;

namespace Walden.Hosting;

/// <summary>Opens the registered databases when the host starts; drains and closes them when it stops.</summary>
internal sealed class WaldenHostedService(WaldenDatabases databases) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => databases.OpenAllAsync(cancellationToken);

    /// <summary>
    /// Drains and closes every database, but returns once <paramref name="cancellationToken"/> (the host's shutdown
    /// timeout) fires: the databases then finish closing in the background, and what they had committed stays committed.
    /// </summary>
    public Task StopAsync(CancellationToken cancellationToken) => databases.DisposeAsync().AsTask().WaitAsync(cancellationToken);
}
