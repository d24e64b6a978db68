namespace Walden.Cli.Torture;

/// <summary>What one cycle did and what the checker found afterwards.</summary>
internal sealed record CycleResult(
    int Cycle,
    string KillMode,
    int ProcessesKilled,
    double KillAtSeconds,
    long WritesAcknowledged,
    IReadOnlyList<int> AcknowledgedPerWorker,
    double WriteSeconds,
    double AcknowledgedPerSecond,
    long RowsInDatabase,
    long WritesLost,
    bool IntegrityOk,
    long DuplicateRecords,
    long DamagedRecords,
    int CorruptionsSeenByWorkers,
    int WorkerFailures,
    int WorkerErrors,
    int PartialLinesIgnored,
    long Checkpoints,
    long Reads,
    double CheckSeconds,
    HazardResult? Hazard,
    IReadOnlyList<string> Problems,
    PowerCutResult? PowerCut = null,
    long ForeignCommits = 0)
{
    /// <summary>Whether Walden kept its promise in this cycle (a committed hazard's own damage is judged apart).</summary>
    internal bool Clean => WritesLost == (PowerCut?.AllowedLoss ?? 0) && IntegrityOk && DuplicateRecords == 0 && DamagedRecords == 0 && CorruptionsSeenByWorkers == 0 && WorkerFailures == 0;
}

/// <summary>What the checker found after a hazard was committed on purpose.</summary>
internal sealed record HazardResult(string Mode, bool Detected, long WritesLost, bool IntegrityOk, long DamagedRecords, string Detail);

/// <summary>The figures of a whole run, as printed and as JSON.</summary>
internal sealed record TortureReport(
    string Database,
    string RunLog,
    string? FailureLog,
    int Seed,
    int Processes,
    int ProducersPerProcess,
    WaldenDurability Durability,
    string Hazard,
    double SecondsPerCycle,
    string SqliteVersion,
    int CyclesRequested,
    int Cycles,
    int Kills,
    int CyclesKillingAll,
    int CyclesKillingOne,
    long WritesAcknowledged,
    long WritesLost,
    int IntegrityFailures,
    long DuplicateRecords,
    long DamagedRecords,
    int WorkerFailures,
    int WorkerErrors,
    int PartialLinesIgnored,
    long Checkpoints,
    long Reads,
    double ThroughputMinPerSecond,
    double ThroughputMedianPerSecond,
    double ThroughputMaxPerSecond,
    double ElapsedSeconds,
    bool HazardDetected,
    string Verdict,
    IReadOnlyList<CycleResult> CycleResults,
    PowerLossSummary? PowerLoss = null,
    long ForeignCommits = 0)
{
    /// <summary>Nothing Walden promised was broken.</summary>
    internal bool Passed => WritesLost == 0 && IntegrityFailures == 0 && DuplicateRecords == 0 && DamagedRecords == 0 && WorkerFailures == 0;
}
