using System.Diagnostics;
using System.Globalization;
using System.Text;
using Walden.Configuration;

namespace Walden.Cli.Torture;

/// <summary>
/// Runs the cycles of <c>walden torture</c>: starts the workers on one database, kills one or all of
/// them with SIGKILL at a random moment (seeded), checks the database against every acknowledgement
/// received, and starts the next cycle on the same file so damage would accumulate. Stops at the first
/// cycle that finds a problem and leaves the database and the cycle's log in place.
/// </summary>
internal sealed partial class TortureSupervisor
{
    private static readonly TimeSpan StartLimit = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan StopLimit = TimeSpan.FromMinutes(1);

    private readonly TortureSettings _settings;
    private readonly WorkerLaunch _launch;
    private readonly Random _random;
    private readonly Action<CycleResult>? _onCycle;

    // Acknowledgements still checked every cycle, oldest first, with the cycle that produced them.
    private readonly List<(int Cycle, long Worker, long[] Acks)> _retained = [];
    private long _nextWorker;

    internal TortureSupervisor(TortureSettings settings, WorkerLaunch launch, Action<CycleResult>? onCycle = null)
    {
        _settings = settings;
        _launch = launch;
        _random = new Random(settings.Seed);
        _onCycle = onCycle;
    }

    internal async Task<TortureReport> RunAsync(CancellationToken cancellationToken = default)
    {
        var clock = Stopwatch.StartNew();
        await PrepareDatabaseAsync(cancellationToken).ConfigureAwait(false);
        await AppendRunLogAsync(
            $"# walden torture: seed {_settings.Seed}, {_settings.Processes} processes x {_settings.Producers} producers, " +
            $"{_settings.Cycles} cycles of {_settings.SecondsPerCycle} s, durability {_settings.Durability}, hazard {TortureSettings.HazardName(_settings.Hazard)}, " +
            (_settings.Archive is { } mode ? $"archive {mode} to {_settings.ArchiveFolder} (async bound {_settings.ArchiveBound.TotalSeconds} s), " : string.Empty) +
            $"SQLite {WaldenDatabase.SqliteVersion}, database {_settings.DatabasePath}").ConfigureAwait(false);

        var results = new List<CycleResult>();
        string? failureLog = null;
        for (var cycle = 1; cycle <= _settings.Cycles && !cancellationToken.IsCancellationRequested; cycle++)
        {
            var log = new StringBuilder();
            var result = await RunCycleAsync(cycle, log).ConfigureAwait(false);
            results.Add(result);
            await AppendRunLogAsync(Summary(result)).ConfigureAwait(false);
            _onCycle?.Invoke(result);

            var hazardSeen = result.Hazard is { Detected: true };
            if (!result.Clean || hazardSeen)
            {
                // Keep the evidence: the database stays as the checker found it, with this cycle's log beside it.
                failureLog = _settings.CycleLogPath(cycle);
                await File.WriteAllTextAsync(failureLog, log.ToString(), CancellationToken.None).ConfigureAwait(false);
                break;
            }

            Prune(cycle);
        }

        return TortureReporting.Summarize(_settings, results, failureLog, clock.Elapsed.TotalSeconds);
    }

    private async Task PrepareDatabaseAsync(CancellationToken cancellationToken)
    {
        // Walden creates the file in WAL mode; the schema goes in through it like any application's would.
        var database = await WaldenDatabase.OpenAsync(_settings.DatabasePath, new WaldenOptions { Durability = _settings.Durability }, cancellationToken).ConfigureAwait(false);
        await using (database.ConfigureAwait(false))
        {
            await database.WriteAsync(c => ConnectionFactory.Execute(c, TortureRecord.Schema), cancellationToken).ConfigureAwait(false);
            await database.WriteAsync(c => ConnectionFactory.Execute(c, ForeignWriter.Schema), cancellationToken).ConfigureAwait(false);
        }

        if (_settings.Archive is not null)
        {
            Directory.CreateDirectory(_settings.ArchiveFolder);
        }

        // Worker ids are never reused, also across runs on one folder, so every (worker, seq) is unique.
        _nextWorker = TortureChecker.NextWorkerId(_settings.DatabasePath);
    }

    private async Task<CycleResult> RunCycleAsync(int cycle, StringBuilder log)
    {
        var workers = new List<WorkerProcess>();
        ForeignWriter? foreign = null;
        try
        {
            for (var slot = 0; slot < _settings.Processes; slot++)
            {
                // An archived worker checkpoints through Walden only: a plain connection's TRUNCATE is another program's reset.
                var role = _settings.Archive is not null ? WorkerRole.Reader
                    : slot switch { 0 => WorkerRole.Checkpointer, 1 => WorkerRole.Reader, _ => WorkerRole.Writer };
                var worker = WorkerProcess.Start(LaunchFor(cycle), _settings.DatabasePath, _nextWorker++, role, _settings.Producers, _settings.Durability,
                    ArchiveArguments());
                workers.Add(worker);
                Log(log, $"started worker {worker.WorkerId} ({role}) as pid {worker.ProcessId}");
            }

            if (!await AllReadyAsync(workers, log).ConfigureAwait(false))
            {
                return await FinishAsync(cycle, log, workers, "startup", 0, 0, 0, null, null).ConfigureAwait(false);
            }

            if (_settings.ForeignWriter is { } shell)
            {
                foreign = ForeignWriter.Start(shell, _settings.DatabasePath, cycle);
                Log(log, $"started the foreign writer (sqlite3 shell) as pid {foreign.ProcessId}");
            }

            await WritingAsync(workers, log).ConfigureAwait(false);
            var plan = Plan(workers);
            Log(log, $"all ready; plan: kill {plan.Mode} ({string.Join(", ", plan.Victims.Select(v => v.WorkerId))}) at {plan.KillAt:F3} s" +
                (plan.HazardAt is { } h ? $", hazard {TortureSettings.HazardName(_settings.Hazard)} at {h:F3} s" : string.Empty));
            var clock = Stopwatch.StartNew();
            (string Copy, Dictionary<long, long[]> Acks)? copy = null;
            if (plan.HazardAt is { } hazardAt)
            {
                await DelayUntilAsync(clock, hazardAt).ConfigureAwait(false);
                copy = CommitHazard(cycle, workers, log);
            }

            await DelayUntilAsync(clock, plan.KillAt).ConfigureAwait(false);
            _killStamp = Stopwatch.GetTimestamp();
            foreach (var victim in plan.Victims)
            {
                victim.Kill();
            }

            if (foreign is not null && plan.Victims.Count == workers.Count)
            {
                await foreign.KillAsync().ConfigureAwait(false); // everyone dies at once, the foreign writer too
            }

            var killedAt = clock.Elapsed.TotalSeconds;
            Log(log, $"SIGKILL sent to {plan.Victims.Count} worker(s) at {killedAt:F3} s");
            var writeSeconds = killedAt;
            if (plan.Victims.Count < workers.Count)
            {
                // The survivors keep writing past the crash of their neighbour, then stop cleanly.
                await DelayUntilAsync(clock, Math.Max(_settings.SecondsPerCycle, plan.KillAt)).ConfigureAwait(false);
                foreach (var survivor in workers.Where(w => !w.Killed))
                {
                    survivor.RequestStop();
                }

                writeSeconds = clock.Elapsed.TotalSeconds;
                Log(log, $"clean stop requested from the survivors at {writeSeconds:F3} s");
            }

            if (foreign is not null)
            {
                await foreign.KillAsync().ConfigureAwait(false); // nothing may write while the checker runs
                Log(log, $"foreign writer: {foreign.Committed} rows committed, {foreign.Errors} error lines");
            }

            var result = await FinishAsync(cycle, log, workers, plan.Mode, plan.Victims.Count, killedAt, writeSeconds, copy, plan).ConfigureAwait(false);
            return result with { ForeignCommits = foreign?.Committed ?? 0 };
        }
        finally
        {
            foreign?.Dispose();
            foreach (var worker in workers)
            {
                worker.Dispose();
            }
        }
    }

    private async Task<bool> AllReadyAsync(List<WorkerProcess> workers, StringBuilder log)
    {
        try
        {
            await Task.WhenAll(workers.Select(w => w.Ready)).WaitAsync(StartLimit).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is TimeoutException or InvalidOperationException)
        {
            Log(log, $"not every worker became ready: {ex.Message}");
            foreach (var worker in workers)
            {
                worker.Kill();
            }

            return false;
        }
    }

    private KillPlan Plan(List<WorkerProcess> workers)
    {
        var seconds = _settings.SecondsPerCycle;
        var killAt = seconds * (0.1 + (0.9 * _random.NextDouble()));
        var killAll = workers.Count == 1 || _random.Next(2) == 0 || _settings.PowerLoss; // a power cut takes every process
        double? hazardAt = null;
        switch (_settings.Hazard)
        {
            case TortureHazard.DeleteWal:
                // Every process must die: a survivor's clean close would checkpoint its open (deleted) WAL back into the file.
                killAll = true;
                hazardAt = killAt;
                killAt += Math.Min(0.5, Math.Max(0.2, seconds / 4));
                break;
            case TortureHazard.CopyWhileWriting:
                hazardAt = killAt * (0.3 + (0.6 * _random.NextDouble()));
                break;
        }

        var victims = killAll ? workers : [workers[_random.Next(workers.Count)]];
        return new KillPlan(killAll ? "all" : "one", victims, killAt, hazardAt);
    }

    private static async Task DelayUntilAsync(Stopwatch clock, double seconds)
    {
        var wait = TimeSpan.FromSeconds(seconds) - clock.Elapsed;
        if (wait > TimeSpan.Zero)
        {
            await Task.Delay(wait).ConfigureAwait(false);
        }
    }

    private void Prune(int cycle)
    {
        if (_settings.KeepCycles <= 0)
        {
            return;
        }

        _archiveRequired.RemoveAll(r => r.Cycle <= cycle - _settings.KeepCycles);
        var dropped = _retained.RemoveAll(r => r.Cycle <= cycle - _settings.KeepCycles);
        if (dropped > 0)
        {
            TortureChecker.Prune(_settings.DatabasePath, _retained.Count > 0 ? _retained.Min(r => r.Worker) : _nextWorker);
        }
    }

    private Task AppendRunLogAsync(string line) =>
        File.AppendAllTextAsync(_settings.RunLogPath, line + "\n", CancellationToken.None);

    private static string Summary(CycleResult r) => string.Create(CultureInfo.InvariantCulture,
        $"cycle {r.Cycle}: kill {r.KillMode} ({r.ProcessesKilled}) at {r.KillAtSeconds:F2} s, acks {r.WritesAcknowledged} ({r.AcknowledgedPerSecond:F0}/s; per worker {string.Join("/", r.AcknowledgedPerWorker)}), " +
        $"rows {r.RowsInDatabase}, lost {r.WritesLost}, integrity {(r.IntegrityOk ? "ok" : "FAILED")}, duplicates {r.DuplicateRecords}, damaged {r.DamagedRecords}, " +
        $"worker corruption reports {r.CorruptionsSeenByWorkers}, worker failures {r.WorkerFailures}, errors {r.WorkerErrors}, " +
        $"checkpoints {r.Checkpoints}, reads {r.Reads}, foreign commits {r.ForeignCommits}, check {r.CheckSeconds:F2} s{HazardText(r.Hazard)}{PowerCutText(r.PowerCut)}{ArchiveText(r.Archive)}");

    private static string HazardText(HazardResult? h) =>
        h is null ? string.Empty : $", hazard {h.Mode}: {(h.Detected ? "detected" : "not detected")} ({h.Detail})";

    private static void Log(StringBuilder log, string line) =>
        log.Append(string.Create(CultureInfo.InvariantCulture, $"{Stopwatch.GetTimestamp() / (double)Stopwatch.Frequency:F3} {line}\n"));

    private sealed record KillPlan(string Mode, IReadOnlyList<WorkerProcess> Victims, double KillAt, double? HazardAt);
}
