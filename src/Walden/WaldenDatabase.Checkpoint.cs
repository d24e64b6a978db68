using Walden.Checkpointing;

namespace Walden;

public sealed partial class WaldenDatabase
{
    /// <summary>
    /// Checkpoints the WAL now, on Walden's checkpointer connection. Walden already checkpoints on its own
    /// (it is the single owner of checkpoints: SQLite's auto-checkpoint is off on its connections); call this
    /// before a file-level backup or to see the WAL's state. FULL, RESTART and TRUNCATE hold writes back between
    /// two batches while they run and wait up to <see cref="WaldenOptions.BusyTimeout"/> for readers of older snapshots;
    /// when readers are still in the way, the result says <see cref="WaldenCheckpointResult.Busy"/>.
    /// </summary>
    /// <param name="mode">How far to go; <see cref="WaldenCheckpointMode.Truncate"/> also empties the <c>-wal</c> file.</param>
    /// <param name="cancellationToken">Withdraws the request while it waits for the checkpointer.</param>
    /// <returns>SQLite's result triple (busy, frames in the WAL, frames checkpointed), with timing.</returns>
    /// <exception cref="WaldenClosedException">The database has been disposed.</exception>
    /// <exception cref="InvalidOperationException">Called from inside a write delegate of this database (it would wait forever).</exception>
    public Task<WaldenCheckpointResult> CheckpointAsync(WaldenCheckpointMode mode = WaldenCheckpointMode.Passive, CancellationToken cancellationToken = default)
    {
        if (!Enum.IsDefined(mode))
        {
            throw new ArgumentOutOfRangeException(nameof(mode), mode, "The checkpoint mode must be Passive, Full, Restart or Truncate.");
        }

        _writer?.ThrowIfCheckpointInsideWrite(mode.ToString());
        if (Volatile.Read(ref _disposed) != 0)
        {
            return Task.FromException<WaldenCheckpointResult>(Closed());
        }

        return _checkpointer?.CheckpointAsync(mode, cancellationToken) ?? Task.FromException<WaldenCheckpointResult>(ReadOnlyRefusal("CheckpointAsync"));
    }

    /// <summary>The checkpoint scheduler (tests drive its policy with <see cref="CheckpointScheduler.EvaluateAsync"/>).</summary>
    internal CheckpointScheduler Checkpointer => _checkpointer ?? throw ReadOnlyRefusal("The checkpointer");
}
