using System.Diagnostics;
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
    internal const string Order = "for each N: limit, ceiling(N rows per commit), seed A(N), Walden Full(N), seed B(N), Walden Normal(N); then reads (alone, loaded, alone)";

    private readonly BenchConfig _config;
    private readonly Action<BenchProgress>? _progress;
    private readonly Workload _workload;

    internal BenchRunner(BenchConfig config, Action<BenchProgress>? progress = null)
    {
        _config = config;
        _progress = progress;
        _workload = new Workload(config.Seed);
    }

    internal int Steps => (_config.Producers.Count * 6) + 1;

    internal async Task<BenchReport> RunAsync(CancellationToken cancellationToken = default)
    {
        Native.SqliteLibrary.EnsureSupported(); // the baselines use the same native library as Walden; it must be the fixed one
        Directory.CreateDirectory(_config.Folder);
        var started = Stopwatch.GetTimestamp();
        var scenarios = new List<ScenarioResult>();
        var step = 0;
        foreach (var n in _config.Producers)
        {
            var steps = new (string Title, Func<Task<ScenarioResult>> Run)[]
            {
                ($"limit (group N={n})", () => Task.Run(() => LimitScenario.Run(_config, _workload, File("limit", n), n))),
                ($"ceiling, {n} rows per commit", () => Task.Run(() => LimitScenario.Run(_config, _workload, File("ceiling", n), n, rowsPerTransaction: n))),
                ($"seed pattern A, N={n}", () => Task.Run(() => SeedPatternA.Run(_config, _workload, File("seed-a", n), n))),
                ($"Walden Full, N={n}", () => WaldenScenario.RunAsync(_config, _workload, File("walden-full", n), n, WaldenDurability.Full)),
                ($"seed pattern B, N={n}", () => Task.Run(() => SeedPatternB.Run(_config, _workload, File("seed-b", n), n))),
                ($"Walden Normal, N={n}", () => WaldenScenario.RunAsync(_config, _workload, File("walden-normal", n), n, WaldenDurability.Normal)),
            };
            foreach (var (title, run) in steps)
            {
                cancellationToken.ThrowIfCancellationRequested();
                _progress?.Invoke(new BenchProgress(step++, Steps, title));
                scenarios.Add(await run().ConfigureAwait(false));
            }
        }

        cancellationToken.ThrowIfCancellationRequested();
        var readStep = step;
        var reads = await ReadScenario.RunAsync(_config, _workload, File("reads", _config.ReadLoadProducers),
            phase => _progress?.Invoke(new BenchProgress(readStep, Steps, $"{_config.Readers} readers, {phase}"))).ConfigureAwait(false);
        _progress?.Invoke(new BenchProgress(Steps, Steps, "done"));

        return new BenchReport(
            WaldenDatabase.SqliteVersion,
            new BenchMachine(Environment.ProcessorCount, RuntimeInformation.OSDescription, RuntimeInformation.FrameworkDescription, _config.Folder),
            new BenchSettings(_config.Producers, _config.ScenarioDuration.TotalSeconds, _config.WritesPerProducer, _config.Readers,
                _config.ReadLoadProducers, _config.ReadSeedRows, _config.LimitTransactionRows, _config.BufferRows,
                _config.BufferInterval.TotalSeconds, _config.SeedBusyTimeoutSeconds, _config.Seed, Order),
            _workload.MeanBodyBytes,
            scenarios,
            reads,
            BenchAnalysis.Ratios(scenarios, _config.Producers),
            BenchAnalysis.Targets(scenarios, reads),
            BenchAnalysis.Findings(scenarios, _config.Producers),
            [BenchAnalysis.SeedBNote,
             BenchAnalysis.CeilingNote,
             "Rows/s = acknowledged rows / wall time from the first write to the last acknowledgement, for every scenario.",
             "Allocations per write = managed bytes allocated by the whole process during the scenario (GC.GetTotalAllocatedBytes) / acknowledged rows.",
             "Peak WAL from file metadata sampled every 20 ms; peak memory = process working set and managed heap, sampled likewise."],
            Stopwatch.GetElapsedTime(started).TotalSeconds);
    }

    private string File(string scenario, int producers) => Path.Combine(_config.Folder, $"bench-{scenario}-{producers}.db");
}
