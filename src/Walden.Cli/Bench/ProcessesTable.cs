using System.Globalization;
using Spectre.Console;

namespace Walden.Cli.Bench;

/// <summary>Renders a <see cref="ProcessesReport"/>.</summary>
internal static class ProcessesTable
{
    internal static void Write(IAnsiConsole console, ProcessesReport report)
    {
        console.MarkupLine($"[bold]walden bench --scenarios processes[/]: SQLite {report.SqliteVersion}, {report.ProcessorCount} cores, " +
            $"{report.SecondsPerLayout:0.##} s per layout, durability {report.Durability}, one fresh file per layout");
        console.MarkupLine($"[grey]order: {Markup.Escape(report.Order)}[/]");
        var table = new Table().Border(TableBorder.Rounded).Title("processes x producers on one file");
        foreach (var column in new[] { "layout", "round", "rows", "rows/s", "p50 ms", "p99 ms", "max ms", "errors", "worst lock wait ms per process",
                     "checkpoints per process", "busy retries" })
        {
            table.AddColumn(new TableColumn(column).RightAligned());
        }

        table.Columns[0].LeftAligned();
        foreach (var r in report.Layouts)
        {
            table.AddRow(Markup.Escape(r.Layout.Name), r.Round.ToString(CultureInfo.InvariantCulture), N(r.Rows), N(r.RowsPerSecond), Ms(r.P50Ms),
                Ms(r.P99Ms), Ms(r.MaxMs), r.Errors == 0 && r.Rows == r.RowsInDatabase ? "0" : $"[red]{r.Errors:N0} ({r.RowsInDatabase:N0} rows in file)[/]",
                string.Join(" / ", r.PerProcess.Select(p => Ms(p.WorstLockWaitMs))),
                string.Join(" / ", r.PerProcess.Select(p => N(p.Checkpoints) + (p.CheckpointHolder ? "*" : ""))), N(r.BusyRetries));
        }

        console.Write(table);
        console.MarkupLine("worst lock wait: the longest one write transaction of that process waited for the write lock (its turn, then BEGIN IMMEDIATE). " +
            "checkpoints: attempts, including those that copied nothing; * = the process that held the checkpoint lease.");
        var targets = new Table().Border(TableBorder.Rounded).Title("targets (mean over the rounds; measured, not asserted)");
        targets.AddColumn("target").AddColumn("measured").AddColumn("met");
        foreach (var t in report.Targets)
        {
            targets.AddRow(Markup.Escape(t.Target), Markup.Escape(t.Measured), t.Met ? "[green]yes[/]" : "[red]no[/]");
        }

        console.Write(targets);
    }

    private static string N(double value) => value.ToString("N0", CultureInfo.InvariantCulture);

    private static string Ms(double ms) => ms.ToString(ms < 10 ? "0.00" : ms < 1000 ? "0.0" : "N0", CultureInfo.InvariantCulture);
}
