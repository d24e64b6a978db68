namespace Walden.Checkpointing;

/// <summary>
/// Lets a RESTART or TRUNCATE checkpoint have the write lock without racing the group-commit writer for
/// it. Those modes must hold the write lock while they finish, and a busy writer frees it only for
/// microseconds between batches, which a waiting checkpoint's 1 ms polls almost never catch. The
/// checkpointer asks for a pause and waits until the writer is between batches; the writer then waits
/// before its next BEGIN until the checkpoint is done. Otherwise the writer pays two uncontended locks per batch.
/// </summary>
internal sealed class WriterPause
{
    private readonly object _gate = new();
    private bool _requested;
    private bool _inBatch;

    /// <summary>Called by the writer before each batch: waits while a checkpoint holds the pause.</summary>
    internal void EnterBatch()
    {
        lock (_gate)
        {
            while (_requested)
            {
                Monitor.Wait(_gate);
            }

            _inBatch = true;
        }
    }

    /// <summary>Called by the writer after each batch (committed or not).</summary>
    internal void ExitBatch()
    {
        lock (_gate)
        {
            _inBatch = false;
            if (_requested)
            {
                Monitor.PulseAll(_gate);
            }
        }
    }

    /// <summary>Waits until the writer is between batches and holds it there until the returned scope is disposed.</summary>
    internal Scope Hold()
    {
        lock (_gate)
        {
            _requested = true;
            while (_inBatch)
            {
                Monitor.Wait(_gate);
            }
        }

        return new Scope(this);
    }

    private void Resume()
    {
        lock (_gate)
        {
            _requested = false;
            Monitor.PulseAll(_gate);
        }
    }

    internal readonly struct Scope(WriterPause pause) : IDisposable
    {
        public void Dispose() => pause.Resume();
    }
}
