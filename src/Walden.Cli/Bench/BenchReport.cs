namespace Walden.Cli.Bench;

/// <summary>Everything one <c>walden bench</c> run measured; this is the --json output.</summary>
internal sealed record BenchReport(
    string SqliteVersion,
    BenchMachine Machine,
    BenchSettings Settings,
    double MeanBodyBytes,
    IReadOnlyList<ScenarioResult> Scenarios,
    ReadResult? Reads,
    IReadOnlyList<RatioRow> Ratios,
    IReadOnlyList<TargetResult> Targets,
    IReadOnlyList<string> Findings,
    IReadOnlyList<string> Notes,
    double TotalSeconds);

/// <summary>Where the run happened.</summary>
internal sealed record BenchMachine(int ProcessorCount, string Os, string Runtime, string Folder);

/// <summary>The run's configuration as it ran.</summary>
internal sealed record BenchSettings(IReadOnlyList<int> Producers, double ScenarioSeconds, int? WritesPerProducer, int Readers,
    int ReadLoadProducers, int ReadSeedRows, int LimitTransactionRows, int BufferRows, double BufferIntervalSeconds,
    int SeedBusyTimeoutSeconds, int Seed, string Order);

/// <summary>Walden's rows/s over each baseline's at one producer count (null when a scenario is missing).</summary>
internal sealed record RatioRow(int Producers, double? WaldenFullOverLimit, double? WaldenNormalOverLimit,
    double? WaldenFullOverSeedA, double? WaldenNormalOverSeedA, double? WaldenFullOverSeedB, double? WaldenNormalOverSeedB,
    double? WaldenFullOverCeiling, double? CeilingOverLimit);

/// <summary>One of the targets, as measured by this run.</summary>
internal sealed record TargetResult(string Target, string Measured, bool Met);

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
                Ratio(full, ceiling), Ratio(ceiling, limit));
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

    internal static IReadOnlyList<TargetResult> Targets(IReadOnlyList<ScenarioResult> scenarios, ReadResult? reads)
    {
        var targets = new List<TargetResult>();
        var limit = Find(scenarios, ScenarioKind.Limit, 64);
        var a = Find(scenarios, ScenarioKind.SeedPatternA, 64);
        var full = Find(scenarios, ScenarioKind.WaldenFull, 64);
        if (full is not null && limit is not null)
        {
            var ratio = Ratio(full, limit)!.Value;
            targets.Add(new TargetResult("Walden Full at N=64 >= 0.8 x limit rows/s", $"{ratio:0.00} x ({full.RowsPerSecond:N0} vs {limit.RowsPerSecond:N0} rows/s)", ratio >= 0.8));
            targets.Add(new TargetResult("Walden Full at N=64: p99 ack < 10 ms", $"{full.P99Ms:0.00} ms", full.P99Ms < 10));
        }

        if (full is not null && a is not null)
        {
            var ratio = Ratio(full, a) ?? double.PositiveInfinity;
            targets.Add(new TargetResult("Walden Full at N=64 >= 40 x seed pattern A", $"{ratio:0.0} x ({full.RowsPerSecond:N0} vs {a.RowsPerSecond:N0} rows/s)", ratio >= 40));
            targets.Add(new TargetResult("Walden: zero errors at N=64 (seed pattern A's errors shown)", $"Walden {full.Errors:N0}, seed A {a.Errors:N0}", full.Errors == 0));
        }

        if (reads is not null)
        {
            targets.Add(new TargetResult($"{reads.Readers} readers during {reads.Producers}-producer load lose < 20%",
                $"{reads.LossPercent:0.0}% ({reads.LoadedReadsPerSecond:N0} vs {reads.AloneReadsPerSecond:N0} reads/s)", reads.LossPercent < 20));
        }

        return targets;
    }

    private static ScenarioResult? Find(IReadOnlyList<ScenarioResult> scenarios, ScenarioKind kind, int producers) =>
        scenarios.FirstOrDefault(s => s.Kind == kind && (kind is ScenarioKind.Limit or ScenarioKind.BatchCeiling ? s.Group == producers : s.Producers == producers));

    private static double? Ratio(ScenarioResult? numerator, ScenarioResult? denominator) =>
        numerator is null || denominator is null || denominator.RowsPerSecond <= 0 ? null : numerator.RowsPerSecond / denominator.RowsPerSecond;
}
