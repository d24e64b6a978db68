namespace Walden.Cli.Bench;

/// <summary>The write scenarios.</summary>
internal enum ScenarioKind
{
    /// <summary>One thread, one connection, a prepared insert, large transactions: the ceiling.</summary>
    Limit,

    /// <summary>
    /// The limit's loop with N rows per transaction: the most any writer can do when N producers each
    /// await a durable acknowledgement, since no commit can then carry more than N rows.
    /// </summary>
    BatchCeiling,

    /// <summary>
    /// The batch ceiling's loop with, after each COMMIT, the transaction's rows appended to a second file and made durable
    /// by its own <c>fdatasync</c>: what any synchronous archive must do at least (a second file on the same disk made
    /// durable before the acknowledgement), so its rows/s against the ceiling's is this disk's floor for the Sync cost.
    /// </summary>
    BatchCeilingSecondFile,

    /// <summary>Fusion's pattern: a connection per producer, one auto-committed INSERT per row.</summary>
    SeedPatternA,

    /// <summary>StepFlow's pattern: one shared connection behind a write buffer.</summary>
    SeedPatternB,

    /// <summary>Walden's WriteAsync, durability Full.</summary>
    WaldenFull,

    /// <summary>Walden's WriteAsync, durability Normal.</summary>
    WaldenNormal,

    /// <summary>
    /// The careful .NET peer: one shared connection behind a <see cref="SemaphoreSlim"/>, one BEGIN IMMEDIATE transaction
    /// per write, a prepared insert, synchronous FULL: what a competent developer writes without Walden.
    /// </summary>
    CarefulPeer,

    /// <summary>Walden Full as users write it: a new <c>SqliteCommand</c> and <c>AddWithValue</c> in every write.</summary>
    WaldenFullPlain,

    /// <summary>Walden's WriteAsync, durability FullPipelined (the fsync of batch k overlaps the commit of batch k+1).</summary>
    WaldenPipelined,

    /// <summary>Node and better-sqlite3: the awaited writes of one event-loop turn committed in one transaction (bench/node).</summary>
    NodeGroupCommit,

    /// <summary>Walden Full with the archive on, Async mode (a folder on the same disk).</summary>
    WaldenArchiveAsync,

    /// <summary>Walden Full with the archive on, Sync mode: acknowledged once in the local file and in the archive.</summary>
    WaldenArchiveSync,
}

/// <summary>Everything measured in one write scenario.</summary>
/// <param name="Kind">Which scenario.</param>
/// <param name="Group">The producer count of the group of scenarios this one ran in (the limit runs once per group, beside the others).</param>
/// <param name="Producers">Concurrent producers (1 for the limit: one thread).</param>
/// <param name="Synchronous">The SQLite synchronous level the scenario ran with.</param>
/// <param name="Rows">Rows acknowledged to their producers.</param>
/// <param name="RowsInDatabase">Rows counted in the database afterwards (must equal <paramref name="Rows"/>).</param>
/// <param name="Errors">Writes that failed (for seed pattern A: "database is locked" after its busy timeout).</param>
/// <param name="Seconds">Wall time from the first write to the last acknowledgement.</param>
/// <param name="RowsPerSecond">Acknowledged rows per second.</param>
/// <param name="P50Ms">Median acknowledgement latency.</param>
/// <param name="P99Ms">99th percentile acknowledgement latency.</param>
/// <param name="MaxMs">Slowest acknowledgement.</param>
/// <param name="PeakWalBytes">Largest -wal file size seen (file metadata, sampled every 20 ms).</param>
/// <param name="PeakWorkingSetBytes">Largest process working set seen.</param>
/// <param name="PeakManagedHeapBytes">Largest managed heap seen.</param>
/// <param name="AllocatedBytesPerWrite">Managed bytes allocated by the whole process during the scenario, per acknowledged row.</param>
/// <param name="DurableAtAck">Whether a row is durable when its producer is told it was written.</param>
/// <param name="CpuMicrosecondsPerWrite">
/// CPU of the whole process (every thread, user and kernel) during the scenario, per acknowledged row, in microseconds; less
/// sensitive to the machine's load than rows/s. Null when not measured (the Node peer runs in its own process).
/// </param>
/// <param name="JitMilliseconds">
/// Time the JIT spent compiling on any thread of the process during the scenario, in milliseconds: a scenario whose code was
/// still being compiled (tiered up) while it was measured ran part of its time on slower code and shared the cores with the
/// JIT. Null when not measured (the Node peer).
/// </param>
internal sealed record ScenarioResult(
    ScenarioKind Kind,
    int Group,
    int Producers,
    string Synchronous,
    long Rows,
    long RowsInDatabase,
    long Errors,
    double Seconds,
    double RowsPerSecond,
    double P50Ms,
    double P99Ms,
    double MaxMs,
    long PeakWalBytes,
    long PeakWorkingSetBytes,
    long PeakManagedHeapBytes,
    double AllocatedBytesPerWrite,
    bool DurableAtAck,
    double? CpuMicrosecondsPerWrite = null,
    double? JitMilliseconds = null)
{
    /// <summary>Every acknowledgement latency of the scenario (null where the scenario reports only percentiles: the Node peer), to combine rounds; not in the JSON.</summary>
    internal LatencyHistogram? Latencies { get; init; }

    /// <summary>A short name for tables.</summary>
    public string Name => Kind switch
    {
        ScenarioKind.Limit => "limit",
        ScenarioKind.BatchCeiling => "ceiling N/commit",
        ScenarioKind.BatchCeilingSecondFile => "ceiling + 2nd file synced",
        ScenarioKind.SeedPatternA => "seed A",
        ScenarioKind.SeedPatternB => "seed B",
        ScenarioKind.WaldenFull => "Walden Full",
        ScenarioKind.CarefulPeer => "careful .NET peer",
        ScenarioKind.WaldenFullPlain => "Walden Full, plain ADO",
        ScenarioKind.WaldenPipelined => "Walden Pipelined",
        ScenarioKind.NodeGroupCommit => "Node group commit",
        ScenarioKind.WaldenArchiveAsync => "Walden Full, archive async",
        ScenarioKind.WaldenArchiveSync => "Walden Full, archive sync",
        _ => "Walden Normal",
    };
}

/// <summary>One phase of the read scenario.</summary>
/// <param name="Phase">"alone-before", "loaded" or "alone-after".</param>
/// <param name="Reads">Reads completed.</param>
/// <param name="Seconds">Wall time of the phase.</param>
/// <param name="ReadsPerSecond">Reads per second over all readers.</param>
/// <param name="P50Ms">Median read latency.</param>
/// <param name="P99Ms">99th percentile read latency.</param>
/// <param name="WriteRows">Rows written by the producers in the same phase (0 when alone).</param>
/// <param name="WriteRowsPerSecond">Their rows per second.</param>
/// <param name="WriteP99Ms">Their 99th percentile acknowledgement latency.</param>
/// <param name="CpuMsPerSecond">CPU milliseconds per second of the phase by thread group (Linux only; 1,000 per core).</param>
internal sealed record ReadPhase(string Phase, long Reads, double Seconds, double ReadsPerSecond, double P50Ms, double P99Ms,
    long WriteRows, double WriteRowsPerSecond, double WriteP99Ms, IReadOnlyDictionary<string, double> CpuMsPerSecond);

/// <summary>The read scenario: readers alone, then during a write load, then alone again.</summary>
/// <param name="Readers">Concurrent readers.</param>
/// <param name="Producers">Producers writing during the loaded phase (Walden, durability Full).</param>
/// <param name="SeedRows">Rows in the database before the first phase.</param>
/// <param name="Phases">The three phases in the order run.</param>
/// <param name="AloneReadsPerSecond">The mean of the two phases without writers (the baseline).</param>
/// <param name="LoadedReadsPerSecond">Reads per second during the write load.</param>
/// <param name="LossPercent">How much the readers lose under the write load, in percent of the baseline.</param>
/// <param name="RowsWritten">Seeded rows plus rows acknowledged by the loaded phase's producers.</param>
/// <param name="RowsInDatabase">Rows counted in the database afterwards (must equal <paramref name="RowsWritten"/>).</param>
internal sealed record ReadResult(int Readers, int Producers, int SeedRows, IReadOnlyList<ReadPhase> Phases,
    double AloneReadsPerSecond, double LoadedReadsPerSecond, double LossPercent, long RowsWritten, long RowsInDatabase);
