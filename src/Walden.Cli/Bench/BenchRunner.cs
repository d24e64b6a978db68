using System.Diagnostics;
using System.Runtime;
using System.Runtime.InteropServices;

namespace Walden.Cli.Bench;

/// <summary>The step now running, for a progress display.</summary>
/// <param name="Step">Steps done before this one.</param>
/// <param name="Steps">All steps of the run.</param>
/// <param name="Title">What runs now.</param>
internal sealed record BenchProgress(int Step, int Steps, string Title);

/// <summary>
/// Runs every scenario of <c>walden bench</c> in one process on one disk, in an interleaved order: for
/// each producer count, the limit, the batch ceiling, seed A, Walden Full, seed B, Walden Normal, one after another, so a
/// baseline and Walden are always measured minutes apart at most and the machine's drift hits both.
/// The read scenario runs last. Each scenario gets a fresh database file in <see cref="BenchConfig.Folder"/>.
/// </summary>
internal sealed class BenchRunner
{
    internal const string Order = "in rounds (each round all of the write scenarios below; the figures combine the rounds), " +
        "after an unmeasured warm-up (every scenario briefly at N=1 and 8; with scenarios of 2 s or more, repeated until the JIT is quiet, at most 4 times), " +
        "for each N: limit, ceiling(N rows per commit), seed A(N), careful .NET peer(N), Walden Full(N), " +
        "Walden Full archive async(N), Walden Full archive sync(N), ceiling with a second file synced per commit(N), Walden Full plain ADO(N), Walden Pipelined(N), Node group commit(N), seed B(N), Walden Normal(N); then reads (alone, loaded, alone); then idle";

    /// <summary>The keys of <c>--scenarios</c>, in the order they run.</summary>
    internal static readonly string[] ScenarioKeys =
        ["limit", "ceiling", "seed-a", "peer", "full", "archive-async", "archive-sync", "ceiling-2nd-file", "full-plain", "pipelined", "node", "seed-b", "normal", "reads", "idle"];

    private readonly BenchConfig _config;
    private readonly Action<BenchProgress>? _progress;
    private readonly Workload _workload;

    internal BenchRunner(BenchConfig config, Action<BenchProgress>? progress = null)
    {
        _config = config;
        _progress = progress;
        _workload = new Workload(config.Seed);
    }

    internal int Steps => (_config.Rounds * _config.Producers.Sum(n => ScenarioKeys.Count(k => k is not ("reads" or "idle") && Runs(k, n)))) +
        (Runs("reads") ? 1 : 0) + (Runs("idle") ? 1 : 0);

    private bool Runs(string key) => _config.Scenarios.Contains(key);

    private bool Runs(string key, int producers) =>
        Runs(key) && (key is not ("archive-async" or "archive-sync" or "ceiling-2nd-file") || _config.ArchiveProducers.Contains(producers));

    internal async Task<BenchReport> RunAsync(CancellationToken cancellationToken = default)
    {
        Native.SqliteLibrary.EnsureSupported(); // the baselines use the same native library as Walden; it must be the fixed one
        Directory.CreateDirectory(_config.Folder);
        var started = Stopwatch.GetTimestamp();
        var warmUpJit = _config.WarmUp ? await WarmUpAsync(cancellationToken).ConfigureAwait(false) : null;

        var (node, nodeSkipped) = Runs("node") ? NodePeer.Find() : (null, "not selected");
        var step = 0;
        var rounds = new List<BenchRound>();
        for (var round = 1; round <= _config.Rounds; round++)
        {
            var (roundScenarios, roundArchive) = await RunRoundAsync(round, node, () => step++, cancellationToken).ConfigureAwait(false);
            rounds.Add(new BenchRound(round, roundScenarios, roundArchive));
        }

        var scenarios = rounds[0].Scenarios.Select(first => BenchRounds.Combine(
            [.. rounds.Select(r => r.Scenarios.Single(s => s.Kind == first.Kind && s.Group == first.Group && s.Producers == first.Producers))])).ToList();
        var archive = rounds[0].Archive.Select(first => BenchRounds.Combine(
            [.. rounds.Select(r => r.Archive.Single(a => a.Mode == first.Mode && a.Producers == first.Producers))])).ToList();


        cancellationToken.ThrowIfCancellationRequested();
        ReadResult? reads = null;
        if (Runs("reads"))
        {
            var readStep = step++;
            reads = await ReadScenario.RunAsync(_config, _workload, File("reads", _config.ReadLoadProducers),
                phase => _progress?.Invoke(new BenchProgress(readStep, Steps, $"{_config.Readers} readers, {phase}"))).ConfigureAwait(false);
        }

        IdleResult? idle = null;
        if (Runs("idle"))
        {
            _progress?.Invoke(new BenchProgress(step++, Steps, $"CPU at {IdleScenario.Rate} writes/s and idle"));
            idle = await IdleScenario.RunAsync(_config, _workload, _config.Folder).ConfigureAwait(false);
        }

        _progress?.Invoke(new BenchProgress(Steps, Steps, "done"));
        var disk = SimulatedDisk.Detect();
        return new BenchReport(
            WaldenDatabase.SqliteVersion,
            new BenchMachine(Environment.ProcessorCount, RuntimeInformation.OSDescription, RuntimeInformation.FrameworkDescription, _config.Folder,
                disk?.Description ?? "as is (no simulated fsync latency)"),
            new BenchSettings(_config.Producers, _config.ScenarioDuration.TotalSeconds, _config.WritesPerProducer, _config.Readers,
                _config.ReadLoadProducers, _config.ReadSeedRows, _config.LimitTransactionRows, _config.BufferRows,
                _config.BufferInterval.TotalSeconds, _config.SeedBusyTimeoutSeconds, _config.Seed, Order, _config.Rounds),
            _workload.MeanBodyBytes,
            scenarios,
            reads,
            idle,
            node?.Version,
            node is null ? nodeSkipped : null,
            BenchAnalysis.Ratios(scenarios, _config.Producers),
            BenchRounds.WithRounds(Targets(scenarios, archive), [.. rounds.Select(r => Targets(r.Scenarios, r.Archive, perRound: true))]),
            BenchAnalysis.Findings(scenarios, _config.Producers),
            [BenchAnalysis.SeedBNote,
             BenchAnalysis.CeilingNote,
             BenchAnalysis.PipelinedNote,
             "Rows/s = acknowledged rows / wall time from the first write to the last acknowledgement, for every scenario.",
             "Allocations per write = managed bytes allocated by the whole process during the scenario (GC.GetTotalAllocatedBytes) / acknowledged rows.",
             "Peak WAL from file metadata sampled every 20 ms; peak memory = process working set and managed heap, sampled likewise."],
            Stopwatch.GetElapsedTime(started).TotalSeconds,
            archive,
            warmUpJit,
            _config.Rounds > 1 ? rounds : null);

        // A round's own targets leave out reads and idle: those run once, after the rounds.
        IReadOnlyList<TargetResult> Targets(IReadOnlyList<ScenarioResult> measured, IReadOnlyList<ArchiveBenchResult> archived, bool perRound = false) =>
            [.. BenchAnalysis.Targets(measured, perRound ? null : reads, perRound ? null : idle, disk, node is null ? nodeSkipped : null, _config.Producers),
             .. BenchAnalysis.ArchiveTargets(measured, archived, _config.Producers)];
    }

    /// <summary>One round: every selected write scenario at every producer count, in the interleaved order (<see cref="Order"/>).</summary>
    private async Task<(List<ScenarioResult> Scenarios, List<ArchiveBenchResult> Archive)> RunRoundAsync(int round, NodePeer? node, Func<int> nextStep,
        CancellationToken cancellationToken)
    {
        var scenarios = new List<ScenarioResult>();
        var archive = new List<ArchiveBenchResult>();
        var suffix = _config.Rounds > 1 ? $" (round {round} of {_config.Rounds})" : "";
        foreach (var n in _config.Producers)
        {
            var steps = new (string Key, string Title, Func<Task<ScenarioResult>> Run)[]
            {
                ("limit", $"limit (group N={n})", () => Task.Run(() => LimitScenario.Run(_config, _workload, File("limit", n), n))),
                ("ceiling", $"ceiling, {n} rows per commit",
                    () => Task.Run(() => LimitScenario.Run(_config, _workload, File("ceiling", n), n, rowsPerTransaction: n))),
                ("seed-a", $"seed pattern A, N={n}", () => Task.Run(() => SeedPatternA.Run(_config, _workload, File("seed-a", n), n))),
                ("peer", $"careful .NET peer, N={n}", () => CarefulPeer.RunAsync(_config, _workload, File("peer", n), n)),
                ("full", $"Walden Full, N={n}", () => WaldenScenario.RunAsync(_config, _workload, File("walden-full", n), n, WaldenDurability.Full)),
                ("archive-async", $"Walden Full, archive async, N={n}", () => RunArchiveAsync(archive, n, WaldenArchiveMode.Async)),
                ("archive-sync", $"Walden Full, archive sync, N={n}", () => RunArchiveAsync(archive, n, WaldenArchiveMode.Sync)),
                ("ceiling-2nd-file", $"ceiling, {n} rows per commit, a second file synced per commit",
                    () => Task.Run(() => LimitScenario.Run(_config, _workload, File("ceiling-2nd", n), n, rowsPerTransaction: n, secondFile: true))),
                ("full-plain", $"Walden Full (new SqliteCommand per write), N={n}",
                    () => WaldenScenario.RunAsync(_config, _workload, File("walden-plain", n), n, WaldenDurability.Full, plainCommands: true)),
                ("pipelined", $"Walden FullPipelined, N={n}",
                    () => WaldenScenario.RunAsync(_config, _workload, File("walden-pipelined", n), n, WaldenDurability.FullPipelined)),
                ("node", $"Node group commit, N={n}", () => Task.Run(() => node!.Run(_config, _workload, File("node", n), n))),
                ("seed-b", $"seed pattern B, N={n}", () => Task.Run(() => SeedPatternB.Run(_config, _workload, File("seed-b", n), n))),
                ("normal", $"Walden Normal, N={n}",
                    () => WaldenScenario.RunAsync(_config, _workload, File("walden-normal", n), n, WaldenDurability.Normal)),
            };
            foreach (var (key, title, run) in steps.Where(s => Runs(s.Key, n)))
            {
                cancellationToken.ThrowIfCancellationRequested();
                _progress?.Invoke(new BenchProgress(nextStep(), Steps, title + suffix));
                if (key == "node" && node is null)
                {
                    continue;
                }

                scenarios.Add(await run().ConfigureAwait(false));
            }
        }

        return (scenarios, archive);
    }

    /// <summary>
    /// Runs every selected scenario briefly, unmeasured, then leaves the JIT a second (see <see cref="BenchConfig.WarmUp"/>), in
    /// passes until a pass finds the JIT quiet (<see cref="WarmUpDone"/>). One pass is not enough: .NET compiles a method
    /// first without optimization, then (after 30 calls, counted only once no new method was compiled for 100 ms) with
    /// instrumentation, then (after 30 more calls) optimized with what the instrumentation saw. Each of the short scenarios
    /// compiles new code and so restarts that delay, and the pause after the pass has no calls to count: after one pass
    /// the first measured Walden scenario still ran its first seconds on unoptimized or instrumented code while the JIT
    /// compiled beside it on the other core. The time the JIT spent in each pass is in the report.
    /// </summary>
    private async Task<IReadOnlyList<double>> WarmUpAsync(CancellationToken cancellationToken)
    {
        var config = _config.ForWarmUp();
        var passes = new List<double>();
        while (true)
        {
            _progress?.Invoke(new BenchProgress(0, Steps, passes.Count == 0
                ? "warming up (every scenario briefly, not measured)"
                : $"warming up, pass {passes.Count + 1} (the JIT compiled for {passes[^1]:N0} ms during the last)"));
            var started = Stopwatch.GetTimestamp();
            var jitBefore = JitInfo.GetCompilationTime(currentThread: false);
            try
            {
                _ = await new BenchRunner(config).RunAsync(cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                if (Directory.Exists(config.Folder))
                {
                    Directory.Delete(config.Folder, recursive: true);
                }
            }

            await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
            var jit = JitInfo.GetCompilationTime(currentThread: false) - jitBefore;
            passes.Add(jit.TotalMilliseconds);
            if (WarmUpDone(passes.Count, jit, Stopwatch.GetElapsedTime(started), _config.ScenarioDuration))
            {
                return passes;
            }
        }
    }

    /// <summary>The most warm-up passes a run makes, however busy the JIT still is (runs with scenarios of 2 s or more; shorter ones make one).</summary>
    internal const int MaxWarmUpPasses = 4;

    /// <summary>
    /// Whether the warm-up may stop after <paramref name="passes"/> passes, the last of which took <paramref name="elapsed"/> with
    /// the JIT compiling for <paramref name="jit"/> of it: once the JIT used under 2% of the pass (of one core), after
    /// <see cref="MaxWarmUpPasses"/>, or after one pass when the measured scenarios last under 2 s (<paramref name="scenarioDuration"/>:
    /// the quick run and tests, whose figures are not read as ratios).
    /// </summary>
    internal static bool WarmUpDone(int passes, TimeSpan jit, TimeSpan elapsed, TimeSpan scenarioDuration) =>
        passes >= (scenarioDuration >= TimeSpan.FromSeconds(2) ? MaxWarmUpPasses : 1) || jit < elapsed * 0.02;

    private async Task<ScenarioResult> RunArchiveAsync(List<ArchiveBenchResult> figures, int producers, WaldenArchiveMode mode)
    {
        var (writes, archive) = await ArchiveScenario.RunAsync(_config, _workload, File($"archive-{mode.ToString().ToLowerInvariant()}", producers),
            producers, mode).ConfigureAwait(false);
        figures.Add(archive);
        return writes;
    }

    private string File(string scenario, int producers) => Path.Combine(_config.Folder, $"bench-{scenario}-{producers}.db");
}
