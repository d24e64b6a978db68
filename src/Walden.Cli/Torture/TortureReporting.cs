using Spectre.Console;

namespace Walden.Cli.Torture;

/// <summary>Turns the cycles of a run into its figures, its verdict and its printed table.</summary>
internal static class TortureReporting
{
    internal static TortureReport Summarize(TortureSettings settings, IReadOnlyList<CycleResult> cycles, string? failureLog, double elapsedSeconds)
    {
        var rates = cycles.Select(c => c.AcknowledgedPerSecond).Order().ToArray();
        var hazard = settings.Hazard != TortureHazard.None;
        var hazardCycle = cycles.FirstOrDefault(c => c.Hazard is { Detected: true });

        // For delete-wal the lost writes are the hazard's, committed on purpose; they are reported as its evidence.
        var realCycles = settings.Hazard is TortureHazard.DeleteWal or TortureHazard.SyncOff
            ? cycles.Where(c => c.Hazard is not { Detected: true }).ToList()
            : cycles;
        var report = new TortureReport(
            settings.DatabasePath,
            settings.RunLogPath,
            failureLog,
            settings.Seed,
            settings.Processes,
            settings.Producers,
            settings.Durability,
            TortureSettings.HazardName(settings.Hazard),
            settings.SecondsPerCycle,
            WaldenDatabase.SqliteVersion,
            settings.Cycles,
            cycles.Count,
            cycles.Sum(c => c.ProcessesKilled),
            cycles.Count(c => c.KillMode == "all"),
            cycles.Count(c => c.KillMode == "one"),
            cycles.Sum(c => c.WritesAcknowledged),
            realCycles.Sum(c => c.WritesLost - (c.PowerCut?.AllowedLoss ?? 0)), // Normal's loss at a power cut is measured apart
            realCycles.Count(c => !c.IntegrityOk) + realCycles.Count(c => c.CorruptionsSeenByWorkers > 0),
            realCycles.Sum(c => c.DuplicateRecords),
            realCycles.Sum(c => c.DamagedRecords),
            cycles.Sum(c => c.WorkerFailures),
            cycles.Sum(c => c.WorkerErrors),
            cycles.Sum(c => c.PartialLinesIgnored),
            cycles.Sum(c => c.Checkpoints),
            cycles.Sum(c => c.Reads),
            rates.Length > 0 ? rates[0] : 0,
            rates.Length > 0 ? rates[rates.Length / 2] : 0,
            rates.Length > 0 ? rates[^1] : 0,
            elapsedSeconds,
            hazardCycle is not null,
            string.Empty,
            cycles,
            settings.PowerLoss ? PowerLossSummary.From(cycles) : null,
            cycles.Sum(c => c.ForeignCommits),
            ArchiveSummary.From(settings, cycles));
        return report with { Verdict = Verdict(report, hazardCycle) };
    }

    /// <summary>0 when Walden kept every promise (and a hazard run caught its hazard); 1 otherwise.</summary>
    internal static int ExitCode(TortureReport report) =>
        report.Passed && (report.Hazard == "none" || report.HazardDetected) ? 0 : 1;

    private static string Verdict(TortureReport r, CycleResult? hazardCycle)
    {
        var where = r.FailureLog is null ? string.Empty : $" The database is kept at {r.Database}, the cycle's log at {r.FailureLog}.";
        if (!r.Passed)
        {
            return $"FAILED: {r.WritesLost:N0} acknowledged writes lost, {r.IntegrityFailures} integrity failures, " +
                   $"{r.DuplicateRecords:N0} duplicate and {r.DamagedRecords:N0} damaged records, {r.WorkerFailures} worker failures" +
                   (r.Archive is { } failed ? $"; archive: {failed.Lost:N0} required writes missing from the restore, {failed.Failures} failed restores" : string.Empty) +
                   $".{where}";
        }

        if (r.Hazard != "none")
        {
            return hazardCycle?.Hazard is { } h
                ? $"hazard detected ({h.Mode}, expected): {h.WritesLost:N0} acknowledged writes lost, integrity {(h.IntegrityOk ? "ok" : "failed")}, " +
                  $"{h.DamagedRecords:N0} damaged records in cycle {hazardCycle.Cycle}. The checker caught it.{where}"
                : $"hazard NOT detected: {r.Hazard} was committed in {r.Cycles} cycles and the checker found nothing. Treat the checker as broken.";
        }

        if (r.PowerLoss is { } p)
        {
            return $"passed: {r.Cycles:N0} power cuts, {r.WritesAcknowledged:N0} acknowledged writes, {p.Describe()}, " +
                   "no integrity failure, no duplicate or damaged record.";
        }

        if (r.Archive is { } a)
        {
            var rule = a.Mode == "sync" ? "every acknowledged write" : $"every write acknowledged at least {a.BoundSeconds:0.###} s before the kill";
            return $"passed: {r.Cycles:N0} cycles, {r.Kills:N0} processes killed, {r.WritesAcknowledged:N0} acknowledged writes, none lost; " +
                   $"{a.Restores:N0} restores from the archive ({a.Mode}) alone held {rule} ({a.Required:N0} required, 0 missing), integrity ok every time.";
        }

        return $"passed: {r.Cycles:N0} cycles, {r.Kills:N0} processes killed, {r.WritesAcknowledged:N0} acknowledged writes, none lost, " +
               "no integrity failure, no duplicate or damaged record.";
    }

    internal static void Print(TortureReport r)
    {
        var table = new Table().AddColumn("figure").AddColumn(new TableColumn("value").RightAligned());
        table.AddRow("cycles", $"{r.Cycles:N0} of {r.CyclesRequested:N0}");
        table.AddRow("processes killed (SIGKILL)", $"{r.Kills:N0} ({r.CyclesKillingAll:N0} cycles killed all, {r.CyclesKillingOne:N0} killed one)");
        table.AddRow("writes acknowledged", $"{r.WritesAcknowledged:N0}");
        table.AddRow("writes lost", Judge(r.WritesLost));
        table.AddRow("integrity failures", Judge(r.IntegrityFailures));
        table.AddRow("duplicate records", Judge(r.DuplicateRecords));
        table.AddRow("damaged records", Judge(r.DamagedRecords));
        table.AddRow("worker failures", Judge(r.WorkerFailures));
        table.AddRow("worker errors (e.g. busy; nothing acknowledged)", $"{r.WorkerErrors:N0}");
        table.AddRow("partial ack lines ignored", $"{r.PartialLinesIgnored:N0}");
        table.AddRow("checkpoints / verified reads", $"{r.Checkpoints:N0} / {r.Reads:N0}");
        if (r.ForeignCommits > 0)
        {
            table.AddRow("rows committed by the foreign writer (sqlite3 shell)", $"{r.ForeignCommits:N0}");
        }

        table.AddRow("throughput per cycle (acks/s) min / median / max", $"{r.ThroughputMinPerSecond:N0} / {r.ThroughputMedianPerSecond:N0} / {r.ThroughputMaxPerSecond:N0}");
        if (r.PowerLoss is { } p)
        {
            table.AddRow("power cuts (drop / keep / torn / garbage)", $"{r.Cycles:N0} ({p.Drop:N0} / {p.Keep:N0} / {p.Torn:N0} / {p.Garbage:N0})");
            table.AddRow("acknowledged writes lost to power cuts (Normal only)", $"{p.LostToCuts:N0} in {p.CyclesWithLoss:N0} cycles");
            table.AddRow("loss window: most lost in one cut / oldest lost ack before the last ack", $"{p.MostLostInOneCut:N0} / {p.LongestWindowMs:N0} ms");
        }

        if (r.Archive is { } a)
        {
            table.AddRow($"restores from the archive alone ({a.Mode})", $"{a.Restores:N0}");
            table.AddRow(a.Mode == "sync" ? "acknowledged writes required in them" : $"writes acknowledged >= {a.BoundSeconds:0.###} s before a kill required",
                $"{a.Required:N0}");
            table.AddRow("required writes missing from a restore", Judge(a.Lost));
            table.AddRow("failed restores (integrity, damaged or missing segment)", Judge(a.Failures));
            if (a.Mode == "async")
            {
                table.AddRow("writes acknowledged within the bound and not yet archived (allowed)", $"{a.WithinBoundMissing:N0}");
            }

            table.AddRow("restore time median / max", $"{a.RestoreSecondsMedian:F2} / {a.RestoreSecondsMax:F2} s");
        }

        table.AddRow("elapsed", $"{r.ElapsedSeconds:N0} s");
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine(
            $"seed {r.Seed}, {r.Processes} processes x {r.ProducersPerProcess} producers, durability {r.Durability}, hazard {r.Hazard}, SQLite {r.SqliteVersion}");
        AnsiConsole.MarkupLine($"run log: {Markup.Escape(r.RunLog)}");
        var color = TortureReporting.ExitCode(r) == 0 ? "green" : "red";
        AnsiConsole.MarkupLine($"[{color}]{Markup.Escape(r.Verdict)}[/]");
    }

    private static string Judge(long value) => value == 0 ? "[green]0[/]" : $"[red]{value:N0}[/]";
}
