using System.CommandLine;
using Microsoft.Data.Sqlite;
using Spectre.Console;
using Walden.Files;
using Walden.Cli.Output;
using Walden.Native;

namespace Walden.Cli.Commands;

/// <summary>
/// <c>walden stats &lt;db&gt;</c>: the figures of any SQLite file from outside: page figures from PRAGMAs on a
/// read-only connection (which never changes the journal mode), file sizes from metadata only. The live
/// figures of a running Walden database (queue, latencies, checkpoints) come from its process: metrics or GetStatsAsync.
/// </summary>
internal static class StatsCommand
{
    internal static Command Create()
    {
        var database = new Argument<FileInfo>("db") { Description = "The SQLite database file (any program's)." }.RefusingCompanions();
        var json = new Option<bool>("--json") { Description = "Print JSON instead of a table." };
        var command = new Command("stats", "Show a database's file sizes (-wal, -shm included), pages, freelist and auto_vacuum. Opens the file read-only and never changes it.")
        {
            database,
            json,
        };
        command.SetAction(result => Run(result.GetValue(database)!, result.GetValue(json)));
        return command;
    }

    private static int Run(FileInfo file, bool json)
    {
        if (!DatabaseInfo.TryRead(file, out var info, out var exitCode))
        {
            return exitCode;
        }

        var report = new StatsReport(info.Path, info.JournalMode, info.JournalModeSeenInJournal, info.PageSize, info.PageCount, info.FreelistCount,
            info.FreelistCount * info.PageSize, info.AutoVacuum, info.DatabaseBytes, info.WalBytes, info.ShmBytes,
            info.WalFrameCapacity, info.SqliteVersion, info.Notes);
        if (json)
        {
            Json.Write(report);
            return ExitCodes.Ok;
        }

        var table = new Table().AddColumn("figure").AddColumn("value");
        table.AddRow("file", Markup.Escape(report.Path));
        table.AddRow("journal mode", Markup.Escape(JournalModes.Describe(report.JournalMode, report.JournalModeSeenInJournal)));
        table.AddRow("page size", $"{report.PageSize:N0} B");
        table.AddRow("page count", $"{report.PageCount:N0}");
        table.AddRow("freelist", $"{report.FreelistPages:N0} pages ({InfoCommand.Size(report.FreelistBytes)})");
        table.AddRow("auto_vacuum", report.AutoVacuum);
        table.AddRow("database file", InfoCommand.Size(report.DatabaseFileBytes));
        // A file that is not there is "none", as in walden info: a size of 0 would say an empty -wal exists.
        table.AddRow("-wal file", report.WalFileBytes is { } wal ? $"{InfoCommand.Size(wal)} (room for {report.WalFrameCapacity ?? 0:N0} frames)" : "none");
        table.AddRow("-shm file", report.ShmFileBytes is { } shm ? InfoCommand.Size(shm) : "none");
        table.AddRow("SQLite library", report.SqliteVersion);
        AnsiConsole.Write(table);
        InfoCommand.PrintNotes(report.Notes);
        return ExitCodes.Ok;
    }

    private sealed record StatsReport(string Path, string JournalMode, string? JournalModeSeenInJournal, long PageSize, long PageCount, long FreelistPages, long FreelistBytes,
        string AutoVacuum, long DatabaseFileBytes, long? WalFileBytes, long? ShmFileBytes, long? WalFrameCapacity, string SqliteVersion,
        IReadOnlyList<string> Notes);
}
