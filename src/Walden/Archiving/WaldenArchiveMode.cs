namespace Walden;

/// <summary>When a committed write counts as archived (<see cref="WaldenArchiveOptions.Mode"/>).</summary>
public enum WaldenArchiveMode
{
    /// <summary>
    /// The write is acknowledged after the local commit; the archive takes the commit's pages at once and ships them
    /// in the background, within <see cref="WaldenArchiveOptions.MaxLag"/> while the destinations keep up.
    /// </summary>
    Async,

    /// <summary>
    /// <c>WriteAsync</c> completes only once the batch is durable in the local file and in every destination (one
    /// segment write and fsync per destination per batch): the recovery point is zero for every acknowledged write.
    /// A destination that fails fails the batch's writes with <see cref="WaldenArchiveException"/>.
    /// </summary>
    Sync,
}
