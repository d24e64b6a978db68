using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Walden.Cli.Torture;

/// <summary>
/// <c>torture --archive</c>: after every kill the database is rebuilt from the archive alone (the live file is not
/// looked at) and checked against the acknowledgements: all of them in Sync mode, those received at least the bound
/// before the kill in Async mode. An acknowledgement is timed when the supervisor read it, which is after the worker
/// gave it, so "received before kill - bound" can only demand less of Async than the bound itself.
/// </summary>
internal sealed partial class TortureSupervisor
{
    // Per cycle and worker: the acknowledgements the archive must hold, kept as long as the cycle's records are.
    private readonly List<(int Cycle, long Worker, long[] Acks)> _archiveRequired = [];
    private long _killStamp;

    private string[] ArchiveArguments() => _settings.Archive is { } mode
        ? ["--archive", _settings.ArchiveFolder, "--archive-mode", mode.ToString().ToLowerInvariant()]
        : [];

    private async Task<ArchiveCycleResult> CheckArchiveAsync(int cycle, List<WorkerProcess> workers, StringBuilder log)
    {
        var sync = _settings.Archive == WaldenArchiveMode.Sync;
        var boundTicks = (long)(_settings.ArchiveBound.TotalSeconds * Stopwatch.Frequency);
        var everything = new Dictionary<long, long[]>();
        foreach (var worker in workers)
        {
            var acks = worker.AcksSnapshot();
            var times = worker.AckTimesSnapshot();
            var required = sync || !worker.Killed ? acks : [.. acks.Where((_, i) => times[i] <= _killStamp - boundTicks)];
            _archiveRequired.Add((cycle, worker.WorkerId, required));
            everything[worker.WorkerId] = acks;
        }

        var expected = _archiveRequired.ToDictionary(r => r.Worker, r => r.Acks);
        var restored = _settings.RestoredPath(cycle);
        DeleteCopy(restored); // our own scratch file of an earlier run on this folder: restore never writes over a file
        WaldenArchiveRestoreResult restore;
        try
        {
            restore = await WaldenArchive.RestoreAsync(_settings.ArchiveFolder, restored).ConfigureAwait(false);
        }
        catch (WaldenException ex)
        {
            Log(log, $"archive: restore FAILED: {ex.Message}");
            return new ArchiveCycleResult(expected.Values.Sum(a => a.LongLength), 0, 0, false, false, 0, 0, $"restore failed: {ex.Message}");
        }

        var check = TortureChecker.Check(restored, expected);
        long withinBound = 0;
        if (!sync && check.IntegrityOk)
        {
            foreach (var (worker, acks) in everything)
            {
                expected[worker] = acks;
            }

            withinBound = TortureChecker.Check(restored, expected).Lost - check.Lost;
        }

        var result = new ArchiveCycleResult(_archiveRequired.Sum(r => r.Acks.LongLength), check.Lost, withinBound,
            check.IntegrityOk && check.Damaged == 0 && check.Duplicates == 0, restore.Complete, check.Rows, restore.Seconds, restore.Problem);
        Log(log, string.Create(CultureInfo.InvariantCulture,
            $"archive: restored base {restore.BaseId} through txid {restore.Txid} ({restore.Bytes:N0} bytes) in {restore.Seconds:F2} s: " +
            $"{check.Rows} rows, {result.Required} required, {check.Lost} missing, {withinBound} within the bound missing, " +
            $"integrity {(result.IntegrityOk ? "ok" : "FAILED")}, complete {restore.Complete}{(restore.Problem is { } p ? $", problem: {p}" : string.Empty)}"));
        foreach (var problem in check.Problems)
        {
            Log(log, $"archive check: {problem}");
        }

        if (result.Passed)
        {
            DeleteCopy(restored);
        }
        else
        {
            Log(log, $"the restored database is kept at {restored}");
        }

        return result;
    }

    private static string ArchiveText(ArchiveCycleResult? a) => a is null ? string.Empty : string.Create(CultureInfo.InvariantCulture,
        $", archive restore: {a.Rows} rows, {a.Required} required, missing {a.Lost}, within bound {a.WithinBoundMissing}, " +
        $"integrity {(a.IntegrityOk ? "ok" : "FAILED")}, complete {a.Complete}, {a.RestoreSeconds:F2} s{(a.Problem is { } p ? $" ({p})" : string.Empty)}");
}
