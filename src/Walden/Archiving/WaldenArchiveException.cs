namespace Walden;

/// <summary>
/// The archive could not take what it must (<see cref="WaldenArchiveMode.Sync"/>: a destination failed, so the writes of
/// the batch are not acknowledged; restore: the archive cannot produce what was asked). The message names the
/// destination or the segment. Transient when a destination failed: the same write may succeed once it is back.
/// </summary>
public sealed class WaldenArchiveException : WaldenException
{
    /// <summary>Creates the exception.</summary>
    public WaldenArchiveException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }

    internal WaldenArchiveException(string message, bool isTransient, string? destination, Exception? innerException)
        : base(message, isTransient, innerException)
    {
        Destination = destination;
    }

    /// <summary>The destination that failed (<see cref="IWaldenArchiveDestination.Name"/>), or null.</summary>
    public string? Destination { get; }
}
