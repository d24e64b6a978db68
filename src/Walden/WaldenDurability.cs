namespace Walden;

/// <summary>When a commit counts as durable.</summary>
public enum WaldenDurability
{
    /// <summary>
    /// <c>PRAGMA synchronous=FULL</c>: the WAL is fsynced at every commit, so an acknowledged write
    /// survives a process crash and a power loss. The default.
    /// </summary>
    Full = 0,

    /// <summary>
    /// <c>PRAGMA synchronous=NORMAL</c>: the WAL is fsynced only at checkpoints. An acknowledged write
    /// survives a process crash; the last commits before a power loss or OS crash may be lost (never corrupted).
    /// </summary>
    Normal = 1,

    /// <summary>
    /// Opt-in. An acknowledged write survives a power loss, as with <see cref="Full"/>, but the commit and the fsync of
    /// the WAL run in a pipeline: the writer commits with <c>PRAGMA synchronous=NORMAL</c> and goes on with the next
    /// batch while another thread fsyncs the WAL; each write is acknowledged only after an fsync that started after its
    /// commit returned. Faster than <see cref="Full"/> where fsync is slow. Its weaker point: a reader (of this process
    /// or another) may see a committed batch before it is durable, so a power loss can take away rows a reader already
    /// saw (never rows whose write was acknowledged). If an fsync fails, the writer stops: every write not yet
    /// acknowledged and every later one fails.
    /// </summary>
    FullPipelined = 2,
}
