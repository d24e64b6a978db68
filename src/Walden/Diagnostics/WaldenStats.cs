using Walden.Checkpointing;

namespace Walden;

/// <summary>
/// A snapshot of one database's state, from <see cref="WaldenDatabase.GetStatsAsync"/>. File sizes come from
/// file metadata only; page figures from PRAGMAs on a read connection; the rest from Walden's own counters
/// since the database was opened.
/// </summary>
public sealed record WaldenStats
{
    /// <summary>The database name (<see cref="WaldenDatabase.Name"/>).</summary>
    public required string Name { get; init; }

    /// <summary>The database file.</summary>
    public required string Path { get; init; }

    /// <summary>When the snapshot was taken, by <see cref="WaldenOptions.TimeProvider"/>.</summary>
    public required DateTimeOffset TakenAt { get; init; }

    /// <summary>Size of the database file in bytes.</summary>
    public required long DatabaseFileBytes { get; init; }

    /// <summary>Size of the <c>-wal</c> file in bytes (0 when absent).</summary>
    public required long WalFileBytes { get; init; }

    /// <summary>Size of the <c>-shm</c> file in bytes (0 when absent).</summary>
    public required long ShmFileBytes { get; init; }

    /// <summary>The WAL size Walden keeps the <c>-wal</c> file under (<see cref="WaldenOptions.WalSizeLimit"/>).</summary>
    public required long WalSizeLimit { get; init; }

    /// <summary>The page size in bytes.</summary>
    public required long PageSize { get; init; }

    /// <summary>Pages in the database (<c>PRAGMA page_count</c>).</summary>
    public required long PageCount { get; init; }

    /// <summary>Unused pages (<c>PRAGMA freelist_count</c>).</summary>
    public required long FreelistCount { get; init; }

    /// <summary>Writes accepted and waiting for the writer.</summary>
    public required int WriteQueueDepth { get; init; }

    /// <summary>How many writes the queue holds before <see cref="WaldenDatabase.WriteAsync{T}"/> waits.</summary>
    public required int WriteQueueCapacity { get; init; }

    /// <summary>Reads running now.</summary>
    public required int ActiveReaders { get; init; }

    /// <summary>How long the oldest running read has held its snapshot, or null when none is running.</summary>
    public required TimeSpan? OldestReadLeaseAge { get; init; }

    /// <summary>Median acknowledgement latency of the most recent writes (up to 2,048), or null before the first.</summary>
    public required TimeSpan? AckLatencyP50 { get; init; }

    /// <summary>99th percentile acknowledgement latency of the most recent writes, or null.</summary>
    public required TimeSpan? AckLatencyP99 { get; init; }

    /// <summary>99th percentile of the most recent group-commit transaction durations, or null.</summary>
    public required TimeSpan? CommitDurationP99 { get; init; }

    /// <summary>Group-commit transactions committed since open.</summary>
    public required long Commits { get; init; }

    /// <summary>Writes committed since open.</summary>
    public required long WritesCommitted { get; init; }

    /// <summary>Writes that failed since open (their delegate threw, or their batch did not commit).</summary>
    public required long WritesFailed { get; init; }

    /// <summary>Writes withdrawn by their caller while queued.</summary>
    public required long WritesCancelled { get; init; }

    /// <summary>Times a Walden connection waited on a lock held elsewhere, since open.</summary>
    public required long BusyRetries { get; init; }

    /// <summary>Checkpoints run since open (scheduled and requested).</summary>
    public required long Checkpoints { get; init; }

    /// <summary>The most recent checkpoint, or null before the first.</summary>
    public required WaldenCheckpointResult? LastCheckpoint { get; init; }

    /// <summary>Times checkpoint starvation was detected since open.</summary>
    public required long CheckpointStarvations { get; init; }

    /// <summary>True while the WAL is starved: over its limit and not reset for <see cref="WaldenOptions.CheckpointStarvationThreshold"/>.</summary>
    public required bool CheckpointStarved { get; init; }

    /// <summary>
    /// The longest the writer waited for the write lock since open: from asking for its turn among the Walden processes
    /// on the file to BEGIN IMMEDIATE succeeding (zero for a read-only instance). Waits come from other processes' commits.
    /// </summary>
    public TimeSpan WriteLockWaitMax { get; init; }

    /// <summary>99th percentile of the most recent waits for the write lock (up to 2,048), or null before the first write.</summary>
    public TimeSpan? WriteLockWaitP99 { get; init; }

    /// <summary>
    /// Whether this instance runs the scheduled checkpoints of the file. With several Walden processes on one file exactly one
    /// does (the others report the WAL's size but leave checkpoints to it); false for a read-only instance.
    /// </summary>
    public bool IsCheckpointHolder { get; init; }

    /// <summary>Whether the instance was opened with <see cref="WaldenDatabase.OpenReadOnlyAsync"/> (reads only).</summary>
    public bool IsReadOnly { get; init; }
}
