namespace Walden.Writing;

/// <summary>
/// Misuse the writer refuses at once instead of hanging or writing outside its transaction: a WriteAsync from inside a
/// write delegate (it would wait for the writer that is running it), and an async void delegate (it returns at its
/// first await and runs the rest later, outside Walden's transaction). An async lambda passed as a write does not
/// compile (see WaldenDatabase.Misuse.cs); a connection kept and used after its delegate returned is caught by the commit hook.
/// </summary>
internal sealed partial class GroupCommitWriter
{
    /// <summary>Set while a write delegate runs; flows into whatever it starts (Task.Run, continuations).</summary>
    private static readonly AsyncLocal<GroupCommitWriter?> WriterScope = new();

    /// <summary>Throws when called from a write delegate of this writer, on its thread or from work the delegate started.</summary>
    internal void ThrowIfInsideWrite()
    {
        if (IsInsideWrite)
        {
            throw new InvalidOperationException(
                "WriteAsync was called from inside a write delegate of the same database. That write would wait for the writer, which is " +
                "busy running the delegate that waits for it: it would never complete. Do the work in the delegate itself (it already " +
                "runs inside Walden's transaction), or call WriteAsync again after the first write completed.");
        }
    }

    /// <summary>
    /// Throws when a checkpoint is asked for from a write delegate of this writer: FULL, RESTART and TRUNCATE wait for the batch
    /// in flight to end, and a PASSIVE one queues behind them on the checkpointer, while the batch waits for the delegate.
    /// </summary>
    internal void ThrowIfCheckpointInsideWrite(string mode)
    {
        if (IsInsideWrite)
        {
            throw new InvalidOperationException(
                $"CheckpointAsync({mode}) was called from inside a write delegate of the same database. A checkpoint waits for the batch " +
                "in flight to end, and that batch waits for the delegate that waits for the checkpoint: it would never complete, whatever " +
                "its cancellation token. Call CheckpointAsync after the write completed (the checkpoint cannot include an uncommitted " +
                "transaction anyway).");
        }
    }

    private bool IsInsideWrite => Environment.CurrentManagedThreadId == _threadId || IsOwner || ReferenceEquals(WriterScope.Value, this);

    private static WaldenException AsyncVoidMisuse() => new(
        "A write delegate was an async void method or lambda: it returned at its first await, and the rest of it would run " +
        "later on another thread, outside Walden's transaction. What it did before its first await was rolled back. Write " +
        "delegates must be synchronous: do the awaiting before WriteAsync and pass a delegate that only uses the connection.");

    /// <summary>
    /// The synchronization context of the writer thread, and of a caller's thread while it runs a batch inline. It behaves as none (posts go to the thread pool), but an async void
    /// method calls <see cref="OperationStarted"/> on it when it begins, which is how the writer tells one apart.
    /// </summary>
    private sealed class DelegateContext(GroupCommitWriter writer) : SynchronizationContext
    {
        public override void OperationStarted()
        {
            if (writer.IsOwner && writer._inDelegate)
            {
                writer._asyncVoidStarted = true;
            }
        }

        public override SynchronizationContext CreateCopy() => this;
    }
}
