using Walden.Cli.Bench;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Bench;

/// <summary>
/// Rounds of a bench run (BenchConfig.Rounds): each write scenario runs once per round beside its baselines, and the report's
/// figures are the rounds' totals, with each round's figure listed beside each target.
/// </summary>
public sealed class BenchRoundsTests : IDisposable
{
    private const int Writes = 20;
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static ScenarioResult Round(long rows, double seconds, int latencyMs, double cpuUs)
    {
        var latencies = new LatencyHistogram();
        var ticksPerMs = System.Diagnostics.Stopwatch.Frequency / 1000.0;
        for (var i = 0; i < rows; i++)
        {
            latencies.RecordTicks((long)(latencyMs * ticksPerMs));
        }

        return new ScenarioResult(ScenarioKind.WaldenFull, 8, 8, "full", rows, rows, 0, seconds, rows / seconds, latencyMs, latencyMs, latencyMs,
            PeakWalBytes: rows, PeakWorkingSetBytes: 1, PeakManagedHeapBytes: 1, AllocatedBytesPerWrite: 100, DurableAtAck: true,
            CpuMicrosecondsPerWrite: cpuUs, JitMilliseconds: 1)
        { Latencies = latencies };
    }

    [Fact]
    public void Combine_GivesTheRoundsTotals_NotTheMeanOfTheirRates()
    {
        // 1,000 rows in 1 s, then 1,000 rows in 4 s: 400 rows/s over the 5 s, where the mean of the two rates would say 625.
        var combined = BenchRounds.Combine([Round(1_000, 1, latencyMs: 1, cpuUs: 10), Round(1_000, 4, latencyMs: 4, cpuUs: 30)]);

        Assert.Equal(2_000, combined.Rows);
        Assert.Equal(5, combined.Seconds);
        Assert.Equal(400, combined.RowsPerSecond);
        Assert.Equal(20, combined.CpuMicrosecondsPerWrite); // all the CPU over all the rows
        Assert.Equal(2, combined.JitMilliseconds);
        Assert.Equal(2_000, combined.Latencies!.Count);
        Assert.InRange(combined.P99Ms, 4, 4 * 1.04); // from the merged latencies: half the writes took 4 ms
        Assert.InRange(combined.P50Ms, 1, 1 * 1.04);
        Assert.Equal(1_000, combined.PeakWalBytes); // peaks: the largest seen
    }

    [Fact]
    public void Combine_RefusesRoundsOfDifferentScenarios()
    {
        var other = Round(10, 1, 1, 1) with { Producers = 64 };
        Assert.Throws<ArgumentException>(() => BenchRounds.Combine([Round(10, 1, 1, 1), other]));
    }

    [Fact]
    public void WithRounds_RoundsThatAgreeWithTheTotal_AreShownAllTheSame_ButNotForTargetsMeasuredOnceOrNotRun()
    {
        TargetResult[] combined =
        [
            new("1. ratio at N=4", "0.95 x", true),
            new("4. readers lose < 20%", "3.0% (a vs b)", true),
            new("3b. node", "not run: no node", null),
        ];
        IReadOnlyList<TargetResult>[] rounds =
        [
            [new("1. ratio at N=4", "0.95 x", true), new("3b. node", "not run: no node", null)],
            [new("1. ratio at N=4", "0.95 x", true), new("3b. node", "not run: no node", null)],
        ];

        var shown = BenchRounds.WithRounds(combined, rounds);

        Assert.Equal("0.95 x; rounds: 0.95 x, 0.95 x", shown[0].Measured); // equal rounds: a reader still sees two rounds ran
        Assert.Equal("3.0% (a vs b)", shown[1].Measured); // measured once, after the rounds
        Assert.Equal("not run: no node", shown[2].Measured);
    }

    [Fact]
    public async Task RunAsync_InTwoRounds_MeasuresEveryScenarioTwice_AndReportsTheTotalsWithEachRoundsFigureBesideTheTarget()
    {
        var config = new BenchConfig
        {
            Folder = _dir.Path,
            Producers = [1, 4],
            WritesPerProducer = Writes,
            Rounds = 2,
            Scenarios = new HashSet<string> { "ceiling", "full" },
        };
        var steps = new List<BenchProgress>();
        var runner = new BenchRunner(config, steps.Add);

        var report = await runner.RunAsync();

        var rounds = Assert.IsAssignableFrom<IReadOnlyList<BenchRound>>(report.Rounds);
        Assert.Equal([1, 2], rounds.Select(r => r.Round));
        Assert.Equal(2, report.Settings.Rounds);
        Assert.Equal(4, report.Scenarios.Count); // combined: one per scenario and N, not one per round
        foreach (var s in report.Scenarios)
        {
            var each = rounds.Select(r => Assert.Single(r.Scenarios, x => x.Kind == s.Kind && x.Group == s.Group)).ToList();
            Assert.Equal(2 * s.Group * Writes, s.Rows);
            Assert.Equal(each.Sum(x => x.Rows), s.Rows);
            Assert.Equal(each.Sum(x => x.Seconds), s.Seconds, precision: 9);
        }

        var target = Assert.Single(report.Targets, t => t.Target.StartsWith("1. Walden Full / ceiling N/commit >= 0.9 at N=4", StringComparison.Ordinal));
        Assert.Contains("; rounds: ", target.Measured, StringComparison.Ordinal);
        Assert.Equal(runner.Steps, steps[^1].Step);
        Assert.Equal(2 * 4, steps.Count(s => s.Title.Contains("round", StringComparison.Ordinal)));
    }
}
