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

        var verdict = check.Status == WaldenFileStatus.Healthy ? "[green]healthy[/]" : "[red]corrupt[/]";
        AnsiConsole.MarkupLine($"{Markup.Escape(check.Path)}: {verdict} ({(full ? "integrity_check" : "quick_check")}, {check.Duration.TotalMilliseconds:N0} ms)");
        foreach (var finding in check.Findings)
        {
            AnsiConsole.MarkupLine($"  - {Markup.Escape(finding)}");
        }

        foreach (var note in check.Notes)
        {
            AnsiConsole.MarkupLine($"  note: {Markup.Escape(note)}");
        }

        if (check.Status == WaldenFileStatus.Corrupt)
        {
            AnsiConsole.MarkupLine("Recover it with [bold]walden recover <db> --output <new.db>[/] (the input stays untouched) or [bold]--in-place[/].");
        }

        return exitCode;
    }
}
