using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
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
/// The metrics and running counts of one database. The writer role's holder records per batch, not per write,
/// except the acknowledgement latency, which it records once per write from a timestamp taken at enqueue:
/// no allocation either way (tags are prebuilt <see cref="TagList"/>s).
/// Recording never throws: a <c>MeterListener</c> callback is the application's code and runs inline, often
/// after a COMMIT returned, where an exception would turn a committed write into a reported failure. A listener's
/// exception is logged once per database and otherwise ignored.
/// </summary>
internal sealed class DatabaseMetrics : IDisposable
{
    private readonly TagList _committed;
    private readonly TagList _failed;
    private readonly TagList _cancelled;
    private readonly TagList[] _checkpointTags;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly string _name;
    private long _commits;
    private long _writesCommitted;
    private long _writesFailed;
    private long _writesCancelled;
    private long _checkpoints;
    private long _starvations;
    private WaldenCheckpointResult? _lastCheckpoint;
    private IDatabaseGauges? _source;
    private long _listenerFailures;

    internal DatabaseMetrics(string name, TimeProvider time, ILogger? logger = null)
    {
        _time = time;
        _name = name;
        _logger = new InfallibleLogger(logger ?? NullLogger.Instance);
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

    /// <summary>How many times a measurement listener threw while Walden recorded a measurement.</summary>
    internal long ListenerFailures => Interlocked.Read(ref _listenerFailures);

    internal WaldenCheckpointResult? LastCheckpoint => Volatile.Read(ref _lastCheckpoint);

    /// <summary>Starts reporting the observable instruments for <paramref name="source"/>.</summary>
    internal void Attach(IDatabaseGauges source)
    {
        _source = source;
        WaldenInstruments.Register(this);
    }

    /// <summary>The timestamp a write is stamped with when it is accepted.</summary>
    internal long Timestamp() => _time.GetTimestamp();

    /// <summary>Called by the writer role's holder once per acknowledged write, after the commit.</summary>
    internal void RecordAck(long acceptedAt, long now)
    {
        try
        {
            var seconds = _time.GetElapsedTime(acceptedAt, now).TotalSeconds;
            AckLatencies.Add(seconds);
            WaldenInstruments.AckLatency.Record(seconds, Tags);
        }
        catch (Exception ex)
        {
            ListenerFailed(WaldenInstruments.AckLatency.Name, ex);
        }
    }

    /// <summary>
    /// Called by the writer role's holder before it acknowledges <paramref name="committed"/> writes, so a caller whose write was
    /// acknowledged finds it counted in <see cref="WritesCommitted"/>.
    /// </summary>
    internal void CountWritesCommitted(int committed) => Interlocked.Add(ref _writesCommitted, committed);

    /// <summary>Called by the writer role's holder once per batch.</summary>
    internal void RecordBatch(int size, int committed, int failed, int cancelled, double transactionSeconds)
    {
        // The running counts first: they feed WaldenStats and must not depend on a listener.
        if (committed > 0)
        {
            Interlocked.Increment(ref _commits);
            CommitDurations.Add(transactionSeconds);
        }

        if (failed > 0)
        {
            Interlocked.Add(ref _writesFailed, failed);
        }

        if (cancelled > 0)
        {
            Interlocked.Add(ref _writesCancelled, cancelled);
        }

        var instrument = WaldenInstruments.BatchSize.Name;
        try
        {
            WaldenInstruments.BatchSize.Record(size, Tags);
            instrument = WaldenInstruments.Writes.Name;
            if (committed > 0)
            {
                WaldenInstruments.Writes.Add(committed, _committed);
                instrument = WaldenInstruments.CommitDuration.Name;
                WaldenInstruments.CommitDuration.Record(transactionSeconds, Tags);
                instrument = WaldenInstruments.Writes.Name;
            }

            if (failed > 0)
            {
                WaldenInstruments.Writes.Add(failed, _failed);
            }

            if (cancelled > 0)
            {
                WaldenInstruments.Writes.Add(cancelled, _cancelled);
            }
        }
        catch (Exception ex)
        {
            ListenerFailed(instrument, ex);
        }
    }

    internal void RecordCheckpoint(WaldenCheckpointResult result, int newlyCheckpointedFrames)
    {
        Interlocked.Increment(ref _checkpoints);
        Volatile.Write(ref _lastCheckpoint, result);
        var tags = _checkpointTags[(int)result.Mode];
        try
        {
            WaldenInstruments.CheckpointDuration.Record(result.Duration.TotalSeconds, tags);
            if (newlyCheckpointedFrames > 0)
            {
                WaldenInstruments.CheckpointFrames.Add(newlyCheckpointedFrames, tags);
            }
        }
        catch (Exception ex)
        {
            ListenerFailed(WaldenInstruments.CheckpointDuration.Name, ex);
        }
    }

    internal void RecordStarvation()
    {
        Interlocked.Increment(ref _starvations);
        try
        {
            WaldenInstruments.CheckpointStarvations.Add(1, Tags);
        }
        catch (Exception ex)
        {
            ListenerFailed(WaldenInstruments.CheckpointStarvations.Name, ex);
        }
    }

    public void Dispose() => WaldenInstruments.Unregister(this);

    private void ListenerFailed(string instrument, Exception exception)
    {
        if (Interlocked.Increment(ref _listenerFailures) == 1)
        {
            LogMessages.MeasurementListenerFailed(_logger, instrument, _name, exception);
        }
    }

    private TagList WithTag(string key, string value)
    {
        var tags = Tags;
        tags.Add(key, value);
        return tags;
    }
}
