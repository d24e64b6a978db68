using System.Globalization;

namespace Walden.Cli.Torture;

internal sealed partial record TortureSettings
{
    /// <summary>
    /// <c>--power-loss</c>: the workers run on the fault VFS (native/faultvfs.c) with undo logs; each cycle ends in a
    /// power cut of every worker, and the files are left as the page-cache model says a real cut would leave them.
    /// </summary>
    internal bool PowerLoss { get; init; }
}

/// <summary>One power cut: how the unsynced sectors were treated and what the acknowledgements lost.</summary>
/// <param name="Policy">drop, keep, torn (half the sectors kept) or garbage (a third each kept, dropped, garbled).</param>
/// <param name="Cut">The fault VFS's account of the cut.</param>
/// <param name="LostThisCycle">Writes acknowledged in this cycle that are not in the database.</param>
/// <param name="AllowedLoss">The part of the loss that Normal durability allows (0 for Full).</param>
/// <param name="WindowMs">How long before the last acknowledgement of the cycle the oldest lost one arrived (0 without loss).</param>
/// <param name="AcksInWindow">Acknowledgements of the cycle that arrived from the oldest lost one on (lost or not).</param>
internal sealed record PowerCutResult(string Policy, string Cut, long LostThisCycle, long AllowedLoss, double WindowMs, long AcksInWindow);

/// <summary>The power cuts of a whole run.</summary>
internal sealed record PowerLossSummary(
    int Drop, int Keep, int Torn, int Garbage, long LostToCuts, int CyclesWithLoss, long MostLostInOneCut, double LongestWindowMs,
    long MostAcksInWindow)
{
    internal static PowerLossSummary From(IReadOnlyList<CycleResult> cycles)
    {
        var cuts = cycles.Select(c => c.PowerCut).OfType<PowerCutResult>().ToList();
        return new PowerLossSummary(
            cuts.Count(c => c.Policy == "drop"), cuts.Count(c => c.Policy == "keep"), cuts.Count(c => c.Policy == "torn"),
            cuts.Count(c => c.Policy == "garbage"), cuts.Sum(c => c.AllowedLoss), cuts.Count(c => c.AllowedLoss > 0),
            cuts.Count > 0 ? cuts.Max(c => c.AllowedLoss) : 0, cuts.Count > 0 ? cuts.Max(c => c.WindowMs) : 0,
            cuts.Count > 0 ? cuts.Max(c => c.AcksInWindow) : 0);
    }

    internal string Describe() => LostToCuts == 0
        ? "none lost"
        : string.Create(CultureInfo.InvariantCulture,
            $"{LostToCuts:N0} acknowledged writes lost to the cuts as Normal allows, in {CyclesWithLoss:N0} cycles, at most {MostLostInOneCut:N0} " +
            $"in one cut, each acknowledged at most {LongestWindowMs:N0} ms before the cycle's last acknowledgement");
}

internal sealed partial class TortureSupervisor
{
    private static readonly (string Name, double Keep, double Drop)[] CutPolicies =
        [("drop", 0, 1), ("keep", 1, 0), ("torn", 0.5, 0.5), ("garbage", 1.0 / 3, 1.0 / 3)];

    /// <summary>The workers' launch: on the fault VFS, with undo logs for every file of the torture folder.</summary>
    private WorkerLaunch LaunchFor(int cycle)
    {
        if (!_settings.PowerLoss)
        {
            return _launch;
        }

        var folder = Path.GetFullPath(_settings.Folder).TrimEnd('/') + "/";
        var spec = string.Create(CultureInfo.InvariantCulture, $"dir={folder};undo=1;seed={CutSeed(cycle)}") +
                   (_settings.Hazard == TortureHazard.SyncOff ? ";sync=off" : string.Empty);
        return _launch with { Variables = new Dictionary<string, string> { [Faults.FaultVfs.Variable] = spec } };
    }

    /// <summary>
    /// With --power-loss, the cut's moment is drawn from when the first write was acknowledged, not from "ready": on a loaded
    /// machine the first commit can take longer than a short cycle, and a cut before any write tests nothing.
    /// </summary>
    private async Task WritingAsync(List<WorkerProcess> workers, System.Text.StringBuilder log)
    {
        if (!_settings.PowerLoss)
        {
            return;
        }

        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (workers.All(w => w.AckCount == 0) && clock.Elapsed < StartLimit && workers.All(w => !w.Ready.IsFaulted))
        {
            await Task.Delay(5).ConfigureAwait(false);
        }

        Log(log, $"first acknowledgement after {clock.Elapsed.TotalSeconds:F3} s");
    }

    private static string PowerCutText(PowerCutResult? p) => p is null ? string.Empty : string.Create(CultureInfo.InvariantCulture,
        $", power cut {p.Policy}: {p.Cut}; lost this cycle {p.LostThisCycle} (allowed {p.AllowedLoss}), window {p.WindowMs:F0} ms, {p.AcksInWindow} acks in it");

    private ulong CutSeed(int cycle) => (ulong)(uint)_settings.Seed * 1_000_003UL + (ulong)cycle;

    /// <summary>With every worker gone, leaves the files as the power cut would: see native/faultvfs.c.</summary>
    private (string Policy, string Cut)? CutPower(int cycle, System.Text.StringBuilder log)
    {
        if (!_settings.PowerLoss)
        {
            return null;
        }

        var policy = CutPolicies[new Random(HashCode.Combine(_settings.Seed, cycle)).Next(CutPolicies.Length)];
        var cut = Faults.FaultVfs.PowerCut(_settings.Folder, CutSeed(cycle), policy.Keep, policy.Drop);
        Log(log, $"power cut ({policy.Name}): {cut}");
        return (policy.Name, cut);
    }

    /// <summary>
    /// Which of this cycle's acknowledgements the cut took, and how recent they were. Under Normal that loss is allowed
    /// (and then forgotten, so later cycles do not count it again); anything older lost is never allowed.
    /// </summary>
    private PowerCutResult JudgePowerCut((string Policy, string Cut) cut, List<WorkerProcess> workers, int cycle)
    {
        using var connection = TortureRecord.OpenPlain(_settings.DatabasePath, busyTimeoutMs: 10_000);
        var lastAck = long.MinValue;
        var lostTimes = new List<long>();
        var allTimes = new List<long>();
        foreach (var worker in workers)
        {
            var acks = worker.AcksSnapshot();
            var times = worker.AckTimesSnapshot();
            var present = new HashSet<long>();
            using (var command = connection.CreateCommand())
            {
                command.CommandText = "SELECT seq FROM torture_record WHERE worker = $worker AND seq IS NOT NULL";
                command.Parameters.AddWithValue("$worker", worker.WorkerId);
                using var row = command.ExecuteReader();
                while (row.Read())
                {
                    present.Add(row.GetInt64(0));
                }
            }

            var kept = new List<long>(acks.Length);
            for (var i = 0; i < acks.Length && i < times.Length; i++)
            {
                allTimes.Add(times[i]);
                lastAck = Math.Max(lastAck, times[i]);
                if (present.Contains(acks[i]))
                {
                    kept.Add(acks[i]);
                }
                else
                {
                    lostTimes.Add(times[i]);
                }
            }

            if (_settings.Durability == WaldenDurability.Normal && kept.Count < acks.Length)
            {
                var index = _retained.FindIndex(r => r.Cycle == cycle && r.Worker == worker.WorkerId);
                _retained[index] = (cycle, worker.WorkerId, [.. kept]);
            }
        }

        if (lostTimes.Count == 0)
        {
            return new PowerCutResult(cut.Policy, cut.Cut, 0, 0, 0, 0);
        }

        var oldest = lostTimes.Min();
        var window = (lastAck - oldest) * 1000.0 / System.Diagnostics.Stopwatch.Frequency;
        var allowed = _settings.Durability == WaldenDurability.Normal ? lostTimes.Count : 0;
        return new PowerCutResult(cut.Policy, cut.Cut, lostTimes.Count, allowed, window, allTimes.Count(t => t >= oldest));
    }
}
