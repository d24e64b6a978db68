using System.Diagnostics;
using System.Text;
using Walden.Archiving;

namespace Walden.Cli.Torture;

internal sealed partial class TortureSupervisor
{
    /// <summary>Waits for every worker to be gone, gathers what they acknowledged, and checks the database (and a hazard's copy).</summary>
    private async Task<CycleResult> FinishAsync(int cycle, StringBuilder log, List<WorkerProcess> workers, string mode, int killed,
        double killedAt, double writeSeconds, (string Path, Dictionary<long, long[]> Acks)? copy, KillPlan? plan)
    {
        int failures = 0, errors = 0, corruptions = 0, partial = 0;
        long acknowledged = 0, checkpoints = 0, reads = 0;
        var perWorker = new List<int>(workers.Count);
        foreach (var worker in workers)
        {
            // Only after the process is gone and its pipe is drained is the set of acknowledgements final:
            // a line still in the pipe at the kill was sent by the worker, so it counts.
            var (exitCode, hung, stderr) = await worker.WaitForExitAsync(StopLimit).ConfigureAwait(false);
            var acks = worker.AcksSnapshot();
            _retained.Add((cycle, worker.WorkerId, acks));
            acknowledged += acks.Length;
            perWorker.Add(acks.Length);
            var failed = mode == "startup" ? !worker.Ready.IsCompletedSuccessfully : !worker.Killed && (exitCode != 0 || hung || !worker.SaidDone);
            failures += failed ? 1 : 0;
            errors += worker.Errors;
            corruptions += worker.Corruptions;
            partial += worker.PartialBytes > 0 ? 1 : 0;
            checkpoints += worker.Checkpoints;
            reads += worker.Reads;
            Log(log, $"worker {worker.WorkerId} ({worker.Role}): {(worker.Killed ? "killed" : "stopped")}, exit {exitCode}{(hung ? " after hanging" : string.Empty)}, " +
                $"{acks.Length} acks, partial last line {worker.PartialBytes} bytes, {worker.Errors} errors, {worker.Corruptions} corruption reports, " +
                $"{worker.Checkpoints} checkpoints, {worker.Reads} reads{(failed ? " -- FAILED" : string.Empty)}");
            foreach (var note in worker.Notes())
            {
                Log(log, $"  worker {worker.WorkerId} said: {note}");
            }

            if (stderr.Length > 0)
            {
                Log(log, $"  worker {worker.WorkerId} stderr: {(stderr.Length > 4000 ? stderr[^4000..] : stderr)}");
            }
        }

        var cut = mode == "startup" ? null : CutPower(cycle, log);
        var checkClock = Stopwatch.StartNew();
        var expected = _retained.ToDictionary(r => r.Worker, r => r.Acks);
        var check = TortureChecker.Check(_settings.DatabasePath, expected);
        var powerCut = cut is { } c && check.IntegrityOk ? JudgePowerCut(c, workers, cycle) : null;
        HazardResult? hazard = null;
        if (_settings.Hazard is TortureHazard.DeleteWal or TortureHazard.SyncOff && plan is not null)
        {
            // Workers that met "database disk image is malformed" while the hazard ran caught it too, even when the file checks clean after.
            hazard = new HazardResult(TortureSettings.HazardName(_settings.Hazard), !check.Clean || corruptions > 0, check.Lost, check.IntegrityOk, check.Damaged,
                $"{check.Lost} acknowledged writes lost, integrity {(check.IntegrityOk ? "ok" : "failed")}, {check.Damaged} damaged, {check.Duplicates} duplicates, " +
                $"{corruptions} corruptions seen by the workers");
        }
        else if (copy is { } taken)
        {
            var copyCheck = TortureChecker.Check(taken.Path, taken.Acks);
            hazard = new HazardResult("copy-while-writing", !copyCheck.Clean, copyCheck.Lost, copyCheck.IntegrityOk, copyCheck.Damaged,
                $"the copy {taken.Path}: {copyCheck.Lost} writes acknowledged before the copy began are missing, integrity {(copyCheck.IntegrityOk ? "ok" : "failed")}, {copyCheck.Damaged} damaged");
            foreach (var problem in copyCheck.Problems)
            {
                Log(log, $"copy check: {problem}");
            }

            if (!copyCheck.Clean)
            {
                Log(log, $"hazard detected; the copy is kept at {taken.Path}");
            }
            else
            {
                DeleteCopy(taken.Path);
            }
        }

        var archive = mode == "startup" || _settings.Archive is null ? null : await CheckArchiveAsync(cycle, workers, log).ConfigureAwait(false);
        var checkSeconds = checkClock.Elapsed.TotalSeconds;
        Log(log, $"check of {_settings.DatabasePath}: {check.Rows} rows, integrity {(check.IntegrityOk ? "ok" : "FAILED")}, lost {check.Lost}, " +
            $"duplicates {check.Duplicates}, damaged {check.Damaged}, {checkSeconds:F2} s");
        foreach (var problem in check.Problems)
        {
            Log(log, $"check: {problem}");
        }

        if (powerCut is not null)
        {
            Log(log, $"power cut took {powerCut.LostThisCycle} acknowledgements of this cycle ({powerCut.AllowedLoss} allowed by {_settings.Durability}), " +
                $"the oldest {powerCut.WindowMs:F0} ms before the last acknowledgement; {powerCut.AcksInWindow} acknowledgements arrived in that window");
        }

        return new CycleResult(cycle, mode, killed, killedAt, acknowledged, perWorker, writeSeconds, writeSeconds > 0 ? acknowledged / writeSeconds : 0,
            check.Rows, check.Lost, check.IntegrityOk, check.Duplicates, check.Damaged, corruptions, failures, errors, partial,
            checkpoints, reads, checkSeconds, hazard, check.Problems, powerCut) { Archive = archive };
    }

    /// <summary>Commits the hazard of this run while the workers write; for a copy, also notes which acknowledgements it must hold.</summary>
    private (string Path, Dictionary<long, long[]> Acks)? CommitHazard(int cycle, List<WorkerProcess> workers, StringBuilder log)
    {
        var database = _settings.DatabasePath;
        if (_settings.Hazard == TortureHazard.DeleteWal)
        {
            // The hazard itself (sqlite.org/howtocorrupt.html 2.4): never do this to a database in use.
            File.Delete(database + "-wal");
            File.Delete(database + "-shm");
            Log(log, "HAZARD: deleted the -wal and -shm files while the workers write");
            return null;
        }

        // Everything acknowledged before the copy starts is committed: a real backup would hold all of it.
        var acks = _retained.ToDictionary(r => r.Worker, r => r.Acks);
        foreach (var worker in workers)
        {
            acks[worker.WorkerId] = worker.AcksSnapshot();
        }

        var copy = _settings.CopyPath(cycle);
        File.Copy(database, copy, overwrite: true);
        Log(log, $"HAZARD: copied the database file alone to {copy} while the workers write ({acks.Values.Sum(a => a.Length)} acknowledged writes before the copy)");
        return (copy, acks);
    }

    private static void DeleteCopy(string copy)
    {
        // Our own closed copy, not a database in use: nothing else has it open.
        foreach (var file in new[] { copy, copy + "-wal", copy + "-shm" })
        {
            File.Delete(file);
        }

        var staging = ArchiveLineage.StagingFolder(copy);
        if (Directory.Exists(staging))
        {
            Directory.Delete(staging, recursive: true); // the lineage a restore writes beside its file
        }
    }
}
