using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Walden.Cli.Output;
using Walden.Cli.Torture;

namespace Walden.Cli.Bench;

/// <summary>One layout of the processes scenario: how many Walden processes write one file, with how many producers each.</summary>
/// <param name="Processes">Walden processes on the file.</param>
/// <param name="ProducersPerProcess">Producers in each.</param>
/// <param name="Coordinated">False for the comparison run without Walden's lock file (every process checkpoints, writers meet only at SQLite's lock).</param>
internal sealed record ProcessLayout(int Processes, int ProducersPerProcess, bool Coordinated = true)
{
    public string Name => $"{Processes}x{ProducersPerProcess}{(Coordinated ? "" : " uncoordinated")}";
}

/// <summary>What one layout measured: the processes together, and each one.</summary>
internal sealed record ProcessLayoutResult(ProcessLayout Layout, int Round, long Rows, long RowsInDatabase, long Errors, double Seconds,
    double RowsPerSecond, double P50Ms, double P99Ms, double MaxMs, long CheckpointAttempts, long BusyRetries,
    IReadOnlyList<ProcessWorkerResult> PerProcess);

/// <summary>One ratio of the issue's targets.</summary>
internal sealed record ProcessTarget(string Target, string Measured, bool Met);

/// <summary>The whole processes scenario, as printed and as JSON.</summary>
internal sealed record ProcessesReport(string SqliteVersion, int ProcessorCount, double SecondsPerLayout, WaldenDurability Durability, int Rounds,
    IReadOnlyList<ProcessLayoutResult> Layouts, IReadOnlyList<ProcessTarget> Targets, string Order);

/// <summary>
/// <c>walden bench --scenarios processes</c>: the same producers in one Walden process or spread over several processes on one
/// file (1x16 against 2x8 and 4x4; 1x32 against 4x8), each layout on a fresh file, in interleaved rounds; with
/// <c>--uncoordinated</c> each layout of several processes also runs without Walden's lock file, as Walden did before.
/// Every producer awaits each acknowledgement before its next row, as in the other scenarios.
/// </summary>
internal static class ProcessesScenario
{
    /// <summary>
    /// The layouts, in the order they run. 1x8 is the bound of the spread layouts: with Full durability each COMMIT fsyncs
    /// under SQLite's lock, so the processes' commits are serial and each carries only its own process's 8 producers; 2x8
    /// and 4x8 with a free hand-off can at best do as well as one process of 8.
    /// </summary>
    internal static readonly ProcessLayout[] DefaultLayouts = [new(1, 16), new(1, 8), new(2, 8), new(4, 4), new(1, 32), new(4, 8)];

    internal static async Task<ProcessesReport> RunAsync(string folder, double seconds, WaldenDurability durability, int rounds, bool uncoordinated,
        Action<string>? progress, CancellationToken cancellationToken)
    {
        var layouts = DefaultLayouts.SelectMany(l => uncoordinated && l.Processes > 1 ? new[] { l, l with { Coordinated = false } } : [l]).ToList();
        var results = new List<ProcessLayoutResult>();
        var launch = WorkerLaunch.FromCurrentProcess();
        for (var round = 1; round <= rounds; round++)
        {
            foreach (var layout in layouts)
            {
                cancellationToken.ThrowIfCancellationRequested();
                progress?.Invoke($"round {round}/{rounds}: {layout.Name}");
                var path = Path.Combine(folder, $"bench-processes-{layout.Processes}x{layout.ProducersPerProcess}-{round}.db");
                results.Add(await RunLayoutAsync(launch, path, layout, round, seconds, durability, cancellationToken).ConfigureAwait(false));
            }
        }

        var order = $"{rounds} round(s) of: {string.Join(", ", layouts.Select(l => l.Name))}";
        return new ProcessesReport(WaldenDatabase.SqliteVersion, Environment.ProcessorCount, seconds, durability, rounds, results, Targets(results), order);
    }

    private static async Task<ProcessLayoutResult> RunLayoutAsync(WorkerLaunch launch, string path, ProcessLayout layout, int round, double seconds,
        WaldenDurability durability, CancellationToken cancellationToken)
    {
        PlainSqlite.Create(path);
        var workers = new List<Process>();
        try
        {
            for (var i = 0; i < layout.Processes; i++)
            {
                workers.Add(Start(launch, path, layout, seconds, durability));
            }

            foreach (var worker in workers)
            {
                var line = await worker.StandardOutput.ReadLineAsync(cancellationToken).ConfigureAwait(false);
                if (line != ProcessWorker.Ready)
                {
                    throw new InvalidOperationException($"A bench worker did not start: {line} {await worker.StandardError.ReadToEndAsync(cancellationToken).ConfigureAwait(false)}");
                }
            }

            foreach (var worker in workers)
            {
                await worker.StandardInput.WriteLineAsync(ProcessWorker.Go).ConfigureAwait(false);
                await worker.StandardInput.FlushAsync(cancellationToken).ConfigureAwait(false);
            }

            var perProcess = new List<ProcessWorkerResult>();
            foreach (var worker in workers)
            {
                var line = await worker.StandardOutput.ReadLineAsync(cancellationToken).ConfigureAwait(false)
                    ?? throw new InvalidOperationException($"A bench worker ended without its figures: {await worker.StandardError.ReadToEndAsync(cancellationToken).ConfigureAwait(false)}");
                perProcess.Add(JsonSerializer.Deserialize<ProcessWorkerResult>(line, Json.Options)!);
                await worker.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
            }

            var latencies = LatencyHistogram.Merge(perProcess.Select(p => LatencyHistogram.Import(p.Buckets, p.MaxMicros)));
            var rows = perProcess.Sum(p => p.Rows);
            var wall = perProcess.Max(p => p.Seconds);
            return new ProcessLayoutResult(layout, round, rows, PlainSqlite.CountRows(path), perProcess.Sum(p => p.Errors), wall, wall > 0 ? rows / wall : 0,
                latencies.PercentileMs(0.50), latencies.PercentileMs(0.99), latencies.MaxMs, perProcess.Sum(p => p.Checkpoints),
                perProcess.Sum(p => p.BusyRetries), perProcess);
        }
        finally
        {
            foreach (var worker in workers)
            {
                if (!worker.HasExited)
                {
                    worker.Kill();
                }

                worker.Dispose();
            }

            PlainSqlite.Delete(path);
        }
    }

    private static Process Start(WorkerLaunch launch, string path, ProcessLayout layout, double seconds, WaldenDurability durability)
    {
        var info = launch.StartInfo(
        [
            "bench-worker", "--db", path, "--producers", layout.ProducersPerProcess.ToString(CultureInfo.InvariantCulture),
            "--seconds", seconds.ToString(CultureInfo.InvariantCulture), "--durability", durability.ToString().ToLowerInvariant(),
        ]);

        if (!layout.Coordinated)
        {
            info.Environment[Files.CoordinationFile.DisableVariable] = "1";
        }

        return Process.Start(info) ?? throw new InvalidOperationException("A bench worker did not start.");
    }

    /// <summary>The issue's targets, from the mean rows/s and p99 of each layout over the rounds.</summary>
    internal static IReadOnlyList<ProcessTarget> Targets(IReadOnlyList<ProcessLayoutResult> results)
    {
        var targets = new List<ProcessTarget>();
        void Compare(ProcessLayout spread, ProcessLayout one, double minimum)
        {
            var s = results.Where(r => r.Layout == spread).ToList();
            var o = results.Where(r => r.Layout == one).ToList();
            if (s.Count == 0 || o.Count == 0)
            {
                return;
            }

            var ratio = s.Average(r => r.RowsPerSecond) / o.Average(r => r.RowsPerSecond);
            var p99 = s.Average(r => r.P99Ms) / o.Average(r => r.P99Ms);
            targets.Add(new ProcessTarget($"{spread.Name} >= {minimum:0.0} x {one.Name} rows/s",
                $"{ratio:0.00} x ({s.Average(r => r.RowsPerSecond):N0} vs {o.Average(r => r.RowsPerSecond):N0} rows/s)", ratio >= minimum));
            targets.Add(new ProcessTarget($"{spread.Name} p99 within 2 x {one.Name}'s",
                $"{p99:0.00} x ({s.Average(r => r.P99Ms):0.00} vs {o.Average(r => r.P99Ms):0.00} ms)", p99 <= 2));
            var attempts = s.Average(r => r.CheckpointAttempts);
            var alone = o.Average(r => r.CheckpointAttempts);
            targets.Add(new ProcessTarget($"{spread.Name} checkpoint attempts within 2 x {one.Name}'s",
                $"{attempts:N0} vs {alone:N0}", attempts <= 2 * Math.Max(1, alone)));
        }

        // Not a target of its own: whether 2x8's target can be reached at all (2x8 can at best do as well as 1x8, see DefaultLayouts).
        void Bound(ProcessLayout bound, ProcessLayout one, double minimum)
        {
            var b = results.Where(r => r.Layout == bound).ToList();
            var o = results.Where(r => r.Layout == one).ToList();
            if (b.Count > 0 && o.Count > 0)
            {
                var ratio = b.Average(r => r.RowsPerSecond) / o.Average(r => r.RowsPerSecond);
                targets.Add(new ProcessTarget($"bound: {bound.Name} >= {minimum:0.0} x {one.Name} rows/s (else {minimum:0.0} x is out of reach)",
                    $"{ratio:0.00} x ({b.Average(r => r.RowsPerSecond):N0} vs {o.Average(r => r.RowsPerSecond):N0} rows/s)", ratio >= minimum));
            }
        }

        Bound(new ProcessLayout(1, 8), new ProcessLayout(1, 16), 0.8);
        Compare(new ProcessLayout(2, 8), new ProcessLayout(1, 16), 0.8);
        Bound(new ProcessLayout(1, 8), new ProcessLayout(1, 32), 0.7);
        Compare(new ProcessLayout(4, 8), new ProcessLayout(1, 32), 0.7);
        Compare(new ProcessLayout(2, 8, false), new ProcessLayout(1, 16), 0.8);
        Compare(new ProcessLayout(4, 8, false), new ProcessLayout(1, 32), 0.7);
        return targets;
    }
}
