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
}
