using Walden.Checkpointing;

namespace Walden.Archiving;

/// <summary>
/// Where the writer, the checkpointer and the archive meet. One batch goes through these states, all on the writer
/// thread except the two marked (C), which are the checkpointer's:
/// <code>
///            EnterBatch (waits while Held, WAL full or at MaxWalSize)
///   Idle ───────────────────────────────▶ InBatch ──COMMIT──▶ Committed
///    ▲  ▲                                                        │ WAL hook: Captured(frames)
///    │  │                                                        ▼      (the archive reads the new frames back now)
///    │  └──────────────── ExitBatch ◀── Acknowledged ◀──────── Taken
///    │                                      AfterCommit: Sync ships to every destination first (with
///    │                                      Full, while it fsyncs the WAL itself: both before the ack),
///    │                                      a failure fails the batch instead of acknowledging it
///    │ Hold() (C): only from Idle
///    ▼
///   Held ── ResetStarting (C): the archive checks that no committed frame is untaken (a commit by another process)
///    │      RESTART / TRUNCATE checkpoint runs here
///    └───── ResetDone (C): the archive takes the data_version after the reset as its baseline (a TRUNCATE changes it)
/// </code>
/// The guarantee (issue 18, item 7): a commit the archive has not taken is never checkpointed away. The WAL's frames are
/// lost only when the WAL restarts, and it restarts only (a) in the writer's next transaction, after this batch was
/// Taken, or (b) in Held, which is entered only from Idle, so after Taken too. A commit by another process, which no
/// hook of ours sees, shows as a data_version change in AfterCommit or as an untaken frame in ResetStarting: both answer
/// with a new base snapshot, never with a silent gap. The writer pause and the WAL-full flags stay in
/// <see cref="WriterPause"/>; this class adds no flag between the threads: what the checkpointer does to the archive it
/// does in Held, when the writer is provably between batches, and the writer's side runs only in InBatch.
/// </summary>
internal sealed class CommitSeam(Archiver archiver)
{
    /// <summary>Writer thread, from the WAL hook after each commit of the writer connection.</summary>
    internal void Captured(int frames) => archiver.Captured(frames);

    /// <summary>Checkpointer thread, in Held, before a RESTART or TRUNCATE.</summary>
    internal void ResetStarting() => archiver.CheckNothingUntaken();

    /// <summary>Checkpointer thread, in Held, after a RESTART or TRUNCATE that reset the WAL.</summary>
    internal void ResetDone() => archiver.ResetDone();
}
