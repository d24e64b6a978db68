namespace Walden.Checkpointing;

/// <summary>
/// Lets a RESTART or TRUNCATE checkpoint have the write lock without racing the group-commit writer for
/// it. Those modes must hold the write lock while they finish, and a busy writer frees it only for
/// microseconds between batches, which a waiting checkpoint's 1 ms polls almost never catch. The
/// checkpointer asks for a pause and waits until the writer is between batches; the writer then waits
/// before its next BEGIN until the checkpoint is done. Otherwise the writer pays two uncontended locks per batch.
/// It also holds the hard bound (<see cref="WaldenOptions.MaxWalSize"/>): at it, the writer waits for a reset, then refuses.
/// <para>
/// The writer's side of the seam between writer, checkpointer and archive (the whole batch is drawn in
/// <see cref="Archiving.CommitSeam"/>). One lock; the writer role's holder (W) and the checkpointer (C) move it:
/// <code>
///                    EnterBatch (W; waits while Held, or WalFull up to 1 s, or WalAtMax up to BusyTimeout, then refused)
///   Between ──────────────────────────────────────────────────────────▶ InBatch
///    ▲   ▲   TryEnterBatch (a caller committing inline): never waits      │
///    │   └───────────────────────────── ExitBatch (W) ◀────────────────────┘
///    │ Hold() (C): Requested, then waits until not InBatch
///    ▼
///   Held ─── Scope.Dispose (C): RESTART or TRUNCATE done, writer woken ──▶ Between
///
///   WAL marks, set by W from the WAL hook after a commit, cleared by C:
///   WalFull   (3/4 of WalSizeLimit)  SetWalFull ──▶ ClearWalFull (after a reset, or a reader blocks it; W also gives up after 1 s)
///   WalAtMax  (MaxWalSize)           SetWalAtMax ─▶ ClearWalAtMax (after a reset)
/// </code>
/// </para>
/// </summary>
internal sealed class WriterPause
{
    private readonly object _gate = new();
    private readonly TimeSpan _walAtMaxWait;
    private readonly Func<Exception> _walLimitFailure;
    private readonly Action _walAtMaxWaiting;
    /// <summary>The longest the writer waits for a full WAL to be reset; only a safety net should the checkpointer be stuck.</summary>
    private const int WalFullWaitMilliseconds = 1000;

    private bool _requested;
    private bool _inBatch;
    private bool _walFull;
    private bool _walAtMax;

    /// <param name="walAtMaxWait">How long a batch waits at <see cref="WaldenOptions.MaxWalSize"/> for a reset before it is refused.</param>
    /// <param name="walLimitFailure">Makes the error a refused batch fails with (it names the processes holding WAL read locks).</param>
    /// <param name="walAtMaxWaiting">Called when a batch starts waiting at the hard bound: the checkpointer tries a reset at once.</param>
    internal WriterPause(TimeSpan walAtMaxWait, Func<Exception> walLimitFailure, Action walAtMaxWaiting)
    {
        _walAtMaxWait = walAtMaxWait;
        _walLimitFailure = walLimitFailure;
        _walAtMaxWaiting = walAtMaxWaiting;
    }

    /// <summary>The error for a batch that <see cref="EnterBatch"/> refused.</summary>
    internal Exception WalLimitFailure() => _walLimitFailure();

    /// <summary>
    /// Called by the writer before each batch: waits while a checkpoint holds the pause, and while the WAL is
    /// full (back-pressure until the checkpointer has reset it, so the WAL stays bounded even when the
    /// checkpointer thread gets little CPU). At the hard bound each batch waits up to <see cref="WaldenOptions.BusyTimeout"/>
    /// for the WAL to be reset.
    /// </summary>
    /// <returns>False when the batch must be refused: the WAL is at its hard bound and was not reset in time.</returns>
    internal bool EnterBatch()
    {
        lock (_gate)
        {
            long deadline = 0;
            long walDeadline = 0;
            var refused = false;
            while (_requested || _walFull || _walAtMax)
            {
                if (_requested)
                {
                    Monitor.Wait(_gate);
                    continue;
                }

                if (_walAtMax)
                {
                    if (walDeadline == 0)
                    {
                        walDeadline = Environment.TickCount64 + (long)_walAtMaxWait.TotalMilliseconds;
                        _walAtMaxWaiting();
                    }

                    var remaining = walDeadline - Environment.TickCount64;
                    if (remaining <= 0)
                    {
                        refused = true;
                        break;
                    }

                    Monitor.Wait(_gate, (int)Math.Min(remaining, int.MaxValue));
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
            return !refused;
        }
    }

    /// <summary>
    /// Like <see cref="EnterBatch"/>, for a caller running a batch on its own thread, which must not wait: false (and nothing
    /// entered) while a checkpoint holds the writer or the WAL is full or at its hard bound; the write then goes to the writer.
    /// </summary>
    internal bool TryEnterBatch()
    {
        lock (_gate)
        {
            if (_requested || _walFull || _walAtMax)
            {
                return false;
            }

            _inBatch = true;
            return true;
        }
    }

    /// <summary>A commit left the WAL at its hard bound: batches wait for <see cref="ClearWalAtMax"/>, then are refused.</summary>
    internal void SetWalAtMax()
    {
        lock (_gate)
        {
            _walAtMax = true;
        }
    }

    /// <summary>The WAL was reset: writes go on.</summary>
    internal void ClearWalAtMax()
    {
        lock (_gate)
        {
            if (_walAtMax)
            {
                _walAtMax = false;
                Monitor.PulseAll(_gate);
            }
        }
    }

    /// <summary>True while the WAL is at its hard bound.</summary>
    internal bool WalAtMax
    {
        get
        {
            lock (_gate)
            {
                return _walAtMax;
            }
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

    /// <summary>Whether a checkpoint holds the pause or waits for it (tests).</summary>
    internal bool Requested
    {
        get
        {
            lock (_gate)
            {
                return _requested;
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
