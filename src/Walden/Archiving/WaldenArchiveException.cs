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

    internal WaldenArchiveException(string message, bool isDamaged)
        : base(message)
    {
        IsDamaged = isDamaged;
    }

    /// <summary>The destination that failed (<see cref="IWaldenArchiveDestination.Name"/>), or null.</summary>
    public string? Destination { get; }

    /// <summary>
    /// True when a restore found the archive itself damaged or inconsistent (no base at or before the moment is usable,
    /// bases of two archives are mixed, or the rebuilt database fails <c>integrity_check</c>); false when the request or
    /// the output was wrong (a moment the archive does not hold, an existing output, a missing folder) or a destination
    /// failed. <c>walden restore</c> exits 1 for the first, as <c>walden archive verify</c> does, and 2 for the second.
    /// </summary>
    public bool IsDamaged { get; }
}
