using System.CommandLine;
using Spectre.Console;
using Walden.Cli.Output;
using Walden.Integrity;
using Walden.Native;

namespace Walden.Cli.Commands;

/// <summary>
/// <c>walden check &lt;db&gt; [--full] [--json]</c>: exit 0 healthy, 1 corrupt (with the findings),
/// 2 cannot be checked (missing, not a database, locked). Stable for scripts.
/// </summary>
internal static class CheckCommand
{
    internal static Command Create()
    {
        var database = new Argument<FileInfo>("db") { Description = "The SQLite database file (any program's)." }.RefusingCompanions();
        var full = new Option<bool>("--full") { Description = "Run PRAGMA integrity_check (indexes and constraints too) instead of quick_check." };
        var json = new Option<bool>("--json") { Description = "Print JSON instead of text." };
        var command = new Command("check", "Check a database's header and run quick_check (or integrity_check with --full), read-only. Exit 0 healthy, 1 corrupt, 2 cannot be checked.")
        {
            database,
            full,
            json,
        };
        command.SetAction(result => Run(result.GetValue(database)!, result.GetValue(full), result.GetValue(json)));
        return command;
    }

    private static int Run(FileInfo file, bool full, bool json)
    {
        SqliteLibrary.EnsureSupported();
        var check = WaldenIntegrity.CheckFile(file.FullName, full ? WaldenIntegrityCheck.Full : WaldenIntegrityCheck.Quick);
        var exitCode = check.Status switch
        {
            WaldenFileStatus.Healthy => ExitCodes.Ok,
            WaldenFileStatus.Corrupt => ExitCodes.Failed,
            _ => ExitCodes.CannotRun,
        };
        if (json)
        {
            Json.Write(new { check.Path, check.Status, check.Kind, check.Findings, check.Notes, durationMs = check.Duration.TotalMilliseconds, exitCode });
            return exitCode;
        }

        if (check.Status == WaldenFileStatus.CannotCheck)
        {
            return CliErrors.Report(string.Join(" ", check.Findings));
        }

        // integrity_check also reports rows that break the schema's own constraints (a CHECK or NOT NULL added later, a
        // duplicate under a UNIQUE index): the pages are sound, and recovery cannot make such a row valid.
        var onlyConstraints = check.Status == WaldenFileStatus.Corrupt && check.Findings.Count > 0 && check.Findings.All(IsConstraintFinding);
        var verdict = check.Status == WaldenFileStatus.Healthy ? "[green]healthy[/]"
            : onlyConstraints ? "[yellow]rows violate the schema's constraints[/]" : "[red]corrupt[/]";
        AnsiConsole.MarkupLine($"{Markup.Escape(check.Path)}: {verdict} ({(full ? "integrity_check" : "quick_check")}, {check.Duration.TotalMilliseconds:N0} ms)");
        foreach (var finding in check.Findings)
        {
            AnsiConsole.MarkupLine($"  - {Markup.Escape(finding)}");
        }

        foreach (var note in check.Notes)
        {
            AnsiConsole.MarkupLine($"  note: {Markup.Escape(note)}");
        }

        if (onlyConstraints)
        {
            AnsiConsole.MarkupLine("This is not damage to the file's pages: these rows are stored intact but break the table's CHECK, NOT NULL or UNIQUE " +
                "constraints (a constraint added after they were written, an application function, an old SQLite). Recovery will not make them " +
                "valid (it keeps CHECK violations as they are and puts rows a NOT NULL or UNIQUE constraint refuses in lost_and_found): correct " +
                "the rows with the application, e.g. [bold]SELECT * FROM <table> WHERE NOT (<check>)[/], or the duplicates of the index's columns.");
        }
        else if (check.Status == WaldenFileStatus.Corrupt)
        {
            AnsiConsole.MarkupLine("Recover it with [bold]walden recover <db> --output <new.db>[/] (the input stays untouched) or [bold]--in-place[/].");
        }

        return exitCode;
    }

    private static bool IsConstraintFinding(string finding) =>
        finding.StartsWith("CHECK constraint failed in ", StringComparison.Ordinal)
        || finding.StartsWith("non-unique entry in index ", StringComparison.Ordinal)
        || finding.StartsWith("NULL value in ", StringComparison.Ordinal);
}
