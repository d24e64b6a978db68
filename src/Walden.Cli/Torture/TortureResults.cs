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
    internal bool Clean => WritesLost == (PowerCut?.AllowedLoss ?? 0) && IntegrityOk && DuplicateRecords == 0 && DamagedRecords == 0 && CorruptionsSeenByWorkers == 0 && WorkerFailures == 0
        && Archive is null or { Passed: true };

    /// <summary>With <c>--archive</c>: what the restore from the archive alone held.</summary>
    internal ArchiveCycleResult? Archive { get; init; }
}

/// <summary>A cycle's restore from the archive alone and its check.</summary>
/// <param name="Required">Acknowledged writes that must be in it (all in Sync; those acknowledged at least the bound before the kill in Async).</param>
/// <param name="Lost">Required writes missing from it.</param>
/// <param name="WithinBoundMissing">Async: writes acknowledged inside the bound before the kill that it does not hold (allowed).</param>
/// <param name="IntegrityOk">integrity_check of the restored file, and no damaged or duplicate record.</param>
/// <param name="Complete">Restore reached the archive's end without a damaged or missing segment.</param>
/// <param name="Rows">Records in the restored database.</param>
/// <param name="RestoreSeconds">How long the restore took.</param>
/// <param name="Problem">What went wrong, if anything.</param>
internal sealed record ArchiveCycleResult(long Required, long Lost, long WithinBoundMissing, bool IntegrityOk, bool Complete, long Rows,
    double RestoreSeconds, string? Problem)
{
    internal bool Passed => Lost == 0 && IntegrityOk && Complete && Problem is null;
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
    long ForeignCommits = 0,
    ArchiveSummary? Archive = null)
{
    /// <summary>Nothing Walden promised was broken.</summary>
    internal bool Passed => WritesLost == 0 && IntegrityFailures == 0 && DuplicateRecords == 0 && DamagedRecords == 0 && WorkerFailures == 0
        && Archive is null or { Lost: 0, Failures: 0 };
}

/// <summary>The archive's figures over a run (<c>--archive</c>).</summary>
/// <param name="Mode">sync or async.</param>
/// <param name="BoundSeconds">Async: the lag bound the check allowed.</param>
/// <param name="Restores">Restores from the archive alone (one per cycle).</param>
/// <param name="Required">Acknowledged writes required in the restores, summed over cycles.</param>
/// <param name="Lost">Required writes a restore did not hold.</param>
/// <param name="WithinBoundMissing">Async: writes acknowledged within the bound before a kill that the restore did not hold (allowed).</param>
/// <param name="Failures">Restores that failed, stopped early, or held a damaged file.</param>
/// <param name="RestoreSecondsMedian">Median restore time.</param>
/// <param name="RestoreSecondsMax">Longest restore.</param>
internal sealed record ArchiveSummary(string Mode, double BoundSeconds, int Restores, long Required, long Lost, long WithinBoundMissing, int Failures,
    double RestoreSecondsMedian, double RestoreSecondsMax)
{
    internal static ArchiveSummary? From(TortureSettings settings, IReadOnlyList<CycleResult> cycles)
    {
        if (settings.Archive is not { } mode)
        {
            return null;
        }

        var results = cycles.Select(c => c.Archive).OfType<ArchiveCycleResult>().ToList();
        var seconds = results.Select(r => r.RestoreSeconds).Order().ToArray();
        return new ArchiveSummary(mode.ToString().ToLowerInvariant(), settings.ArchiveBound.TotalSeconds, results.Count, results.Sum(r => r.Required),
            results.Sum(r => r.Lost), results.Sum(r => r.WithinBoundMissing), results.Count(r => !r.IntegrityOk || !r.Complete || r.Problem is not null),
            seconds.Length > 0 ? seconds[seconds.Length / 2] : 0, seconds.Length > 0 ? seconds[^1] : 0);
    }
}
