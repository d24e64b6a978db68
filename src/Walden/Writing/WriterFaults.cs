namespace Walden.Writing;

/// <summary>
/// Failure injection for tests (Garnet's SimulatedFlakyDevice idea). The failure is real: the writer's commit
/// hook (see GroupCommitWriter.Outcomes) makes SQLite itself refuse the COMMIT, so SQLite rolls the transaction back.
/// </summary>
internal sealed class WriterFaults
{
    /// <summary>Asked at each COMMIT of Walden's own with the batch number (from 1); true makes that COMMIT fail.</summary>
    public Func<long, bool>? FailCommit { get; init; }

    /// <summary>
    /// Called on the writer thread before each batch begins, with the batch size (tests hold the writer here). An exception
    /// thrown here is one the writer loop does not expect: it stops the writer (tests of what writer death does).
    /// </summary>
    public Action<int>? BeforeBatch { get; init; }

    /// <summary>
    /// Called on the writer thread after a batch it took from the queue has ended (acknowledged), before it reads a probe's
    /// verdict and lets go of the writer role; tests hold it here while the producer's next write arrives.
    /// </summary>
    public Action? AfterQueuedBatch { get; init; }

    /// <summary>
    /// Called on the writer thread when, after a commit, it waits holding the write turn for its next writes to come back
    /// (see GroupCommitWriter.Turn); tests queue a write here.
    /// </summary>
    public Action? WhileKeepingTurn { get; init; }

    /// <summary>
    /// True keeps every batch on the writer thread: no caller runs one inline (see GroupCommitWriter.Inline), so a test
    /// holding the writer in <see cref="BeforeBatch"/> holds every write.
    /// </summary>
    public bool KeepWritesOnWriterThread { get; init; }

    /// <summary>When set, the clock that tells a write right after the last batch from one after a pause (see GroupCommitWriter.Inline).</summary>
    public TimeProvider? InlineClock { get; init; }

    /// <summary>
    /// For <see cref="WaldenDurability.FullPipelined"/>, and for Full with a Sync archive (which fsyncs the WAL beside its store):
    /// when set, replaces each fsync of the WAL and gives its result (0 = success).
    /// </summary>
    public Func<int>? WalSyncResult { get; init; }

    /// <summary>Called on the thread that copies an archive's base snapshot, before the copy (tests hold the copy here).</summary>
    public Action? BeforeBaseCopy { get; init; }

    /// <summary>
    /// Called on the thread that copies an archive's base snapshot, after the copy ended its read transaction and before the
    /// base is encoded (tests hold the base here while another process resets the WAL).
    /// </summary>
    public Action? AfterBaseSnapshotReleased { get; init; }
}
