using System.CommandLine;
using Spectre.Console;
using Walden.Cli.Output;
using Walden.Native;
using Walden.Recovery;

namespace Walden.Cli.Commands;

/// <summary>
/// <c>walden recover &lt;db&gt; --output &lt;new.db&gt; [--schema-from &lt;db-or-sql&gt;] [--json]</c> or
/// <c>walden recover &lt;db&gt; --in-place</c>. Exit 0 when a usable database was written (also when
/// partial), 1 when the result does not pass integrity_check, 2 when recovery could not run (a missing or busy
/// input, a full, read-only or failing disk).
/// </summary>
internal static class RecoverCommand
{
    private const int IoErr = 10; // SQLITE_IOERR: the disk failed under the input or the output

    internal static Command Create()
    {
        var database = new Argument<FileInfo>("db") { Description = "The damaged SQLite database (any program's)." }.RefusingCompanions();
        var output = new Option<FileInfo?>("--output") { Description = "Where to write the recovered database (a new file). The input is left untouched." }.RefusingCompanions(creates: true);
        var inPlace = new Option<bool>("--in-place") { Description = "Replace the database with the recovered one; the damaged original and its -wal/-shm are kept in walden-quarantine/ beside it." };
        var schemaFrom = new Option<FileInfo?>("--schema-from") { Description = "A healthy copy or backup of the database, or a .sql file with its CREATE statements: rebuilds tables whose schema page is lost." }.RefusingCompanions();
        var json = new Option<bool>("--json") { Description = "Print the report as JSON." };
        var command = new Command("recover", "Recover a damaged database with SQLite's recover extension plus Walden's steps (rows given back from lost_and_found, FTS rebuilt, ANALYZE, integrity_check). Refuses while another process has it open.")
        {
            database,
            output,
            inPlace,
            schemaFrom,
            json,
        };
        command.SetAction((result, cancellationToken) => RunAsync(
            result.GetValue(database)!, result.GetValue(output), result.GetValue(inPlace), result.GetValue(schemaFrom), result.GetValue(json), cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(FileInfo file, FileInfo? output, bool inPlace, FileInfo? schemaFrom, bool json, CancellationToken cancellationToken)
    {
        SqliteLibrary.EnsureSupported();
        if ((output is null) == !inPlace)
        {
            return CliErrors.Report("Give exactly one of --output <new.db> (the input stays untouched) or --in-place (the original is kept in quarantine).");
        }

        var options = new WaldenRecoveryOptions { SchemaFrom = schemaFrom?.FullName };
        WaldenRecoveryReport report;
        try
        {
            report = inPlace
                ? await WaldenRecovery.RecoverInPlaceAsync(file.FullName, options, cancellationToken).ConfigureAwait(false)
                : await WaldenRecovery.RecoverToAsync(file.FullName, output!.FullName, options, cancellationToken).ConfigureAwait(false);
        }
        catch (WaldenConfigurationException ex)
        {
            return CliErrors.Report(ex.Message);
        }
        catch (WaldenDatabaseInUseException ex)
        {
            return CliErrors.Report(ex.Message);
        }
        catch (WaldenException ex) when (ex is WaldenDiskFullException or WaldenReadOnlyException or WaldenBusyException ||
                                         ((ex.SqliteErrorCode ?? 0) & 0xFF) == IoErr)
        {
            // The recovery could not run (a full, read-only, busy or failing disk); nothing was left half-written.
            return CliErrors.Report(ex.Message);
        }
        catch (WaldenException ex)
        {
            return CliErrors.Report(ex.Message, ExitCodes.Failed);
        }

        // Committed transactions left out (past a damaged -wal frame) make the result incomplete: exit 1, as a result not usable.
        var exitCode = report.Usable && report.WalCommitsIgnored == 0 ? ExitCodes.Ok : ExitCodes.Failed;
        if (json)
        {
            Json.Write(new { report, rowsRecovered = report.RowsRecovered, exitCode });
            return exitCode;
        }

        Print(report);
        return exitCode;
    }

    /// <summary>Why the result is not usable, in a few words: what was not recovered, or what the check found.</summary>
    private static string WhyNot(WaldenRecoveryReport report) =>
        report.WhyNotUsable ?? (report.MissingObjects.Count > 0
            ? $"{report.MissingObjects.Count} object(s) of the original not recovered: {string.Join("; ", report.MissingObjects)}"
            : report.IntegrityCheck);

    private static void Print(WaldenRecoveryReport report)
    {
        var where = report.OutputPath == report.InputPath ? "in place" : $"into [bold]{Markup.Escape(report.OutputPath)}[/]";
        AnsiConsole.MarkupLine($"Recovered [bold]{Markup.Escape(report.InputPath)}[/] {where} in {report.Duration.TotalSeconds:N2} s: " +
            (!report.Usable ? $"[red]not usable[/] ({Markup.Escape(WhyNot(report))})"
                : report.WalCommitsIgnored > 0 ? $"[yellow]usable but incomplete[/] ({report.WalCommitsIgnored:N0} committed transaction(s) " +
                    "past a damaged -wal frame are not in it; see the first note)"
                : "[green]usable[/]"));
        var table = new Table().AddColumn("table").AddColumn(new TableColumn("rows").RightAligned());
        foreach (var (name, rows) in report.Tables)
        {
            table.AddRow(Markup.Escape(name), $"{rows:N0}");
        }

        table.AddRow("[bold]total[/]", $"[bold]{report.RowsRecovered:N0}[/]");
        table.AddRow(Markup.Escape(report.LostAndFoundTable), $"{report.LostAndFoundRows:N0}");
        AnsiConsole.Write(table);
        AnsiConsole.MarkupLine($"rows given back from lost_and_found: {report.RowsReattributed:N0}; pages: {report.InputPages:N0} of {report.PageSize:N0} B, {report.PagesUnreadable:N0} unreadable" +
            (report.PageSizeRetried ? " (every page size tried)" : string.Empty));
        if (report.TablesRebuiltFromKnownSchema.Count > 0)
        {
            AnsiConsole.MarkupLine($"tables rebuilt from the known schema: {Markup.Escape(string.Join(", ", report.TablesRebuiltFromKnownSchema))}");
        }

        if (report.FullTextIndexesRebuilt.Count > 0)
        {
            AnsiConsole.MarkupLine($"full-text indexes rebuilt: {Markup.Escape(string.Join(", ", report.FullTextIndexesRebuilt))}");
        }

        if (report.Quarantine is { } quarantine)
        {
            // Whether the original was damaged is not this command's to say: in-place recovery also runs on a healthy file.
            AnsiConsole.MarkupLine($"the original, as it was before recovery, is kept in [bold]{Markup.Escape(quarantine.Folder)}[/]");
        }

        foreach (var note in report.Notes)
        {
            AnsiConsole.MarkupLine($"  - {Markup.Escape(note)}");
        }
    }
}
