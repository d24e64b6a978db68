using System.CommandLine;
using Microsoft.Data.Sqlite;
using Spectre.Console;
using Walden.Cli.Output;
using Walden.Diagnostics.Doctor;

namespace Walden.Cli.Commands;

/// <summary>
/// <c>walden doctor &lt;db&gt;</c>: the hazards around a database that corrupt or lose SQLite databases (see <see cref="WaldenDoctor"/>).
/// Read-only and safe on a database in use. Exit 0 when nothing is dangerous, 1 when something is, 2 when it could not run.
/// </summary>
internal static class DoctorCommand
{
    internal static Command Create()
    {
        var database = new Argument<string>("db") { Description = "The SQLite database file (any program's, in use or not)." }.RefusingCompanions();
        var json = new Option<bool>("--json") { Description = "Print one JSON document instead of tables." };
        var command = new Command("doctor",
            "Find what endangers a database: processes holding it and their SQLite versions, the file system, deleted files still held " +
            "open, the last writer's version, stray or foreign-owned companions, a hot journal, readers holding the WAL back, the " +
            "freelist, quick_check. Read-only and safe on a database in use. Exit 0: no danger; 1: danger found; 2: could not run.")
        {
            database,
            json,
        };
        command.SetAction(result => Run(result.GetValue(database)!, result.GetValue(json)));
        return command;
    }

    private static int Run(string path, bool json)
    {
        DoctorReport report;
        try
        {
            report = WaldenDoctor.Examine(path);
        }
        catch (Exception ex) when (ex is WaldenException or SqliteException or IOException or UnauthorizedAccessException)
        {
            var message = ex is SqliteException sqlite ? $"SQLite could not read '{path}': {sqlite.Message}" : ex.Message;
            if (json)
            {
                Json.Write(new DoctorFailure(Path.GetFullPath(path), "couldNotRun", message, ExitCodes.CannotRun));
                return ExitCodes.CannotRun;
            }

            return CliErrors.Report(message);
        }

        var exitCode = report.Severity == DoctorSeverity.Danger ? ExitCodes.Failed : ExitCodes.Ok;
        if (json)
        {
            Json.Write(new DoctorOutput(report.Database, report.Severity, exitCode, report.Findings, report.Processes));
            return exitCode;
        }

        Print(report);
        return exitCode;
    }

    private static void Print(DoctorReport report)
    {
        AnsiConsole.MarkupLine($"walden doctor: [bold]{Markup.Escape(report.Database)}[/]");
        // Fixed widths: the table stays readable when piped too (Terminal leaves redirected output unwrapped).
        var table = new Table().AddColumn("").AddColumn(new TableColumn("check").Width(12)).AddColumn(new TableColumn("seen").Width(58))
            .AddColumn(new TableColumn("why it matters / what to do").Width(58));
        foreach (var finding in report.Findings)
        {
            var advice = string.Join(" ", new[] { finding.Why, finding.Action.Length > 0 ? "Do: " + finding.Action : "" }
                .Where(s => s.Length > 0));
            table.AddRow(Badge(finding.Severity), Markup.Escape(finding.Check), Markup.Escape(finding.Seen), Markup.Escape(advice));
        }

        AnsiConsole.Write(table);
        if (report.Processes.Count > 0)
        {
            var processes = new Table().AddColumn("pid").AddColumn(new TableColumn("command").Width(40))
                .AddColumn(new TableColumn("holds").Width(30)).AddColumn(new TableColumn("SQLite mapped").Width(56));
            foreach (var process in report.Processes)
            {
                var sqlite = process.Sqlite.Count == 0
                    ? "none found"
                    : string.Join("; ", process.Sqlite.Select(s =>
                        $"{s.What} {s.Version ?? "version unknown"}{(s.WalResetBug == true ? " (WAL-reset bug)" : "")}"));
                processes.AddRow(process.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    Markup.Escape(process.CommandLine ?? "?"), Markup.Escape(string.Join(", ", process.Files)), Markup.Escape(sqlite));
            }

            AnsiConsole.Write(processes);
        }

        var dangers = report.Findings.Count(f => f.Severity == DoctorSeverity.Danger);
        var warnings = report.Findings.Count(f => f.Severity == DoctorSeverity.Warning);
        AnsiConsole.MarkupLine(dangers > 0
            ? $"[red]{dangers} danger(s)[/], {warnings} warning(s): act on the dangers before this database is written again."
            : warnings > 0 ? $"[yellow]{warnings} warning(s)[/], no danger." : "[green]No danger, no warning.[/]");
    }

    private static string Badge(DoctorSeverity severity) => severity switch
    {
        DoctorSeverity.Danger => "[red]danger[/]",
        DoctorSeverity.Warning => "[yellow]warning[/]",
        _ => "[green]ok[/]",
    };

    private sealed record DoctorOutput(string Database, DoctorSeverity Severity, int ExitCode, IReadOnlyList<DoctorFinding> Findings,
        IReadOnlyList<DoctorProcess> Processes);

    private sealed record DoctorFailure(string Database, string Severity, string Error, int ExitCode);
}
