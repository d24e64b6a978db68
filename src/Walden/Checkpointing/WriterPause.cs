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
    /// <summary>The longest the writer waits for a full WAL to be reset; only a safety net should the checkpointer be stuck.</summary>
    private const int WalFullWaitMilliseconds = 1000;

    private bool _requested;
    private bool _inBatch;
    private bool _walFull;

    /// <summary>
    /// Called by the writer before each batch: waits while a checkpoint holds the pause, and while the WAL is
    /// full (back-pressure until the checkpointer has reset it, so the WAL stays bounded even when the
    /// checkpointer thread gets little CPU).
    /// </summary>
    internal void EnterBatch()
    {
        lock (_gate)
        {
            long deadline = 0;
            while (_requested || _walFull)
            {
                if (_requested)
                {
                    Monitor.Wait(_gate);
                    continue;
                }

                deadline = deadline == 0 ? Environment.TickCount64 + WalFullWaitMilliseconds : deadline;
                var left = deadline - Environment.TickCount64;
                if (left <= 0)
                {
                    _walFull = false;
                    break;
                }

                Monitor.Wait(_gate, (int)left);
            }

            _inBatch = true;
        }
    }

    /// <summary>The WAL reached its hard mark: the writer waits before its next batch until <see cref="ClearWalFull"/>.</summary>
    internal void SetWalFull()
    {
        lock (_gate)
        {
            _walFull = true;
        }
    }

    /// <summary>The WAL was reset, or cannot be for now (a reader is in the way): let the writer go on.</summary>
    internal void ClearWalFull()
    {
        lock (_gate)
        {
            if (_walFull)
            {
                _walFull = false;
                Monitor.PulseAll(_gate);
            }
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
