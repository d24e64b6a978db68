using System.Diagnostics;
using Walden.Checkpointing;

namespace Walden.Diagnostics;

/// <summary>What the observable instruments read from an open database at each collection.</summary>
internal interface IDatabaseGauges
{
    int QueueDepth { get; }

    long BusyRetries { get; }

    long WalFileBytes { get; }

    long DatabaseFileBytes { get; }

    int ActiveReaders { get; }

    int IntegrityStatus { get; }
}

/// <summary>
/// The metrics and running counts of one database. The writer thread records per batch, not per write,
/// except the acknowledgement latency, which it records once per write from a timestamp taken at enqueue:
/// no allocation either way (tags are prebuilt <see cref="TagList"/>s).
/// </summary>
internal sealed class DatabaseMetrics : IDisposable
{
    private readonly TagList _committed;
    private readonly TagList _failed;
    private readonly TagList _cancelled;
    private readonly TagList[] _checkpointTags;
    private readonly TimeProvider _time;
    private long _commits;
    private long _writesCommitted;
    private long _writesFailed;
    private long _writesCancelled;
    private long _checkpoints;
    private long _starvations;
    private WaldenCheckpointResult? _lastCheckpoint;
    private IDatabaseGauges? _source;

    internal DatabaseMetrics(string name, TimeProvider time)
    {
        _time = time;
        Tags = new TagList { { WaldenInstruments.DatabaseNameTag, name } };
        _committed = WithTag(WaldenInstruments.OutcomeTag, "committed");
        _failed = WithTag(WaldenInstruments.OutcomeTag, "failed");
        _cancelled = WithTag(WaldenInstruments.OutcomeTag, "cancelled");
        _checkpointTags = Enum.GetValues<WaldenCheckpointMode>()
            .Select(mode => WithTag(WaldenInstruments.CheckpointModeTag, mode.ToString().ToLowerInvariant()))
            .ToArray();
    }

    internal TagList Tags { get; }

    internal IDatabaseGauges Source => _source ?? throw new InvalidOperationException("The metrics are not attached to a database yet.");

    internal LatencyReservoir AckLatencies { get; } = new();

    internal LatencyReservoir CommitDurations { get; } = new();

    internal long Commits => Interlocked.Read(ref _commits);

    internal long WritesCommitted => Interlocked.Read(ref _writesCommitted);

    internal long WritesFailed => Interlocked.Read(ref _writesFailed);

    internal long WritesCancelled => Interlocked.Read(ref _writesCancelled);

    internal long Checkpoints => Interlocked.Read(ref _checkpoints);

    internal long Starvations => Interlocked.Read(ref _starvations);

    internal WaldenCheckpointResult? LastCheckpoint => Volatile.Read(ref _lastCheckpoint);

    /// <summary>Starts reporting the observable instruments for <paramref name="source"/>.</summary>
    internal void Attach(IDatabaseGauges source)
    {
        _source = source;
        WaldenInstruments.Register(this);
    }

    /// <summary>The timestamp a write is stamped with when it is accepted.</summary>
    internal long Timestamp() => _time.GetTimestamp();

    /// <summary>Called by the writer thread once per acknowledged write, after the commit.</summary>
    internal void RecordAck(long acceptedAt, long now)
    {
        var seconds = _time.GetElapsedTime(acceptedAt, now).TotalSeconds;
        AckLatencies.Add(seconds);
        WaldenInstruments.AckLatency.Record(seconds, Tags);
    }

    /// <summary>Called by the writer thread once per batch.</summary>
    internal void RecordBatch(int size, int committed, int failed, int cancelled, double transactionSeconds)
    {
        WaldenInstruments.BatchSize.Record(size, Tags);
        if (committed > 0)
        {
            Interlocked.Increment(ref _commits);
            Interlocked.Add(ref _writesCommitted, committed);
            WaldenInstruments.Writes.Add(committed, _committed);
            CommitDurations.Add(transactionSeconds);
            WaldenInstruments.CommitDuration.Record(transactionSeconds, Tags);
        }

        if (failed > 0)
        {
            Interlocked.Add(ref _writesFailed, failed);
            WaldenInstruments.Writes.Add(failed, _failed);
        }

        if (cancelled > 0)
        {
            Interlocked.Add(ref _writesCancelled, cancelled);
            WaldenInstruments.Writes.Add(cancelled, _cancelled);
        }
    }

    internal void RecordCheckpoint(WaldenCheckpointResult result, int newlyCheckpointedFrames)
    {
        Interlocked.Increment(ref _checkpoints);
        Volatile.Write(ref _lastCheckpoint, result);
        var tags = _checkpointTags[(int)result.Mode];
        WaldenInstruments.CheckpointDuration.Record(result.Duration.TotalSeconds, tags);
        if (newlyCheckpointedFrames > 0)
        {
            WaldenInstruments.CheckpointFrames.Add(newlyCheckpointedFrames, tags);
        }
    }

    internal void RecordStarvation()
    {
        Interlocked.Increment(ref _starvations);
        WaldenInstruments.CheckpointStarvations.Add(1, Tags);
    }

    public void Dispose() => WaldenInstruments.Unregister(this);

    private TagList WithTag(string key, string value)
    {
        var tags = Tags;
        tags.Add(key, value);
        return tags;
    }
}
