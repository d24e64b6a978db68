namespace Walden;

/// <summary>
/// A write was refused because the <c>-wal</c> file reached <see cref="WaldenOptions.MaxWalSize"/> and no checkpoint
/// could reset it within <see cref="WaldenOptions.BusyTimeout"/>: a read transaction on an old snapshot, most often in
/// another process, stops checkpoints from resetting the WAL. Nothing of the write was applied. Writes succeed again
/// as soon as that read ends and a checkpoint resets the WAL.
/// </summary>
public sealed class WaldenWalLimitException : WaldenException
{
    /// <summary>Creates the exception.</summary>
    public WaldenWalLimitException(string message, IReadOnlyList<int> readerProcessIds)
        : base(message)
    {
        ReaderProcessIds = readerProcessIds;
    }

    /// <summary>The other processes found holding a read transaction on the WAL when the write was refused (may be empty).</summary>
    public IReadOnlyList<int> ReaderProcessIds { get; }

    /// <inheritdoc />
    public override bool IsTransient => true;
}
