namespace Walden.Cli.Bench;

/// <summary>Everything one <c>walden bench</c> run measured; this is the --json output.</summary>
internal sealed record BenchReport(
    string SqliteVersion,
    BenchMachine Machine,
    BenchSettings Settings,
    double MeanBodyBytes,
    IReadOnlyList<ScenarioResult> Scenarios,
    ReadResult? Reads,
    IdleResult? Idle,
    string? NodePeerVersion,
    string? NodePeerSkipped,
    IReadOnlyList<RatioRow> Ratios,
    IReadOnlyList<TargetResult> Targets,
    IReadOnlyList<string> Findings,
    IReadOnlyList<string> Notes,
    double TotalSeconds,
    IReadOnlyList<ArchiveBenchResult>? Archive = null,
    IReadOnlyList<double>? WarmUpJitMilliseconds = null,
    IReadOnlyList<BenchRound>? Rounds = null);

/// <summary>What one round of a run of several measured (<see cref="BenchConfig.Rounds"/>); the report's scenarios combine them.</summary>
/// <param name="Round">1 for the first round.</param>
/// <param name="Scenarios">Each write scenario of the round.</param>
/// <param name="Archive">The archive scenarios' figures of the round.</param>
internal sealed record BenchRound(int Round, IReadOnlyList<ScenarioResult> Scenarios, IReadOnlyList<ArchiveBenchResult> Archive);

/// <summary>Where the run happened.</summary>
internal sealed record BenchMachine(int ProcessorCount, string Os, string Runtime, string Folder, string Disk);

/// <summary>The run's configuration as it ran.</summary>
internal sealed record BenchSettings(IReadOnlyList<int> Producers, double ScenarioSeconds, int? WritesPerProducer, int Readers,
    int ReadLoadProducers, int ReadSeedRows, int LimitTransactionRows, int BufferRows, double BufferIntervalSeconds,
    int SeedBusyTimeoutSeconds, int Seed, string Order, int Rounds = 1);

/// <summary>Walden's rows/s over each baseline's at one producer count (null when a scenario is missing).</summary>
internal sealed record RatioRow(int Producers, double? WaldenFullOverLimit, double? WaldenNormalOverLimit,
    double? WaldenFullOverSeedA, double? WaldenNormalOverSeedA, double? WaldenFullOverSeedB, double? WaldenNormalOverSeedB,
    double? WaldenFullOverCeiling, double? CeilingOverLimit, double? WaldenPlainOverCeiling, double? WaldenFullOverCarefulPeer,
    double? WaldenFullOverNode, double? PipelinedOverFull);

/// <summary>One of the issue's targets, as measured by this run; <paramref name="Met"/> is null when this run could not measure it.</summary>
internal sealed record TargetResult(string Target, string Measured, bool? Met);

/// <summary>Builds the ratios and target checks from the measured scenarios.</summary>
internal static class BenchAnalysis
{
    internal const string CeilingNote =
        "ceiling N/commit: the limit's loop with N rows per transaction. When N producers each await a durable acknowledgement " +
        "before their next row, no commit can carry more than N rows, so no writer can pass this figure at that N.";

    internal const string SeedBNote =
        "Seed pattern B acknowledges a row when it is handed to its in-memory buffer: buffered rows are NOT durable until " +
        "the next flush (50 rows or 1 s), so a crash loses them. Its latency is not comparable with a durable acknowledgement. " +
        "B runs with synchronous NORMAL, as that application did.";

    internal const string PipelinedNote =
        "Walden Pipelined (durability FullPipelined, opt-in): commits with synchronous NORMAL while another thread fsyncs the WAL; " +
        "a write is acknowledged only after an fsync that started after its commit. Weaker point: a reader may see a batch before it is durable.";

    internal static IReadOnlyList<RatioRow> Ratios(IReadOnlyList<ScenarioResult> scenarios, IEnumerable<int> producerCounts) =>
        producerCounts.Select(n =>
        {
            var limit = Find(scenarios, ScenarioKind.Limit, n);
            var a = Find(scenarios, ScenarioKind.SeedPatternA, n);
            var b = Find(scenarios, ScenarioKind.SeedPatternB, n);
            var full = Find(scenarios, ScenarioKind.WaldenFull, n);
            var normal = Find(scenarios, ScenarioKind.WaldenNormal, n);
            var ceiling = Find(scenarios, ScenarioKind.BatchCeiling, n);
            return new RatioRow(n, Ratio(full, limit), Ratio(normal, limit), Ratio(full, a), Ratio(normal, a), Ratio(full, b), Ratio(normal, b),
                Ratio(full, ceiling), Ratio(ceiling, limit), Ratio(Find(scenarios, ScenarioKind.WaldenFullPlain, n), ceiling),
                Ratio(full, Find(scenarios, ScenarioKind.CarefulPeer, n)), Ratio(full, Find(scenarios, ScenarioKind.NodeGroupCommit, n)),
                Ratio(Find(scenarios, ScenarioKind.WaldenPipelined, n), full));
        }).ToList();

    /// <summary>
    /// What the batch ceiling says about the throughput targets: with N producers that each await a durable
    /// acknowledgement, no commit can carry more than N rows, so no writer (Walden or any other) can pass the
    /// ceiling scenario's rows/s at that N.
    /// </summary>
    internal static IReadOnlyList<string> Findings(IReadOnlyList<ScenarioResult> scenarios, IEnumerable<int> producerCounts)
    {
        var findings = new List<string>();
        foreach (var n in producerCounts)
        {
            var limit = Find(scenarios, ScenarioKind.Limit, n);
            var ceiling = Find(scenarios, ScenarioKind.BatchCeiling, n);
            var a = Find(scenarios, ScenarioKind.SeedPatternA, n);
            var full = Find(scenarios, ScenarioKind.WaldenFull, n);
            if (ceiling is null || full is null || limit is null)
            {
                continue;
            }

            var versusA = a is null ? "" : $", {Ratio(ceiling, a):0.0} x seed A";
            findings.Add($"N={n}: one thread committing {n} rows per transaction (nothing else running) reaches {ceiling.RowsPerSecond:N0} rows/s = " +
                $"{Ratio(ceiling, limit):0.00} x limit{versusA}; Walden Full reaches {Ratio(full, ceiling):0.00} x that ceiling.");
        }

        return findings;
    }

    /// <summary>The targets of issue 19, each with what this run measured and met / missed (null: not measured by this run).</summary>
    internal static IReadOnlyList<TargetResult> Targets(IReadOnlyList<ScenarioResult> scenarios, ReadResult? reads, IdleResult? idle,
        SimulatedDisk? disk, string? nodeSkipped, IEnumerable<int> producerCounts)
    {
        var targets = new List<TargetResult>();
        var counts = producerCounts.ToList();
        var slow = disk is null ? "" : $" [{disk.DelayMicroseconds / 1000.0:0.###} ms fsync]";
        foreach (var n in counts)
        {
            if (Ratio(Find(scenarios, ScenarioKind.WaldenFull, n), Find(scenarios, ScenarioKind.BatchCeiling, n)) is { } r)
            {
                targets.Add(new TargetResult($"1. Walden Full / ceiling N/commit >= 0.9 at N={n}{slow}", $"{r:0.00} x", r >= 0.9));
            }
        }

        if (Ratio(Find(scenarios, ScenarioKind.WaldenFullPlain, 64), Find(scenarios, ScenarioKind.BatchCeiling, 64)) is { } plain)
        {
            targets.Add(new TargetResult($"1. Walden Full, new SqliteCommand + AddWithValue per write / ceiling >= 0.85 at N=64{slow}",
                $"{plain:0.00} x", plain >= 0.85));
        }

        if (Find(scenarios, ScenarioKind.WaldenFull, 64) is { } full64 && Find(scenarios, ScenarioKind.CarefulPeer, 64) is { } peer64)
        {
            var r = Ratio(full64, peer64)!.Value;
            targets.Add(new TargetResult($"2. Walden Full >= 5 x the careful .NET peer at N=64{slow}",
                $"{r:0.0} x ({full64.RowsPerSecond:N0} vs {peer64.RowsPerSecond:N0} rows/s)", r >= 5));
        }

        if (Find(scenarios, ScenarioKind.WaldenPipelined, 64) is { } pipe64 && Find(scenarios, ScenarioKind.WaldenFull, 64) is { } fullForPipe)
        {
            var r = Ratio(pipe64, fullForPipe)!.Value;
            var measured = $"{r:0.00} x ({pipe64.RowsPerSecond:N0} vs {fullForPipe.RowsPerSecond:N0} rows/s)";
            targets.Add(disk is { DelayMicroseconds: 5000 }
                ? new TargetResult("3. Walden Pipelined >= 1.5 x Walden Full at N=64, 5 ms fsync", measured, r >= 1.5)
                : new TargetResult("3. Walden Pipelined >= 1.5 x Walden Full at N=64, 5 ms fsync",
                    $"{measured} on {(disk is null ? "this disk" : disk.Description)}; " +
                    "the target needs WALDEN_FSYNC_DELAY_US=5000 (bench/slowsync)", null));
        }

        foreach (var n in counts.Where(n => n >= 8))
        {
            var full = Find(scenarios, ScenarioKind.WaldenFull, n);
            if (Find(scenarios, ScenarioKind.NodeGroupCommit, n) is { } node && full is not null)
            {
                var r = Ratio(full, node)!.Value;
                targets.Add(new TargetResult($"3b. Walden Full > Node group commit at N={n}{slow}",
                    $"{r:0.00} x ({full.RowsPerSecond:N0} vs {node.RowsPerSecond:N0} rows/s)", r > 1));
            }
            else if (nodeSkipped is not null && full is not null)
            {
                targets.Add(new TargetResult($"3b. Walden Full > Node group commit at N={n}", $"not run: {nodeSkipped}", null));
            }
        }

        if (reads is not null)
        {
            targets.Add(new TargetResult($"4. {reads.Readers} readers during {reads.Producers}-producer load lose < 20%",
                $"{reads.LossPercent:0.0}% ({reads.LoadedReadsPerSecond:N0} vs {reads.AloneReadsPerSecond:N0} reads/s)", reads.LossPercent < 20));
        }

        if (idle is not null)
        {
            targets.Add(new TargetResult($"5. CPU per write at {idle.WritesPerSecond:N0} writes/s <= 1.3 x a direct insert-and-commit",
                $"{idle.CpuRatio:0.00} x ({idle.WaldenCpuUsPerWrite:N0} vs {idle.DirectCpuUsPerWrite:N0} us per write)", idle.CpuRatio <= 1.3));
            targets.Add(new TargetResult($"5. Open, no write for a second (then {idle.IdleSeconds:0.#} s measured) < 1% of one core",
                $"{idle.IdlePercentWithoutJit:0.00}% ({idle.IdlePercentOfCore:0.00}% with the runtime's JIT thread)", idle.IdlePercentWithoutJit < 1));
        }

        if (Find(scenarios, ScenarioKind.WaldenFull, 64) is { } f && Find(scenarios, ScenarioKind.SeedPatternA, 64) is { } a)
        {
            targets.Add(new TargetResult("Walden Full at N=64: p99 ack < 10 ms (issue 6)", $"{f.P99Ms:0.00} ms", f.P99Ms < 10));
            targets.Add(new TargetResult("Walden: zero errors at N=64 (seed pattern A's errors shown; issue 6)",
                $"Walden {f.Errors:N0}, seed A {a.Errors:N0}", f.Errors == 0));
        }

        return targets;
    }

    /// <summary>The archive targets of issue 18: what Async and Sync cost Walden Full in rows/s, and the Async lag against its 1 s bound.</summary>
    internal static IReadOnlyList<TargetResult> ArchiveTargets(IReadOnlyList<ScenarioResult> scenarios, IReadOnlyList<ArchiveBenchResult> archive,
        IEnumerable<int> producerCounts)
    {
        var targets = new List<TargetResult>();
        foreach (var n in producerCounts)
        {
            var full = Find(scenarios, ScenarioKind.WaldenFull, n);
            foreach (var (kind, mode, limit) in new[] { (ScenarioKind.WaldenArchiveAsync, "async", 0.10), (ScenarioKind.WaldenArchiveSync, "sync", 0.30) })
            {
                if (Find(scenarios, kind, n) is { } archived && Ratio(archived, full) is { } r)
                {
                    // Sync's floor on this disk, beside its cost: what a second durable file per commit costs the ceiling itself.
                    var floor = mode == "sync" && Ratio(Find(scenarios, ScenarioKind.BatchCeilingSecondFile, n), Find(scenarios, ScenarioKind.BatchCeiling, n)) is { } f
                        ? $"; this disk's floor, a second file synced per commit: {1 - f:P1} of the ceiling's rows/s"
                        : "";
                    targets.Add(new TargetResult($"18. Archive {mode} costs < {limit:P0} of Walden Full's rows/s at N={n}",
                        $"{1 - r:P1} ({archived.RowsPerSecond:N0} vs {full!.RowsPerSecond:N0} rows/s; p99 ack {archived.P99Ms:0.00} vs {full.P99Ms:0.00} ms{floor})",
                        1 - r < limit));
                }
            }

            if (archive.FirstOrDefault(a => a.Mode == "async" && a.Producers == n) is { } lag)
            {
                targets.Add(new TargetResult($"18. Archive async lag p99 <= 1 s (MaxLag; Litestream's default interval is 1 s) at N={n}",
                    $"{lag.LagP99Ms:0.0} ms (p50 {lag.LagP50Ms:0.0} ms)", lag.LagP99Ms <= 1000));
            }
        }

        foreach (var a in archive.Where(a => !a.RestoredRowsMatch))
        {
            targets.Add(new TargetResult($"18. Restore of the {a.Mode} archive at N={a.Producers} holds every acknowledged row", "rows missing", false));
        }

        return targets;
    }

    private static ScenarioResult? Find(IReadOnlyList<ScenarioResult> scenarios, ScenarioKind kind, int producers) =>
        scenarios.FirstOrDefault(s => s.Kind == kind && (kind is ScenarioKind.Limit or ScenarioKind.BatchCeiling or ScenarioKind.BatchCeilingSecondFile ? s.Group == producers : s.Producers == producers));

    private static double? Ratio(ScenarioResult? numerator, ScenarioResult? denominator) =>
        numerator is null || denominator is null || denominator.RowsPerSecond <= 0 ? null : numerator.RowsPerSecond / denominator.RowsPerSecond;
}
