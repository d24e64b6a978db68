namespace Walden.Cli.Bench;

/// <summary>
/// Combines the rounds of a run (<see cref="BenchConfig.Rounds"/>) into one figure per scenario. On this kind of disk the
/// fsync time moves by up to 2x within seconds, so one pass of a scenario beside its baseline can land on a slow and a
/// fast moment; several interleaved rounds, each scenario measured beside its baseline every time, sample both across
/// the drift, and their totals are what the report's ratios and targets read. Totals, not averages of ratios: rows/s is
/// all the rows over all the measured time, CPU, allocations and JIT time are summed, latency percentiles come from the
/// rounds' merged histograms, peaks are the largest seen.
/// </summary>
internal static class BenchRounds
{
    /// <summary>
    /// One result for the same scenario measured in each of <paramref name="rounds"/> (in round order). Latency percentiles need
    /// every round's histogram; a round without one (the Node peer, which reports its own percentiles) makes p50 the rows-weighted
    /// mean and p99 the largest of the rounds' (no smaller than any round's).
    /// </summary>
    /// <exception cref="ArgumentException">No rounds, or rounds of different scenarios.</exception>
    internal static ScenarioResult Combine(IReadOnlyList<ScenarioResult> rounds)
    {
        if (rounds.Count == 0 || rounds.Any(r => r.Kind != rounds[0].Kind || r.Group != rounds[0].Group || r.Producers != rounds[0].Producers))
        {
            throw new ArgumentException("Rounds of one scenario are needed.", nameof(rounds));
        }

        if (rounds.Count == 1)
        {
            return rounds[0];
        }

        var rows = rounds.Sum(r => r.Rows);
        var seconds = rounds.Sum(r => r.Seconds);
        var merged = rounds.All(r => r.Latencies is not null) ? LatencyHistogram.Merge(rounds.Select(r => r.Latencies!)) : null;
        return rounds[0] with
        {
            Rows = rows,
            RowsInDatabase = rounds.Sum(r => r.RowsInDatabase),
            Errors = rounds.Sum(r => r.Errors),
            Seconds = seconds,
            RowsPerSecond = seconds > 0 ? rows / seconds : 0,
            P50Ms = merged?.PercentileMs(0.50) ?? Weighted(rounds, r => r.P50Ms) ?? 0,
            P99Ms = merged?.PercentileMs(0.99) ?? rounds.Max(r => r.P99Ms),
            MaxMs = rounds.Max(r => r.MaxMs),
            PeakWalBytes = rounds.Max(r => r.PeakWalBytes),
            PeakWorkingSetBytes = rounds.Max(r => r.PeakWorkingSetBytes),
            PeakManagedHeapBytes = rounds.Max(r => r.PeakManagedHeapBytes),
            AllocatedBytesPerWrite = Weighted(rounds, r => r.AllocatedBytesPerWrite) ?? 0,
            CpuMicrosecondsPerWrite = rounds.All(r => r.CpuMicrosecondsPerWrite is not null) ? Weighted(rounds, r => r.CpuMicrosecondsPerWrite!.Value) : null,
            JitMilliseconds = rounds.All(r => r.JitMilliseconds is not null) ? rounds.Sum(r => r.JitMilliseconds!.Value) : null,
            Latencies = merged,
        };
    }

    /// <summary>
    /// One archive result for the same mode and producer count measured in each of <paramref name="rounds"/>: restore speed from
    /// the total bytes over the total time, the lag's p99 the largest of the rounds' (the bound must hold in every round), p50
    /// the mean, every restore complete only if each was.
    /// </summary>
    internal static ArchiveBenchResult Combine(IReadOnlyList<ArchiveBenchResult> rounds)
    {
        if (rounds.Count == 0 || rounds.Any(r => r.Mode != rounds[0].Mode || r.Producers != rounds[0].Producers))
        {
            throw new ArgumentException("Rounds of one archive scenario are needed.", nameof(rounds));
        }

        var bytes = rounds.Sum(r => r.RestoreBytes);
        var seconds = rounds.Sum(r => r.RestoreSeconds);
        return rounds[0] with
        {
            LagP50Ms = rounds.Average(r => r.LagP50Ms),
            LagP99Ms = rounds.Max(r => r.LagP99Ms),
            RestoreBytes = bytes,
            RestoreSeconds = seconds,
            RestoreMegabytesPerSecond = seconds > 0 ? bytes / 1e6 / seconds : 0,
            ArchiveBytes = rounds.Sum(r => r.ArchiveBytes),
            RestoredRowsMatch = rounds.All(r => r.RestoredRowsMatch),
        };
    }

    /// <summary>
    /// The targets of the combined figures, each followed by what every round alone measured (the part before its first " (")
    /// when there were several rounds: the spread a reader needs to judge a ratio near its bound. A target missing from a round
    /// (measured once, after the rounds: reads, idle) or not measured at all (<see cref="TargetResult.Met"/> null) gets none;
    /// rounds that happen to agree with the total to the printed digits are shown all the same.
    /// </summary>
    internal static IReadOnlyList<TargetResult> WithRounds(IReadOnlyList<TargetResult> combined, IReadOnlyList<IReadOnlyList<TargetResult>> rounds)
    {
        if (rounds.Count <= 1)
        {
            return combined;
        }

        return combined.Select(target =>
        {
            var each = rounds.Select(round => round.FirstOrDefault(t => t.Target == target.Target)?.Measured).ToList();
            return target.Met is null || each.Any(m => m is null) // not run, or not measured per round (reads, idle): nothing to add
                ? target
                : target with { Measured = $"{target.Measured}; rounds: {string.Join(", ", each.Select(m => Head(m!)))}" };
        }).ToList();
    }

    private static string Head(string measured) => measured.IndexOf(" (", StringComparison.Ordinal) is var i and > 0 ? measured[..i] : measured;

    private static double? Weighted(IReadOnlyList<ScenarioResult> rounds, Func<ScenarioResult, double> value)
    {
        var rows = rounds.Sum(r => r.Rows);
        return rows > 0 ? rounds.Sum(r => value(r) * r.Rows) / rows : null;
    }
}
