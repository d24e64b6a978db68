namespace Walden;

/// <summary>Adds an S3 destination to <see cref="WaldenArchiveOptions"/>.</summary>
public static class WaldenS3ArchiveExtensions
{
    /// <summary>Adds an S3-compatible object store as a destination (<see cref="WaldenS3Destination"/>); returns the archive options.</summary>
    /// <exception cref="WaldenConfigurationException">An S3 option is out of range; the message lists every problem.</exception>
    public static WaldenArchiveOptions AddS3(this WaldenArchiveOptions archive, WaldenS3DestinationOptions options)
    {
        ArgumentNullException.ThrowIfNull(archive);
        archive.Destinations.Add(new WaldenS3Destination(options));
        return archive;
    }

    /// <summary>Adds <c>s3://bucket/prefix</c> as a destination, with <paramref name="configure"/> for the other options.</summary>
    /// <exception cref="WaldenConfigurationException">The URL or an option is not valid.</exception>
    public static WaldenArchiveOptions AddS3(this WaldenArchiveOptions archive, string url, Action<WaldenS3DestinationOptions>? configure = null)
    {
        var options = WaldenS3DestinationOptions.FromUrl(url);
        configure?.Invoke(options);
        return archive.AddS3(options);
    }
}
