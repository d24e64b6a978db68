using System.Globalization;
using Spectre.Console;

namespace Walden.Cli.Bench;

/// <summary>Renders a <see cref="BenchReport"/> as Spectre.Console tables.</summary>
internal static class BenchTable
{
    internal static void Write(IAnsiConsole console, BenchReport report)
    {
        console.MarkupLine(
            $"[bold]walden bench[/]: SQLite {report.SqliteVersion}, {report.Machine.ProcessorCount} cores, {Markup.Escape(report.Machine.Os)}, " +
            $"{report.Settings.ScenarioSeconds:0.##} s per scenario{(report.Settings.Rounds > 1 ? $" in each of {report.Settings.Rounds} rounds (figures: all rounds together)" : "")}, body mean {report.MeanBodyBytes:N0} B, folder {Markup.Escape(report.Machine.Folder)}");
        console.MarkupLine($"[grey]order: {Markup.Escape(report.Settings.Order)}[/]");
        console.MarkupLine($"disk: {Markup.Escape(report.Machine.Disk)}");
        console.MarkupLine(report.NodePeerVersion is { } node ? $"Node peer: {Markup.Escape(node)}"
            : $"Node peer: not run ({Markup.Escape(report.NodePeerSkipped ?? "not selected")})");

        var table = new Table().Border(TableBorder.Rounded).Title("writes");
        foreach (var column in new[] { "scenario", "N", "sync", "rows", "rows/s", "p50 ms", "p99 ms", "max ms", "errors", "peak WAL", "peak WS", "alloc/write", "CPU/write", "JIT ms" })
        {
            table.AddColumn(new TableColumn(column).RightAligned());
        }

        table.Columns[0].LeftAligned();
        int? group = null;
        foreach (var s in report.Scenarios)
        {
            if (group is not null && group != s.Group)
            {
                table.AddEmptyRow();
            }

            group = s.Group;
            var walden = s.Kind is ScenarioKind.WaldenFull or ScenarioKind.WaldenNormal or ScenarioKind.WaldenFullPlain or ScenarioKind.WaldenPipelined
                or ScenarioKind.WaldenArchiveAsync or ScenarioKind.WaldenArchiveSync;
            var name = walden ? $"[bold]{Markup.Escape(s.Name)}[/]" : Markup.Escape(s.Name);
            if (!s.DurableAtAck)
            {
                name += " [yellow]*[/]";
            }

            // The ceilings run on one thread: their N is the rows per commit they stand for (the row's group), not 1.
            var n = s.Kind is ScenarioKind.BatchCeiling or ScenarioKind.BatchCeilingSecondFile ? s.Group : s.Producers;
            table.AddRow(name, n.ToString(CultureInfo.InvariantCulture), s.Synchronous, s.Rows.ToString("N0", CultureInfo.InvariantCulture),
                s.RowsPerSecond.ToString("N0", CultureInfo.InvariantCulture), Ms(s.P50Ms), Ms(s.P99Ms), Ms(s.MaxMs),
                s.Errors == 0 ? "0" : $"[red]{s.Errors:N0}[/]", Size(s.PeakWalBytes), Size(s.PeakWorkingSetBytes),
                s.Kind == ScenarioKind.NodeGroupCommit ? "-" : s.AllocatedBytesPerWrite.ToString("N0", CultureInfo.InvariantCulture) + " B",
                s.CpuMicrosecondsPerWrite is { } cpu ? cpu.ToString("N0", CultureInfo.InvariantCulture) + " µs" : "-",
                s.JitMilliseconds is { } jit ? jit.ToString("N0", CultureInfo.InvariantCulture) : "-");
        }

        console.Write(table);
        console.MarkupLine("limit: 1 thread, 1 connection, prepared insert, 10,000 rows per transaction (the ceiling). " +
            "seed A: a connection per producer, one auto-committed INSERT per row, busy timeout 5 s (Microsoft.Data.Sqlite's 150 ms sleeps). " +
            "careful .NET peer: one connection behind a SemaphoreSlim, one BEGIN IMMEDIATE transaction per write. " +
            "Walden: producers await WriteAsync for every row (GetCachedCommand; 'plain ADO': a new SqliteCommand and AddWithValue per write). " +
            "Node group commit: bench/node/group-commit.mjs (its own process; peak WAL and memory not sampled). " +
            "Every producer awaits each acknowledgement before its next row. " +
            "CPU/write: the whole process's CPU (every thread) during the scenario per acknowledged row. " +
            "JIT ms: time the JIT spent compiling during the scenario (code still tiering up was measured).");
        console.MarkupLine(Markup.Escape(BenchAnalysis.PipelinedNote));
        console.MarkupLine(Markup.Escape(BenchAnalysis.CeilingNote));
        console.MarkupLine($"[yellow]*[/] {Markup.Escape(BenchAnalysis.SeedBNote)}");

        var ratios = new Table().Border(TableBorder.Rounded).Title("Walden rows/s over each baseline, same run");
        foreach (var column in new[] { "N", "Full / limit", "Normal / limit", "Full / seed A", "Normal / seed A", "Full / seed B", "Normal / seed B",
            "Full / ceiling", "ceiling / limit", "plain ADO / ceiling", "Full / careful peer", "Full / Node", "Pipelined / Full" })
        {
            ratios.AddColumn(new TableColumn(column).RightAligned());
        }

        foreach (var r in report.Ratios)
        {
            ratios.AddRow(r.Producers.ToString(CultureInfo.InvariantCulture), X(r.WaldenFullOverLimit), X(r.WaldenNormalOverLimit),
                X(r.WaldenFullOverSeedA), X(r.WaldenNormalOverSeedA), X(r.WaldenFullOverSeedB), X(r.WaldenNormalOverSeedB),
                X(r.WaldenFullOverCeiling), X(r.CeilingOverLimit), X(r.WaldenPlainOverCeiling), X(r.WaldenFullOverCarefulPeer), X(r.WaldenFullOverNode),
                X(r.PipelinedOverFull));
        }

        console.Write(ratios);

        if (report.Reads is { } reads)
        {
            var readTable = new Table().Border(TableBorder.Rounded)
                .Title($"{reads.Readers} readers (Walden ReadAsync, latest 20 rows of a task) on {reads.SeedRows:N0} rows");
            foreach (var column in new[] { "phase", "reads", "reads/s", "p50 ms", "p99 ms", "writer rows/s", "writer p99 ms" })
            {
                readTable.AddColumn(new TableColumn(column).RightAligned());
            }

            readTable.Columns[0].LeftAligned();
            foreach (var p in reads.Phases)
            {
                readTable.AddRow(p.Phase, p.Reads.ToString("N0", CultureInfo.InvariantCulture), p.ReadsPerSecond.ToString("N0", CultureInfo.InvariantCulture),
                    Ms(p.P50Ms), Ms(p.P99Ms), p.WriteRows == 0 ? "-" : p.WriteRowsPerSecond.ToString("N0", CultureInfo.InvariantCulture),
                    p.WriteRows == 0 ? "-" : Ms(p.WriteP99Ms));
            }

            console.Write(readTable);
            console.MarkupLine($"readers alone (mean of both phases) {reads.AloneReadsPerSecond:N0} reads/s, during {reads.Producers} producers {reads.LoadedReadsPerSecond:N0} reads/s: loss {reads.LossPercent:0.0}%");
            foreach (var p in reads.Phases.Where(p => p.CpuMsPerSecond.Count > 0))
            {
                console.MarkupLine($"CPU ms/s in {p.Phase} ({report.Machine.ProcessorCount * 1000:N0} = every core busy): " +
                    Markup.Escape(string.Join(", ", p.CpuMsPerSecond.Select(kv => $"{kv.Key} {kv.Value:N0}"))));
            }

            if (report.Scenarios.FirstOrDefault(s => s.Kind == ScenarioKind.WaldenFull && s.Producers == reads.Producers) is { } alone)
            {
                console.MarkupLine($"the {reads.Producers} producers wrote {reads.Phases[1].WriteRowsPerSecond:N0} rows/s beside the readers, " +
                    $"{alone.RowsPerSecond:N0} rows/s without them (Walden Full, N={reads.Producers} above)");
            }

        }

        if (report.Idle is { } idle)
        {
            console.MarkupLine($"CPU per write at {idle.WritesPerSecond:N0} writes/s ({idle.Writes:N0} writes each; reached {idle.DirectAchievedPerSecond:N0} and " +
                $"{idle.WaldenAchievedPerSecond:N0}/s): direct insert-and-commit " +
                $"{idle.DirectCpuUsPerWrite:N0} us, Walden Full {idle.WaldenCpuUsPerWrite:N0} us ({idle.CpuRatio:0.00} x); Walden's CPU ms/s by thread: " +
                Markup.Escape(string.Join(", ", idle.TrickleCpuMsPerSecond.Select(kv => $"{kv.Key} {kv.Value:N1}"))));
            console.MarkupLine($"open, a second after the last write, for {idle.IdleSeconds:0.#} s: {idle.IdlePercentOfCore:0.00}% of one core " +
                $"({idle.IdlePercentWithoutJit:0.00}% without the JIT thread); CPU ms/s by thread: " +
                Markup.Escape(idle.IdleCpuMsPerSecond.Count == 0 ? "none" : string.Join(", ", idle.IdleCpuMsPerSecond.Select(kv => $"{kv.Key} {kv.Value:N1}"))));
        }

        if (report.Archive is { Count: > 0 } archive)
        {
            var archiveTable = new Table().Border(TableBorder.Rounded).Title("archive (a folder on the same disk): lag and restore");
            foreach (var column in new[] { "mode", "N", "lag p50 ms", "lag p99 ms", "archive size", "restored", "restore s", "restore MB/s" })
            {
                archiveTable.AddColumn(new TableColumn(column).RightAligned());
            }

            foreach (var a in archive)
            {
                archiveTable.AddRow(a.Mode, a.Producers.ToString(CultureInfo.InvariantCulture), Ms(a.LagP50Ms), Ms(a.LagP99Ms), Size(a.ArchiveBytes),
                    Size(a.RestoreBytes), a.RestoreSeconds.ToString("0.00", CultureInfo.InvariantCulture),
                    a.RestoreMegabytesPerSecond.ToString("N0", CultureInfo.InvariantCulture));
            }

            console.Write(archiveTable);
            console.MarkupLine("lag = commit to durable in the destination (per shipped segment, its oldest transaction); Litestream's default interval is 1 s. " +
                "Restore = base + segments + integrity_check, into a new file.");
        }

        var targets = new Table().Border(TableBorder.Rounded).Title("targets (measured, not asserted)");
        targets.AddColumn("target").AddColumn("measured").AddColumn("met");
        foreach (var t in report.Targets)
        {
            targets.AddRow(Markup.Escape(t.Target), Markup.Escape(t.Measured), t.Met switch
            {
                true => "[green]met[/]",
                false => "[red]missed[/]",
                null => "[grey]not measured[/]",
            });
        }

        console.Write(targets);
        foreach (var finding in report.Findings)
        {
            console.MarkupLine(Markup.Escape(finding));
        }

        console.MarkupLine($"[grey]total {report.TotalSeconds:N0} s[/]");
    }

    private static string Ms(double ms) => ms.ToString(ms < 10 ? "0.00" : ms < 1000 ? "0.0" : "N0", CultureInfo.InvariantCulture);

    private static string X(double? ratio) => ratio is { } r ? r.ToString(r < 10 ? "0.00" : "N1", CultureInfo.InvariantCulture) + " x" : "-";

    private static string Size(long bytes) => bytes switch
    {
        0 => "0",
        < 1024 * 1024 => $"{bytes / 1024.0:0.#} KiB",
        < 1024L * 1024 * 1024 => $"{bytes / 1024.0 / 1024:0.#} MiB",
        _ => $"{bytes / 1024.0 / 1024 / 1024:0.##} GiB",
    };
}
