using System.Text.Json;
using Walden.Cli.Bench;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Bench;

/// <summary>
/// The bench's core on a tiny, count-based configuration: structure, not speed. Every scenario must
/// write, and the database must hold exactly the rows its producers were told were written.
/// </summary>
public sealed class BenchRunnerTests : IDisposable
{
    private const int Writes = 20;
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task RunAsync_OnATinyConfiguration_EveryScenarioWritesAndTheDatabaseHoldsExactlyTheAcknowledgedRows()
    {
        var config = new BenchConfig
        {
            Folder = _dir.Path,
            Producers = [1, 4],
            ArchiveProducers = [1, 4],
            WritesPerProducer = Writes,
            Readers = 2,
            ReadLoadProducers = 4,
            ReadSeedRows = 500,
            IdleWindow = TimeSpan.FromMilliseconds(100),
            Scenarios = BenchRunner.ScenarioKeys.Where(k => k != "node").ToHashSet(), // the Node peer needs node and npm: not in the tests
        };
        var kinds = Enum.GetValues<ScenarioKind>().Where(k => k != ScenarioKind.NodeGroupCommit).ToList();
        var steps = new List<BenchProgress>();
        var runner = new BenchRunner(config, steps.Add);

        var report = await runner.RunAsync();

        Assert.Equal(2 * kinds.Count, report.Scenarios.Count);
        foreach (var n in config.Producers)
        {
            foreach (var kind in kinds)
            {
                var s = Assert.Single(report.Scenarios, s => s.Kind == kind && s.Group == n);
                Assert.True(s.Rows > 0, $"{kind} at N={n} acknowledged no rows.");
                Assert.Equal(s.Rows, s.RowsInDatabase);
                Assert.True(s.RowsPerSecond > 0 && s.P50Ms <= s.P99Ms && s.P99Ms <= s.MaxMs, $"{kind} at N={n}: inconsistent figures.");
                if (kind == ScenarioKind.SeedPatternA)
                {
                    Assert.Equal(n * Writes, s.Rows + s.Errors); // a busy error is counted, not acknowledged
                }
                else
                {
                    Assert.Equal(n * Writes, s.Rows);
                    Assert.Equal(0, s.Errors);
                }

                Assert.Equal(kind != ScenarioKind.SeedPatternB, s.DurableAtAck);
            }
        }

        var reads = Assert.IsType<ReadResult>(report.Reads);
        Assert.Equal(["alone-before", "loaded", "alone-after"], reads.Phases.Select(p => p.Phase));
        Assert.All(reads.Phases, p => Assert.Equal(config.Readers * Writes, p.Reads));
        Assert.Equal(4 * Writes, reads.Phases[1].WriteRows);
        Assert.Equal(500 + (4 * Writes), reads.RowsWritten);
        Assert.Equal(reads.RowsWritten, reads.RowsInDatabase);

        var idle = Assert.IsType<IdleResult>(report.Idle);
        Assert.Equal(Writes, idle.Writes);
        Assert.True(idle.DirectCpuUsPerWrite > 0 && idle.WaldenCpuUsPerWrite > 0, "The trickle phases measured no CPU.");
        Assert.Contains(report.Targets, t => t.Target.StartsWith("5. Open, no write", StringComparison.Ordinal));

        var archive = Assert.IsAssignableFrom<IReadOnlyList<ArchiveBenchResult>>(report.Archive);
        Assert.Equal(["async", "sync", "async", "sync"], archive.Select(a => a.Mode));
        Assert.All(archive, a => Assert.True(a.RestoredRowsMatch && a.RestoreBytes > 0 && a.ArchiveBytes > 0, a.ToString()));
        Assert.Equal(2, report.Targets.Count(t => t.Target.StartsWith("18. Archive async lag", StringComparison.Ordinal)));
        Assert.Equal(4, report.Targets.Count(t => t.Target.Contains("of Walden Full's rows/s", StringComparison.Ordinal)));
        Assert.Equal(2, report.Targets.Count(t => t.Target.StartsWith("18. Archive sync", StringComparison.Ordinal) &&
            t.Measured.Contains("this disk's floor, a second file synced per commit", StringComparison.Ordinal)));

        Assert.Equal([1, 4], report.Ratios.Select(r => r.Producers));
        Assert.All(report.Ratios, r => Assert.NotNull(r.WaldenFullOverSeedA));
        Assert.All(report.Ratios, r => Assert.NotNull(r.WaldenFullOverCeiling));
        Assert.Equal(2, report.Findings.Count); // one ceiling statement per producer count
        Assert.Equal(runner.Steps, steps[^1].Step);
        Assert.Empty(Directory.GetFiles(_dir.Path)); // every scenario removed its database afterwards
    }

    [Fact]
    public void Workload_WithTheSameSeed_WritesTheSameRowsWithBodiesOfAboutTwoHundredFiftyBytes()
    {
        var a = new Workload(7);
        var b = new Workload(7);

        Assert.Equal(a.Row(3, 41), b.Row(3, 41));
        Assert.Equal(a.SequentialRow(64 * 41 + 3), a.Row(3, 41));
        Assert.InRange(a.MeanBodyBytes, 200, 300);
    }

    [Fact]
    public void LatencyHistogram_Percentiles_AreWithinItsResolutionOfTheExactOnes()
    {
        var histogram = new LatencyHistogram();
        var ticksPerMs = System.Diagnostics.Stopwatch.Frequency / 1000.0;
        for (var ms = 1; ms <= 1000; ms++)
        {
            histogram.RecordTicks((long)(ms * ticksPerMs));
        }

        Assert.Equal(1000, histogram.Count);
        Assert.InRange(histogram.PercentileMs(0.50), 500, 500 * 1.04);
        Assert.InRange(histogram.PercentileMs(0.99), 990, 990 * 1.04);
        Assert.Equal(1000, histogram.MaxMs, precision: 1);
        Assert.Equal(histogram.MaxMs, histogram.PercentileMs(1.0));
    }

    [Fact]
    public void ThreadCpu_CountsTheCpuOfANamedThreadUnderItsGroup()
    {
        var before = ThreadCpu.Snapshot();
        using var stop = new ManualResetEventSlim();
        var busy = new Thread(() =>
        {
            while (!stop.IsSet)
            {
                // burn CPU until the main thread has seen it accounted
            }
        })
        { Name = "walden-writer:test", IsBackground = true };
        busy.Start();
        var giveUp = System.Diagnostics.Stopwatch.StartNew(); // a bound for a broken reader, not a timing assertion
        double used;
        do
        {
            used = ThreadCpu.Snapshot().GetValueOrDefault("writer thread") - before.GetValueOrDefault("writer thread");
        }
        while (used < 50 && giveUp.Elapsed < TimeSpan.FromSeconds(30));

        stop.Set();
        busy.Join();
        Assert.True(used >= 50, $"only {used} ms of the busy thread's CPU were counted as 'writer thread'");
    }

    [Theory]
    [InlineData(1, 1_200, 4_000, 5, false)] // the first pass: the JIT still busy with what the scenarios ran
    [InlineData(2, 79, 4_000, 5, true)] // under 2% of the pass: quiet
    [InlineData(3, 81, 4_000, 5, false)]
    [InlineData(4, 500, 4_000, 5, true)] // at most four passes
    [InlineData(1, 1_200, 4_000, 1.9, true)] // scenarios under 2 s (quick runs, tests): one pass
    public void WarmUp_GoesOnWhileTheJitIsBusy_UntilAPassFindsItQuiet_AtMostFourPasses(int passes, int jitMs, int elapsedMs, double scenarioSeconds,
        bool done)
    {
        Assert.Equal(done, BenchRunner.WarmUpDone(passes, TimeSpan.FromMilliseconds(jitMs), TimeSpan.FromMilliseconds(elapsedMs),
            TimeSpan.FromSeconds(scenarioSeconds)));
    }

    [Fact]
    public async Task BenchCommand_WithJson_PrintsEveryScenarioAsJsonOnStdout()
    {
        var (exit, stdout, stderr) = await WaldenCli.RunAsync("bench", "--seconds", "0.05", "--producers", "2", "--json", "--dir", _dir.Path);

        Assert.True(exit == 0, stderr);
        using var json = JsonDocument.Parse(stdout);
        var scenarios = json.RootElement.GetProperty("scenarios").EnumerateArray().ToList();
        // limit, ceiling, seed A, careful peer, Walden Full, archive async and sync, the ceiling with a second file, Full plain ADO,
        // Pipelined, seed B, Walden Normal; and the Node peer where it can run
        Assert.True(scenarios.Count == (json.RootElement.GetProperty("nodePeerSkipped").ValueKind == JsonValueKind.Null ? 13 : 12), stdout);
        Assert.Equal(2, json.RootElement.GetProperty("archive").GetArrayLength());
        Assert.All(scenarios, s => Assert.True(s.GetProperty("rows").GetInt64() > 0));
        Assert.All(scenarios, s => Assert.Equal(s.GetProperty("rows").GetInt64(), s.GetProperty("rowsInDatabase").GetInt64()));
        Assert.True(json.RootElement.GetProperty("reads").GetProperty("phases").GetArrayLength() == 3);
        Assert.True(json.RootElement.GetProperty("idle").GetProperty("writes").GetInt64() > 0);
        Assert.All(json.RootElement.GetProperty("targets").EnumerateArray(), t => Assert.True(t.TryGetProperty("met", out _), t.ToString()));
        // CPU per write and the JIT's time during each scenario measured in this process (not the Node peer's own process)
        Assert.All(scenarios.Where(s => s.GetProperty("kind").GetString() != "nodeGroupCommit"), s =>
        {
            Assert.True(s.GetProperty("cpuMicrosecondsPerWrite").GetDouble() > 0, s.ToString());
            Assert.True(s.GetProperty("jitMilliseconds").GetDouble() >= 0, s.ToString());
        });
        Assert.Equal(1, json.RootElement.GetProperty("warmUpJitMilliseconds").GetArrayLength()); // scenarios under 2 s: one pass
        Assert.Empty(Directory.GetFileSystemEntries(_dir.Path)); // its working folder inside --dir is removed
    }
}
