using Microsoft.Extensions.Hosting;

namespace Walden.Hosting;

/// <summary>Opens the registered databases when the host starts; drains and closes them when it stops.</summary>
internal sealed class WaldenHostedService(WaldenDatabases databases) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => databases.OpenAllAsync(cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => databases.DisposeAsync().AsTask();
}
