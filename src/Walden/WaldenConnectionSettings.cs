namespace Walden;

/// <summary>
/// The configuration SQLite reports back for Walden's connections, read with PRAGMAs after they
/// were applied: what is in force, not what was asked for.
/// </summary>
/// <param name="SqliteVersion">The native SQLite library version, e.g. "3.54.1".</param>
/// <param name="JournalMode">The journal mode; always "wal" for a Walden database.</param>
/// <param name="Synchronous">"full" or "normal" (<c>PRAGMA synchronous</c>).</param>
/// <param name="ForeignKeys">Whether foreign keys are enforced.</param>
/// <param name="BusyTimeout">How long an operation waits for a lock before it fails.</param>
/// <param name="TempStore">Where temporary tables live: "memory".</param>
/// <param name="CacheSize">The page cache of each connection, in bytes.</param>
/// <param name="MmapSize">The memory-mapped size of each connection, in bytes.</param>
/// <param name="PageSize">The database page size in bytes.</param>
public sealed record WaldenConnectionSettings(
    string SqliteVersion,
    string JournalMode,
    string Synchronous,
    bool ForeignKeys,
    TimeSpan BusyTimeout,
    string TempStore,
    long CacheSize,
    long MmapSize,
    int PageSize);
