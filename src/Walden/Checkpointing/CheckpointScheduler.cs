using System.Collections.Concurrent;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Walden.Configuration;
using Walden.Diagnostics;

namespace Walden.Checkpointing;

/// <summary>
/// Walden's single owner of checkpoints (SQLite's auto-checkpoint is off on every Walden connection).
/// It runs on a thread and a connection of its own, so commits never pay for a checkpoint:
/// <list type="bullet">
/// <item>PASSIVE as WAL frames accumulate (every eighth of <see cref="WaldenOptions.WalSizeLimit"/>): copies pages
/// into the database without waiting for anyone. While reads run, every <see cref="ReaderPassiveBytes"/> of WAL
/// instead (or the eighth, when smaller): a reader finds a page that is already checkpointed through the memory map
/// of the database file, and one that is not by a lookup in the WAL index and a copy out of the WAL, so with readers
/// and a steady write load, frequent PASSIVE checkpoints keep reads fast (the readers' loss under load in
/// <c>walden bench</c>; figures in the README). Without readers the larger interval is kept, since each checkpoint
/// rewrites the hot pages and costs the writer part of its rate.</item>
/// <item>From half the limit, PASSIVE then RESTART with the writer paused between two batches (<see cref="WriterPause"/>),
/// so the next commit starts the WAL again from its beginning; if a reader is in the way, it retries with backoff.</item>
/// <item>From three quarters of the limit, the writer waits before its next batch until the RESTART is done (back-pressure,
/// so the bound holds even when this thread gets little CPU), unless a reader blocked the last RESTART: then writes go on
/// and the WAL grows until that reader ends (starvation, below).</item>
/// <item>TRUNCATE once no commit happened for <see cref="WaldenOptions.CheckpointIdleDelay"/>, and none came while it waited
/// for the writer to be between batches (a burst that resumed meanwhile is not held up for it).</item>
/// <item>Starvation: the <c>-wal</c> file over the limit and not reset for <see cref="WaldenOptions.CheckpointStarvationThreshold"/>;
/// the warning names this process's oldest read or the other processes holding WAL read locks (<see cref="WalReaderProcesses"/>).</item>
/// <item>The hard bound, <see cref="WaldenOptions.MaxWalSize"/>: once a commit leaves the WAL there, the writer waits for a reset,
/// then refuses writes with <see cref="WaldenWalLimitException"/> until a checkpoint resets the WAL.</item>
/// </list>
/// The writer thread only reports frame counts (<see cref="OnCommit"/>); everything else is decided here.
/// </summary>
internal sealed class CheckpointScheduler
{
    private static readonly TimeSpan MaxEscalationBackoff = TimeSpan.FromSeconds(1);

    /// <summary>A read older than this is treated as long (it may be stuck) rather than a short read that is merely slow.</summary>
    private static readonly TimeSpan LongReadAge = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan FirstEscalationBackoff = TimeSpan.FromMilliseconds(50);

    /// <summary>The PASSIVE interval while reads run: 1 MiB of WAL (256 frames of 4 KiB pages).</summary>
    internal const long ReaderPassiveBytes = 1024 * 1024;

    private const long WalHeaderBytes = 32;

    private readonly WaldenOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly DatabaseMetrics _metrics;
    private readonly HealthSignals _health;
    private RepeatedFailureLog? _failureLog;
    private int _peakWalFrames;
    private readonly Func<TimeSpan?> _oldestReadLease;
    private readonly Func<long> _readsStarted;
    private readonly Action _maintenanceDue;
    private readonly string _name;
    private readonly string _walPath;
    private readonly string _databasePath;
    private readonly OpenedConnection _connection;
    private readonly TimeSpan _escalationBusyTimeout;
    private readonly int _passiveFrames;
    private readonly int _readerPassiveFrames;
    private readonly int _restartFrames;
    private readonly int _hardFrames;
    private readonly int _maxFrames;
    private readonly AutoResetEvent _wake = new(initialState: false);
    private readonly ConcurrentQueue<Request> _requests = new();
    private readonly TaskCompletionSource _stopped = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly Thread _thread;
    private ITimer? _tick;
    private volatile bool _stopping;
    private volatile bool _starved;
    private volatile bool _hardWaitSuppressed;
    private int _walLimitLogged;
    private CheckpointLease _lease = new(null);
    private Writing.WriteTurn? _turn;

    // Written by the writer thread in OnCommit, read here.
    private int _walFrames;
    private long _commits;
    private long _lastCommitAt;

    // Written by the checkpointer thread, read by the writer thread in OnCommit.
    private long _readsAtLastCheckpoint;

    // Owned by the checkpointer thread.
    private int _framesSeen;
    private int _framesCheckpointed;
    private long _commitsAtRestart = -1;
    private long _commitsAtTruncate = -1;
    private bool _overLimit;
    private long _overLimitSince;
    private long _retryEscalationAt;
    private TimeSpan _backoff;
    private long? _firstBusyEscalationAt;
    private long _nextMaintenanceAt;

    internal CheckpointScheduler(ConnectionFactory factory, WaldenOptions options, string name, string path, int pageSize,
        DatabaseMetrics metrics, HealthSignals health, Func<TimeSpan?> oldestReadLease, Func<long> readsStarted, Action maintenanceDue)
    {
        _health = health;
        _options = options;
        _time = options.TimeProvider;
        _logger = options.LoggerFactory.CreateLogger("Walden.Checkpointing");
        _metrics = metrics;
        _oldestReadLease = oldestReadLease;
        _readsStarted = readsStarted;
        _maintenanceDue = maintenanceDue;
        _name = name;
        _walPath = path + "-wal";
        _databasePath = path;
        var frameBytes = pageSize + 24L; // each WAL frame is a 24-byte header and one page
        _passiveFrames = (int)Math.Max(16, options.WalSizeLimit / 8 / frameBytes);
        _readerPassiveFrames = (int)Math.Min(_passiveFrames, Math.Max(16, ReaderPassiveBytes / frameBytes));
        _restartFrames = (int)Math.Max(32, options.WalSizeLimit / 2 / frameBytes);
        _hardFrames = (int)Math.Max(48, options.WalSizeLimit * 3 / 4 / frameBytes);
        _maxFrames = (int)Math.Min(int.MaxValue, (options.EffectiveMaxWalSize - WalHeaderBytes) / frameBytes);
        Pause = new WriterPause(options.BusyTimeout, WalLimitFailure, () => _wake.Set());
        // RESTART and TRUNCATE hold the write lock while they wait for readers: keep that wait short so
        // writes stall for at most this long, and retry later instead.
        _escalationBusyTimeout = options.BusyTimeout < TimeSpan.FromMilliseconds(100) ? options.BusyTimeout : TimeSpan.FromMilliseconds(100);
        _connection = factory.Open(ConnectionRole.Checkpointer, _escalationBusyTimeout);
        _lastCommitAt = _time.GetTimestamp();
        _nextMaintenanceAt = NextMaintenance(_lastCommitAt);
        _thread = new Thread(Run) { IsBackground = true, Name = $"walden-checkpointer:{name}" };
    }

    /// <summary>The archive's side of the hand-off (<see cref="Archiving.CommitSeam"/>), told before and after each WAL reset.</summary>
    internal Archiving.CommitSeam? Seam { get; set; }

    /// <summary>
    /// Shares the file with other Walden processes: only the holder of <paramref name="lease"/> runs scheduled checkpoints,
    /// and RESTART and TRUNCATE take <paramref name="turn"/> among their writers. Called before <see cref="Start"/>.
    /// </summary>
    internal void UseCoordination(CheckpointLease lease, Writing.WriteTurn? turn)
    {
        _lease = lease;
        _turn = turn;
    }

    /// <summary>Whether this process runs the scheduled checkpoints of the file (see <see cref="CheckpointLease"/>).</summary>
    internal bool IsCheckpointHolder => _lease.IsHolder;

    /// <summary>Lets RESTART and TRUNCATE hold the writer back between batches.</summary>
    internal WriterPause Pause { get; }

    /// <summary>True while the WAL is starved (over the limit and not reset for the starvation threshold).</summary>
    internal bool Starved => _starved;

    /// <summary>
    /// The most frames the WAL held after any commit since open, from the WAL hook: the -wal file is never longer than
    /// this many frames (it grows only when a commit writes past its end), so tests take its peak size from here.
    /// </summary>
    internal int PeakWalFrames => Volatile.Read(ref _peakWalFrames);

    /// <summary>True once the loop has ended and closed its connection.</summary>
    internal bool Stopped => _stopped.Task.IsCompleted;

    internal void Start()
    {
        var period = Min(Min(_options.CheckpointIdleDelay, _options.CheckpointStarvationThreshold / 4), TimeSpan.FromSeconds(1));
        using (ExecutionContext.SuppressFlow())
        {
            _tick = _time.CreateTimer(static state => ((CheckpointScheduler)state!)._wake.Set(), this, period, period);
        }

        _thread.UnsafeStart();
    }

    /// <summary>Called by the writer thread after each commit (from the WAL hook): two field writes and, now and then, a wake-up.</summary>
    internal void OnCommit(int frames)
    {
        Volatile.Write(ref _walFrames, frames);
        if (frames > _peakWalFrames)
        {
            Volatile.Write(ref _peakWalFrames, frames); // only the writer thread writes it
        }

        Volatile.Write(ref _lastCommitAt, _time.GetTimestamp());
        Interlocked.Increment(ref _commits);
        if (frames >= _hardFrames && !_hardWaitSuppressed && !_stopping && _lease.IsHolder) // only the holder resets the WAL
        {
            Pause.SetWalFull();
        }

        if (frames >= _maxFrames && !_stopping)
        {
            Pause.SetWalAtMax(); // the -wal file is at WaldenOptions.MaxWalSize: no batch goes on until a checkpoint resets it
            _wake.Set();
        }

        if (!_stopping && (frames - Volatile.Read(ref _framesCheckpointed) >= PassiveFrames || frames < Volatile.Read(ref _framesSeen)))
        {
            _wake.Set();
        }
    }

    /// <summary>Runs a checkpoint on the checkpointer thread, waiting up to <see cref="WaldenOptions.BusyTimeout"/> for readers and the writer.</summary>
    internal Task<WaldenCheckpointResult> CheckpointAsync(WaldenCheckpointMode mode, CancellationToken cancellationToken)
    {
        var request = new Request(mode, cancellationToken);
        Submit(request);
        return request.Completion.Task;
    }

    /// <summary>Applies the scheduling policy once, now, on the checkpointer thread (tests drive the policy with it and a fake clock).</summary>
    internal Task EvaluateAsync()
    {
        var request = new Request(null, CancellationToken.None);
        Submit(request);
        return request.Completion.Task;
    }

    /// <summary>Stops the loop and closes its connection; requests still waiting fail with <paramref name="closed"/>.</summary>
    internal Task StopAsync(Exception closed)
    {
        _stopping = true;
        _tick?.Dispose();
        if ((_thread.ThreadState & ThreadState.Unstarted) != 0 && !_stopped.Task.IsCompleted)
        {
            _connection.Dispose(); // an open that failed before the loop started
            _stopped.TrySetResult();
        }

        _wake.Set();
        return _stopped.Task.ContinueWith(_ =>
        {
            while (_requests.TryDequeue(out var request))
            {
                request.Completion.TrySetException(closed);
            }
        }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private void Submit(Request request)
    {
        if (_stopping)
        {
            request.Completion.TrySetException(new WaldenClosedException($"The Walden database '{_name}' has been disposed and runs no more checkpoints."));
            return;
        }

        _requests.Enqueue(request);
        _wake.Set();
        if (_stopping && _stopped.Task.IsCompleted)
        {
            // Stopped between the check above and the enqueue: nobody will serve it.
            while (_requests.TryDequeue(out var late))
            {
                late.Completion.TrySetException(new WaldenClosedException($"The Walden database '{_name}' has been disposed and runs no more checkpoints."));
            }
        }
    }

    private void Run()
    {
        try
        {
            var poll = _lease.Coordinated ? CheckpointLease.PollInterval : Timeout.InfiniteTimeSpan;
            while (true)
            {
                var woken = _wake.WaitOne(poll);
                if (_stopping)
                {
                    break;
                }

                try
                {
                    if (!PollOtherProcesses() && !woken)
                    {
                        continue;
                    }

                    ServeRequests();
                    Evaluate();
                }
#pragma warning disable CA1031 // The loop must outlive any one failed checkpoint; the failure is logged and the next wake tries again.
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    _health.CheckpointFailed(ex);
                    _failureLog ??= new RepeatedFailureLog(_logger, _time);
                    _failureLog.Failed(ex, "A scheduled checkpoint", (logger, e) => LogMessages.CheckpointFailed(logger, _name, e));
                }
            }
        }
        finally
        {
            Pause.ClearWalFull();
            Pause.ClearWalAtMax(); // nobody resets the WAL any more: let the writer drain its queue
            _connection.Dispose(); // _wake stays undisposed: the closing PRAGMA optimize may still commit and call OnCommit
            _stopped.TrySetResult();
        }
    }

    private void ServeRequests()
    {
        while (_requests.TryDequeue(out var request))
        {
            if (request.CancellationToken.IsCancellationRequested)
            {
                request.Completion.TrySetCanceled(request.CancellationToken);
                continue;
            }

            try
            {
                if (_health.SyncFailure is not null)
                {
                    request.Completion.TrySetException(_health.RefuseAfterSyncFailure());
                }
                else if (request.Mode is { } mode)
                {
                    request.Completion.TrySetResult(Checkpoint(mode, _options.BusyTimeout));
                }
                else
                {
                    Evaluate();
                    request.Completion.TrySetResult(null!);
                }
            }
            catch (SqliteException ex)
            {
                _health.CheckpointFailed(ex);
                request.Completion.TrySetException(Errors.SqliteErrors.Translate(ex, $"A {request.Mode} checkpoint", _options));
            }
#pragma warning disable CA1031 // Whatever failed goes to the caller who asked for this checkpoint.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                request.Completion.TrySetException(ex);
            }
        }
    }

    /// <summary>
    /// Takes the lease when its holder is gone; as the holder, takes in the WAL frame count another process published.
    /// True when something changed that calls for an evaluation.
    /// </summary>
    private bool PollOtherProcesses()
    {
        if (!_lease.Coordinated)
        {
            return false;
        }

        if (!_lease.IsHolder)
        {
            return _lease.TryTake();
        }

        if (_lease.ReadForeignFrames() is not { } frames)
        {
            return false;
        }

        // Another process committed: the WAL is that long now, and the file is not idle.
        Volatile.Write(ref _walFrames, frames);
        Volatile.Write(ref _lastCommitAt, _time.GetTimestamp());
        Interlocked.Increment(ref _commits);
        return true;
    }

    /// <summary>
    /// A process without the lease: publishes the WAL's length for the holder and otherwise only watches it. It resets the
    /// WAL itself only when its writer waits at the hard bound (WaldenOptions.MaxWalSize).
    /// </summary>
    private void Follow()
    {
        var frames = Volatile.Read(ref _walFrames);
        if (frames != Volatile.Read(ref _framesSeen))
        {
            _lease.Publish(frames);
        }

        Volatile.Write(ref _framesSeen, frames);
        Volatile.Write(ref _framesCheckpointed, frames); // the next wake-up comes after another PASSIVE interval of commits
        if (Pause.WalAtMax)
        {
            Escalate(_time.GetTimestamp());
        }
    }

    private void Evaluate()
    {
        if (_health.SyncFailure is not null)
        {
            return; // the disk failed an fsync: nothing more is written into the file until it is reopened
        }

        if (!_lease.TryTake())
        {
            Follow();
            return;
        }

        var now = _time.GetTimestamp();
        var commits = Interlocked.Read(ref _commits);
        var frames = commits == _commitsAtRestart ? 0 : Volatile.Read(ref _walFrames); // after a RESTART the WAL starts over at the next commit
        if (frames < _framesSeen)
        {
            NoteReset(); // a commit started the WAL again from its beginning
        }

        Volatile.Write(ref _framesSeen, frames);
        var walBytes = Files.DatabaseFiles.SizeOf(_walPath) ?? 0;
        var escalate = commits != _commitsAtRestart && (frames >= _restartFrames || walBytes > _options.WalSizeLimit);
        // At the hard bound the writer is waiting: try the reset on every wake-up, without the backoff.
        if (escalate && (now >= _retryEscalationAt || Pause.WalAtMax))
        {
            Escalate(now);
        }
        else if (frames - _framesCheckpointed >= PassiveFrames)
        {
            Checkpoint(WaldenCheckpointMode.Passive, _escalationBusyTimeout);
        }

        CheckIdle(now, commits);
        CheckStarvation(Interlocked.Read(ref _commits));
        if (_options.MaintenanceInterval > TimeSpan.Zero && now >= _nextMaintenanceAt)
        {
            _nextMaintenanceAt = NextMaintenance(now);
            _maintenanceDue();
        }
    }

    private void Escalate(long now)
    {
        // The bulk of the copying happens without the write lock (the regular PASSIVE checkpoints, or this one
        // when they fell behind); RESTART then only finishes the tail while the writer waits.
        if (Volatile.Read(ref _walFrames) - _framesCheckpointed >= PassiveFrames)
        {
            Checkpoint(WaldenCheckpointMode.Passive, _escalationBusyTimeout);
        }

        var restart = Checkpoint(WaldenCheckpointMode.Restart, _escalationBusyTimeout);
        if (!restart.Busy)
        {
            _firstBusyEscalationAt = null;
            _backoff = TimeSpan.Zero;
            return;
        }

        // A reader of an older snapshot is in the way. Unless a read of this process is already long, the
        // obstacle is most likely a short read that lost the CPU for a moment: try again at once, with the
        // writer still held at the hard mark (its own safety cap keeps it moving), for up to LongReadAge.
        // Past that, or with a long read here, stop holding the writer back until the WAL is reset (a long
        // read is starving the checkpoints; that is reported separately) and back off.
        var checkedAt = _time.GetTimestamp();
        _firstBusyEscalationAt ??= checkedAt;
        var longReadHere = _oldestReadLease() is { } age && age >= LongReadAge;
        // No frame counts: the checkpoint lock itself was taken, by a checkpoint of another process (one that is not Walden's).
        // Retrying at once would only spin against it: back off as for a long read.
        var otherCheckpointer = restart.LogFrames < 0;
        if (!longReadHere && !otherCheckpointer && _time.GetElapsedTime(_firstBusyEscalationAt.Value, checkedAt) < LongReadAge)
        {
            _wake.Set();
            return;
        }

        _hardWaitSuppressed = true;
        Pause.ClearWalFull();
        _backoff = _backoff == TimeSpan.Zero ? FirstEscalationBackoff : Min(_backoff * 2, MaxEscalationBackoff);
        _retryEscalationAt = now + (long)(_backoff.TotalSeconds * _time.TimestampFrequency);
    }

    private void CheckIdle(long now, long commits)
    {
        if (commits == _commitsAtTruncate || _time.GetElapsedTime(Volatile.Read(ref _lastCommitAt), now) < _options.CheckpointIdleDelay)
        {
            return;
        }

        if ((Files.DatabaseFiles.SizeOf(_walPath) ?? 0) == 0)
        {
            _commitsAtTruncate = commits;
            return;
        }

        using var pause = Pause.Hold();
        if (Interlocked.Read(ref _commits) != commits)
        {
            return; // a batch was running when the WAL was found idle, and it committed: writes resumed, the next idle time will do
        }

        var result = CheckpointPaused(WaldenCheckpointMode.Truncate, _escalationBusyTimeout);
        if (!result.Busy)
        {
            _commitsAtTruncate = commits;
        }
    }

    private void CheckStarvation(long commits)
    {
        // The checkpoints above may have taken a while: measure from now, not from the start of the evaluation.
        var now = _time.GetTimestamp();
        var walBytes = Files.DatabaseFiles.SizeOf(_walPath) ?? 0;
        // After a RESTART and before the next commit the WAL is logically empty, however large its file still is.
        if (walBytes <= _options.WalSizeLimit || commits == _commitsAtRestart)
        {
            _overLimit = false;
            _starved = false;
            return;
        }

        if (!_overLimit)
        {
            _overLimit = true;
            _overLimitSince = now;
            return;
        }

        var overFor = _time.GetElapsedTime(_overLimitSince, now);
        if (!_starved && overFor >= _options.CheckpointStarvationThreshold)
        {
            _starved = true;
            _metrics.RecordStarvation();
            LogMessages.CheckpointStarved(_logger, _name, walBytes, _options.WalSizeLimit, overFor.TotalSeconds,
                DescribeSnapshotHolders(WalReaderProcesses.Find(_databasePath)) +
                $" Past WaldenOptions.MaxWalSize ({_options.EffectiveMaxWalSize:N0} bytes) writes fail with WaldenWalLimitException.");
        }
    }

    /// <summary>
    /// Who holds the old snapshot, in sentences that say what to do: a read of this process (MaxReadLeaseDuration can end it),
    /// other processes (only they can end their reads), or nobody found.
    /// </summary>
    private string DescribeSnapshotHolders(IReadOnlyList<WalReaderProcess> holders)
    {
        var parts = new List<string>(2);
        var others = holders.Where(p => p.ProcessId != Environment.ProcessId).ToList();
        if (_oldestReadLease() is null && others.Count < holders.Count)
        {
            parts.Add($"A connection of this process (pid {Environment.ProcessId}) that is not one of Walden's holds a read transaction on the WAL " +
                "(a plain SqliteConnection, for example): end that transaction; MaxReadLeaseDuration covers only WaldenDatabase.ReadAsync.");
        }

        if (_oldestReadLease() is { } age)
        {
            parts.Add($"This process's oldest read has held its snapshot for {age.TotalSeconds:0.###} s: shorten long reads or set " +
                $"WaldenOptions.MaxReadLeaseDuration (currently {(_options.MaxReadLeaseDuration is { } max ? $"{max.TotalSeconds:0.###} s" : "not set")}).");
        }

        if (others.Count > 0)
        {
            parts.Add($"Other processes hold read transactions on the WAL: {WalReaderProcesses.Describe(others)}. " +
                "MaxReadLeaseDuration cannot end another process's read: end its read transaction there (or stop that process).");
        }

        if (parts.Count == 0)
        {
            parts.Add("No read of this process is running and no other process was found holding a WAL read lock " +
                "(a process in another PID namespace or on another host does not show in /proc/locks).");
        }

        return string.Join(" ", parts);
    }

    /// <summary>The error for writes refused at the hard bound; logged once until the WAL is reset. Called on the writer thread.</summary>
    private WaldenWalLimitException WalLimitFailure()
    {
        var holders = WalReaderProcesses.Find(_databasePath);
        var message = $"The -wal file of '{_name}' reached WaldenOptions.MaxWalSize ({_options.EffectiveMaxWalSize:N0} bytes) and no checkpoint " +
            $"could reset it within WaldenOptions.BusyTimeout ({_options.BusyTimeout.TotalSeconds:0.###} s), so this write was refused; nothing of it was applied. " +
            "A read transaction on an old snapshot stops checkpoints from resetting the WAL. " + DescribeSnapshotHolders(holders) +
            " Writes succeed again as soon as that read ends and a checkpoint resets the WAL; to allow a larger WAL meanwhile, raise MaxWalSize.";
        if (Interlocked.Exchange(ref _walLimitLogged, 1) == 0)
        {
            LogMessages.WalLimitReached(_logger, _name, message);
        }

        return new WaldenWalLimitException(message, holders.Select(p => p.ProcessId).Where(pid => pid != Environment.ProcessId).ToList());
    }

    /// <summary>New WAL frames that call for a PASSIVE checkpoint: fewer when reads started since the last checkpoint.</summary>
    private int PassiveFrames => _readsStarted() != Volatile.Read(ref _readsAtLastCheckpoint) ? _readerPassiveFrames : _passiveFrames;

    private WaldenCheckpointResult Checkpoint(WaldenCheckpointMode mode, TimeSpan busyTimeout)
    {
        using var pause = mode == WaldenCheckpointMode.Passive ? default(WriterPause.Scope?) : Pause.Hold();
        return CheckpointPaused(mode, busyTimeout);
    }

    /// <summary>Runs the checkpoint; for every mode but PASSIVE, the caller holds <see cref="Pause"/>.</summary>
    private WaldenCheckpointResult CheckpointPaused(WaldenCheckpointMode mode, TimeSpan busyTimeout)
    {
        Volatile.Write(ref _readsAtLastCheckpoint, _readsStarted()); // reads from here on make the next PASSIVE come sooner
        if (mode != WaldenCheckpointMode.Passive)
        {
            Seam?.ResetStarting(); // held: the archive has taken every commit of Walden's writer; it looks for anyone else's
        }

        // RESTART and TRUNCATE need the write lock: they queue for it with the other Walden processes' writers.
        using var turn = mode == WaldenCheckpointMode.Passive || _turn is null ? null : new TurnScope(_turn, busyTimeout);
        _connection.Busy.Deadline = busyTimeout;
        var started = _time.GetTimestamp();
        int busy, log, checkpointed;
        // Stepped directly (not through SqliteCommand's 150 ms busy loop): it waits busyTimeout and not longer.
        var row = RawStatement.QueryRow(_connection.Connection, $"PRAGMA wal_checkpoint({mode.ToString().ToUpperInvariant()})")!;
        busy = (int)(long)row[0]!;
        log = (int)(long)row[1]!;
        checkpointed = (int)(long)row[2]!;

        _health.CheckpointSucceeded();
        _failureLog?.Succeeded();
        var commits = Interlocked.Read(ref _commits); // the writer is paused for every mode but PASSIVE, so this is exact for those
        var ended = _time.GetTimestamp();
        var result = new WaldenCheckpointResult(mode, busy != 0, log, checkpointed, _time.GetElapsedTime(started, ended), _time.GetUtcNow());
        var previous = _framesCheckpointed;
        var reset = busy == 0 && mode is WaldenCheckpointMode.Restart or WaldenCheckpointMode.Truncate;
        // TRUNCATE reports 0 frames once it emptied the WAL; what it copied is what the last commit left there.
        var copiedUpTo = mode == WaldenCheckpointMode.Truncate && reset && commits != _commitsAtRestart ? Volatile.Read(ref _walFrames) : checkpointed;
        _metrics.RecordCheckpoint(result, Math.Max(0, copiedUpTo - (log >= previous || mode == WaldenCheckpointMode.Truncate ? previous : 0)));
        // Busy with no frame counts: another connection (a process that is not Walden's) is checkpointing right now. Wait
        // for another PASSIVE interval of commits rather than retry at every commit while it runs.
        var checkpointedNow = busy != 0 && log < 0 ? Volatile.Read(ref _walFrames) : Math.Max(0, checkpointed);
        Volatile.Write(ref _framesCheckpointed, checkpointedNow);
        if (reset)
        {
            Seam?.ResetDone();
            _commitsAtRestart = commits;
            if (mode == WaldenCheckpointMode.Truncate)
            {
                _commitsAtTruncate = commits;
            }

            NoteReset();
        }

        LogMessages.Checkpointed(_logger, _name, mode, busy != 0, log, checkpointed, result.Duration.TotalMilliseconds);
        return result;
    }

    private void NoteReset()
    {
        _firstBusyEscalationAt = null;
        _hardWaitSuppressed = false;
        Pause.ClearWalFull();
        Pause.ClearWalAtMax();
        Volatile.Write(ref _walLimitLogged, 0);
        Volatile.Write(ref _framesCheckpointed, 0);
        Volatile.Write(ref _framesSeen, 0);
        _overLimit = false;
        if (_starved)
        {
            _starved = false;
            LogMessages.CheckpointStarvationEnded(_logger, _name);
        }
    }

    private long NextMaintenance(long now) =>
        _options.MaintenanceInterval > TimeSpan.Zero ? now + (long)(_options.MaintenanceInterval.TotalSeconds * _time.TimestampFrequency) : long.MaxValue;

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private sealed class TurnScope : IDisposable
    {
        private readonly Writing.WriteTurn _turn;

        internal TurnScope(Writing.WriteTurn turn, TimeSpan timeout)
        {
            _turn = turn;
            turn.Acquire(timeout);
        }

        public void Dispose() => _turn.Release();
    }

    private sealed class Request(WaldenCheckpointMode? mode, CancellationToken cancellationToken)
    {
        public WaldenCheckpointMode? Mode { get; } = mode;

        public CancellationToken CancellationToken { get; } = cancellationToken;

        public TaskCompletionSource<WaldenCheckpointResult> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
