namespace Walden.Writing;

/// <summary>
/// The caller commits when the writer is idle. Whoever runs a batch on the write connection holds the writer role
/// (<see cref="_role"/>): the writer thread for each batch it takes from the queue, or a caller of WriteAsync that found
/// the role free and the queue empty. Such a caller runs the batch on its own thread (its write first, then whatever was
/// queued meanwhile, FIFO, without waiting for more), commits, and returns a task that is already complete: no wake-up of
/// the writer thread, no thread-pool hop back, which is most of what a lone producer's write costs beyond the ceiling's.
/// Everything the writer thread does for a batch happens the same way (the writer pause, the write turn, the commit
/// contract, the outcomes); the role orders batches, so they never overlap and run in the order they took the role.
/// The role is taken only without waiting, and only when waiting would buy nothing:
/// <list type="bullet">
/// <item>the last batch carried at most one write (one producer): with several, the writer thread's gathering puts them
/// in one commit, where a caller committing at once would split them;</item>
/// <item>no synchronization context (a UI thread must not block on an fsync) and the default task scheduler;</item>
/// <item>no checkpoint holds the writer, the WAL is under its bounds, and no other process holds or waits for the write
/// turn (otherwise the caller would block where an awaiting caller waits asynchronously);</item>
/// <item>a Sync archive in good standing (Archiver.InlineCommitAllowed): its store runs on a thread of its own while the
/// caller fsyncs the WAL, so the caller waits about as long as for Full's fsync; while a base snapshot is due or a
/// destination fails or is slow, Sync batches stay on the writer thread (a base is copied, and a destination waited
/// for up to SyncTimeout, before the acknowledgement; only a base that the batch itself finds due, after another process
/// committed, is copied on the caller's thread). An Async archive's work after a commit is small (its hook reads
/// the commit's frames back; a base due then is only pinned, and copied on a thread of its own), so a caller may run
/// it inline.</item>
/// </list>
/// One thread that starts writes without awaiting them (a loop that collects tasks for Task.WhenAll) looks exactly like
/// one producer awaiting each write: each call comes right after the last one returned. Committing each of those alone
/// would cost a commit per write where the writer thread would put them all in one. So a write that comes within
/// <see cref="HotWindow"/> of the last batch ("hot") runs inline only while the writer knows the pattern is one
/// awaiting producer: every <see cref="HotInlineLimit"/>-th hot write is a probe; when its caller waited for it (the
/// limit doubles, up to <see cref="MaxHotInline"/>); otherwise writes are piling up (hot writes go through the queue
/// until the next probe says otherwise). A write after a pause (a few per second, an idle service) always runs inline.
/// <para>
/// Once a probe has found one awaiting producer (the limit is above 0), the next probe (<see cref="InlineProbe"/>) runs
/// inline too, but its task is not complete when WriteAsync returns: its
/// acknowledgement is a work item on the caller's own thread-pool thread, which that thread runs only once the caller
/// has let go of it, and the caller waited for its write when no other write arrived before that and the work item ran
/// on that very thread. A caller that does not await goes on writing first, and its next write, arriving while the
/// verdict is due, is queued. (Before, the probe went through the writer thread: a wake-up of that thread, its linger
/// and a thread-pool hop back, a large share of a lone producer's CPU; the README has the figures.) A caller on a thread
/// that is not the pool's, and FullPipelined (whose sync thread acknowledges), keep that queued probe: its batch held it
/// alone and nothing queued behind it. So do the next probes after the acknowledgements of two inline probes in a row ran
/// on another thread: the caller blocked on its task instead of awaiting it, and waited for another pool thread to take
/// the work item (a thread's wake-up at best, long in a starved pool), where the writer thread completes a queued
/// probe's blocked caller directly. <see cref="QueuedProbesAfterSteal"/> of them, twice as many each time it happens again
/// without an inline probe acknowledged on its own thread in between (up to <see cref="MaxQueuedProbesAfterSteal"/>), so
/// a caller that always blocks soon pays that wait almost never. One such item now and then is an idle worker that took
/// it first; the verdict is then "not awaited", which costs one more probe.
/// </para>
/// </summary>
internal sealed partial class GroupCommitWriter
{
    /// <summary>The most hot writes run inline between two probes: at worst this many commits of one write each when one thread's burst follows a lone producer.</summary>
    internal const int MaxHotInline = 16;

    // The writer role: held by whoever runs a batch on the connection. Never waited for by a caller.
    private readonly Lock _role = new();
    // Real time, not the options' clock (whose timers run maintenance); tests replace it through WriterFaults.InlineClock.
    private TimeProvider _inlineClock = TimeProvider.System;
    // Written by the role's holder; read by the hooks and the misuse checks on any thread.
    private int _ownerThreadId;
    /// <summary>A write that comes this soon after the last batch ended is "hot" (see the class summary): the gathering bound, 2 ms.</summary>
    internal static readonly TimeSpan HotWindow = TimeSpan.FromMilliseconds(2);

    // Owned by the role's holder.
    private long _roleReleasedAt; // an _inlineClock timestamp
    private int _hotInlineLimit;
    private int _hotStreak;
    private IWriteRequest? _probe;
    private InlineProbe? _inlineProbe; // the probe running inline, until its acknowledgement is deferred (see the class summary)
    private bool _probeCommittedAlone; // the last batch committed one write with nothing queued behind it (for NoteProbe)
    private int _probeDue; // 1 from an inline probe's start until its verdict: hot writes are queued meanwhile
    private int _probeInterrupted; // 1 when a write arrived while the verdict was due
    private int _queuedProbes; // probes still to go through the queue after inline probes' acknowledgements ran elsewhere
    private int _probesRunElsewhere; // inline probes in a row whose acknowledgement another thread ran
    private int _nextQueuedProbes = QueuedProbesAfterSteal; // how many go through the queue when that happens next

    /// <summary>How many probes go through the writer thread after two inline probes in a row were acknowledged by another thread.</summary>
    internal const int QueuedProbesAfterSteal = 16;

    /// <summary>The most probes that go through the writer thread in a row for that reason.</summary>
    internal const int MaxQueuedProbesAfterSteal = 1024;
    private long _inlineBatches;
    private long _inlineProbes;
    private long _roleWaits;

    /// <summary>How many hot writes may run inline before the next probe (0: every hot write goes through the queue).</summary>
    internal int HotInlineLimit => Volatile.Read(ref _hotInlineLimit);

    /// <summary>Batches a caller ran on its own thread since open.</summary>
    internal long InlineBatches => Interlocked.Read(ref _inlineBatches);

    /// <summary>Probes a caller ran on its own thread since open (see the class summary).</summary>
    internal long InlineProbes => Interlocked.Read(ref _inlineProbes);

    /// <summary>Times the writer thread found the role held by a caller and waited for it.</summary>
    internal long RoleWaits => Interlocked.Read(ref _roleWaits);

    /// <summary>Whether the current thread holds the writer role (runs a batch, a delegate, or the acknowledgements).</summary>
    private bool IsOwner => Volatile.Read(ref _ownerThreadId) == Environment.CurrentManagedThreadId;

    /// <summary>
    /// Runs <paramref name="request"/> on the caller's thread when the writer is idle (see the class summary). True when it
    /// ran (its outcome is reported, except with FullPipelined, where the sync thread reports it after its fsync); false
    /// when the caller must queue it.
    /// </summary>
    internal bool TryWriteInline(IWriteRequest request)
    {
        if (Volatile.Read(ref _probeDue) != 0)
        {
            Volatile.Write(ref _probeInterrupted, 1); // another write before the probe's caller let go: not one awaiting producer
        }

        if (!_inlineAllowed || Volatile.Read(ref _lastAcknowledged) > 1 || _queue.Reader.Count > 0 || !ContextAllowsBlocking()
            || Archive?.InlineCommitAllowed == false)
        {
            return false;
        }

        if (!_role.TryEnter())
        {
            return false;
        }

        try
        {
            if (!Volatile.Read(ref _loopRunning) || _fault is not null || _pipeline?.Fault is not null || _queue.Reader.Count > 0 ||
                _lastAcknowledged > 1)
            {
                return false;
            }

            var decision = DecideHot(request);
            if (decision == HotDecision.Queue)
            {
                return false;
            }

            if (!_pause.TryEnterBatch())
            {
                return QueueInstead(request, decision);
            }

            try
            {
                if (_turn?.TryAcquireNow() == false)
                {
                    return QueueInstead(request, decision); // another process writes: the writer thread waits for the turn, the caller awaits
                }

                _ownerThreadId = Environment.CurrentManagedThreadId;
                if (decision == HotDecision.InlineProbe)
                {
                    StartInlineProbe(request);
                }

                RunInline(request);
                return true;
            }
            finally
            {
                _pause.ExitBatch();
            }
        }
        catch (Exception ex)
        {
            Die(ex); // as the writer thread's loop would: an error no write's outcome accounts for
            request.TryStart();
            request.Fail(Fault ?? ex); // in case it failed before the request joined the batch
            return true;
        }
        finally
        {
            _ownerThreadId = 0;
            _role.Exit();
        }
    }

    private static bool ContextAllowsBlocking() =>
        (SynchronizationContext.Current is not { } context || context.GetType() == typeof(SynchronizationContext)) &&
        TaskScheduler.Current == TaskScheduler.Default;

    private enum HotDecision
    {
        /// <summary>Runs inline.</summary>
        Inline,

        /// <summary>Runs inline as the probe; its acknowledgement waits for the caller to let go of its thread.</summary>
        InlineProbe,

        /// <summary>Goes through the queue (perhaps as the probe).</summary>
        Queue,
    }

    /// <summary>Under the role: whether this write may run inline now; a hot write past the limit becomes the probe.</summary>
    private HotDecision DecideHot(IWriteRequest request)
    {
        var hot = _inlineClock.GetElapsedTime(_roleReleasedAt) < HotWindow;
        if (!hot)
        {
            _hotStreak = 0;
            return HotDecision.Inline;
        }

        if (Volatile.Read(ref _probeDue) != 0)
        {
            return HotDecision.Queue; // the last probe's verdict is not in yet
        }

        if (_hotStreak < Volatile.Read(ref _hotInlineLimit))
        {
            _hotStreak++;
            return HotDecision.Inline;
        }

        _hotStreak = 0;
        // Only a probe that confirms a lone producer runs inline. While writes pile up (limit 0) every hot write is a probe,
        // and committing each of them alone on its caller's thread would take the group commit apart under load (seen:
        // 64 producers beside 4 readers wrote at a fraction of the rate); those go through the queue, as before.
        if (_hotInlineLimit > 0 && _pipeline is null && Thread.CurrentThread.IsThreadPoolThread)
        {
            if (Volatile.Read(ref _queuedProbes) == 0)
            {
                return HotDecision.InlineProbe;
            }

            Volatile.Write(ref _queuedProbes, _queuedProbes - 1); // no probe is due here, so its acknowledgement cannot write it now
        }

        _probe = request;
        return HotDecision.Queue;
    }

    /// <summary>A write that was to run inline is queued after all: a probe among them becomes the writer thread's probe.</summary>
    private bool QueueInstead(IWriteRequest request, HotDecision decision)
    {
        if (decision == HotDecision.InlineProbe)
        {
            _probe = request;
        }

        return false;
    }

    private void StartInlineProbe(IWriteRequest request)
    {
        Interlocked.Increment(ref _inlineProbes);
        _inlineProbe = new InlineProbe(this, request, Environment.CurrentManagedThreadId);
        Volatile.Write(ref _probeInterrupted, 0);
        Volatile.Write(ref _probeDue, 1);
    }

    /// <summary>
    /// In <see cref="Acknowledge"/>: whether <paramref name="request"/> is the inline probe, whose acknowledgement is then
    /// deferred to a work item on this thread (see the class summary). Its batch must have held it alone with nothing queued.
    /// </summary>
    private bool DeferredAsProbe(IWriteRequest request, int batchSize)
    {
        if (_inlineProbe is not { } probe || !ReferenceEquals(probe.Request, request))
        {
            return false;
        }

        _inlineProbe = null;
        probe.BatchAlone = batchSize == 1 && _queue.Reader.Count == 0;
        ThreadPool.UnsafeQueueUserWorkItem(probe, preferLocal: true);
        return true;
    }

    /// <summary>After an inline batch: a probe whose acknowledgement was not deferred (its batch failed) ends with no verdict.</summary>
    private void EndUnacknowledgedProbe()
    {
        if (_inlineProbe is not null)
        {
            _inlineProbe = null;
            Volatile.Write(ref _hotInlineLimit, 0);
            Volatile.Write(ref _probeDue, 0);
        }
    }

    /// <summary>
    /// The inline probe's acknowledgement, run by the thread pool. The caller waited for its write when the work item runs
    /// on the caller's own thread (which runs its local work items only once the caller's code has let go of it), no
    /// other write arrived meanwhile, and its batch held it alone.
    /// </summary>
    private sealed class InlineProbe(GroupCommitWriter writer, IWriteRequest request, int threadId) : IThreadPoolWorkItem
    {
        internal IWriteRequest Request { get; } = request;

        internal bool BatchAlone { get; set; }

        public void Execute()
        {
            var ownThread = Environment.CurrentManagedThreadId == threadId;
            // These fields are written only here, by the acknowledgement of the probe that is due, one at a time.
            if (ownThread)
            {
                writer._probesRunElsewhere = 0;
                writer._nextQueuedProbes = QueuedProbesAfterSteal;
            }
            else if (++writer._probesRunElsewhere >= 2)
            {
                writer._probesRunElsewhere = 0;
                Volatile.Write(ref writer._queuedProbes, writer._nextQueuedProbes);
                writer._nextQueuedProbes = Math.Min(writer._nextQueuedProbes * 2, MaxQueuedProbesAfterSteal);
            }

            var alone = BatchAlone && ownThread && Volatile.Read(ref writer._probeInterrupted) == 0;
            Volatile.Write(ref writer._hotInlineLimit, alone ? Math.Clamp(writer._hotInlineLimit * 2, 1, MaxHotInline) : 0);
            Volatile.Write(ref writer._probeDue, 0);
            Request.Succeed();
        }
    }

    /// <summary>The writer thread, after a batch: reads the probe's outcome (see the class summary).</summary>
    private void NoteProbe(List<IWriteRequest> batch)
    {
        if (_probe is not { } probe || !batch.Contains(probe))
        {
            return;
        }

        _probe = null;
        // Read at its COMMIT, before the acknowledgement: an awaiting producer's next write, arriving while this thread still
        // ends the batch, must not count as one that piled up behind it (under load that verdict stopped every inline probe).
        var alone = batch.Count == 1 && _probeCommittedAlone;
        Volatile.Write(ref _hotInlineLimit, alone ? Math.Clamp(_hotInlineLimit * 2, 1, MaxHotInline) : 0);
    }

    private void RunInline(IWriteRequest request)
    {
        var previous = SynchronizationContext.Current;
        SynchronizationContext.SetSynchronizationContext(_delegateContext); // tells an async void delegate apart, as on the writer thread
        try
        {
            _batch.Clear();
            _batch.Add(request);
            _gatherExpected = _options.MaxBatchSize; // what was queued meanwhile joins, FIFO; nothing is waited for
            _gatherIdleTicks = 0;
            Interlocked.Increment(ref _inlineBatches);
            RunBatch(_batch);
        }
        finally
        {
            EndUnacknowledgedProbe();
            _roleReleasedAt = _inlineClock.GetTimestamp(); // only a batch that ran makes the next write hot
            SynchronizationContext.SetSynchronizationContext(previous);
        }
    }
}
