using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using Spectre.Console;
using Walden.Cli.Output;

namespace Walden.Cli.Commands;

/// <summary>
/// <c>walden archive verify|status &lt;archive&gt;</c>, and the archive side of <c>walden restore</c> (when its first
/// argument is an archive folder or an <c>s3://</c> URL): point-in-time restore from a continuous archive
/// (<see cref="WaldenOptions.Archive"/>). An archive is a folder or <c>s3://bucket/prefix</c> (<see cref="ArchiveLocation"/>).
/// </summary>
internal static class ArchiveCommand
{
    internal static Command Create()
    {
        var folder = new Argument<string>("archive")
        {
            Description = "The archive: a folder or s3://bucket/prefix (a WaldenOptions.Archive destination).",
        }.RefusingLinkLoops();
        var verifyAt = ArchiveLocation.CreateOptions();
        var verifyJson = new Option<bool>("--json") { Description = "Print JSON instead of text." };
        var verify = new Command("verify", "Restore the latest state into a scratch file and verify it (checksums, contiguity, integrity_check); " +
            "records the outcome in the archive (one that cannot be written is verified all the same, and the output says it was not recorded).")
        {
            folder, verifyJson, verifyAt.Endpoint, verifyAt.Region,
        };
        verify.SetAction((result, cancellationToken) => VerifyAsync(result.GetValue(folder)!, result.GetValue(verifyAt.Endpoint),
            result.GetValue(verifyAt.Region), result.GetValue(verifyJson), cancellationToken));

        var statusFolder = new Argument<string>("archive") { Description = "The archive: a folder or s3://bucket/prefix." }.RefusingLinkLoops();
        var statusAt = ArchiveLocation.CreateOptions();
        var json = new Option<bool>("--json") { Description = "Print JSON instead of text." };
        var status = new Command("status", "List base snapshots, segments, the first and last restorable moment, sizes and the last verification.")
        {
            statusFolder, json, statusAt.Endpoint, statusAt.Region,
        };
        status.SetAction((result, cancellationToken) => StatusAsync(result.GetValue(statusFolder)!, result.GetValue(statusAt.Endpoint),
            result.GetValue(statusAt.Region), result.GetValue(json), cancellationToken));
        return new Command("archive", "Inspect and verify a continuous archive.") { verify, status };
    }

    private static async Task<int> VerifyAsync(string location, string? endpoint, string? region, bool json,
        CancellationToken cancellationToken)
    {
        if (ArchiveLocation.Open(location, endpoint, region, out var problem) is not { } source)
        {
            return CliErrors.Report(problem!);
        }

        var archive = source.Name;
        WaldenArchiveRestoreResult result;
        try
        {
            result = await WaldenArchive.VerifyAsync(source, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is WaldenException or IOException)
        {
            return CliErrors.Report(ex.Message);
        }
        finally
        {
            (source as IDisposable)?.Dispose();
        }

        // The exit code is the verification's: an archive that may only be read (a read-only mount, a WORM bucket, read-only
        // credentials: often on purpose) still gets its answer, 0 when sound. That the outcome was not recorded is said plainly
        // in both modes ("recorded": false) for whoever relies on 'archive status' or the drill's record.
        var unrecorded = result.RecordingProblem is { } why ? $"this outcome was not recorded in the archive: {why}" : null;
        if (!result.Complete)
        {
            var failed = $"archive verification failed: {result.Problem}" + (unrecorded is null ? string.Empty : $" {Capitalized(unrecorded)}.");
            return CliErrors.Report(failed, ExitCodes.Failed, line => VerifyDocument(archive, result, line, ExitCodes.Failed));
        }

        // The latest state is sound, but an older base's chain is broken: restores to moments in it fail. Exit 1, naming them.
        var history = result.HistoryProblems.Count == 0 ? null
            : $"the latest state verified (base {result.BaseId} through transaction {result.Txid}), but the point-in-time history is damaged: " +
              string.Join("; ", result.HistoryProblems);
        if (json)
        {
            var exit = history is null ? ExitCodes.Ok : ExitCodes.Failed;
            Json.Write(VerifyDocument(archive, result, error: history, exit));
            return exit;
        }

        AnsiConsole.MarkupLine(string.Create(CultureInfo.InvariantCulture,
            $"[green]ok[/] base {result.BaseId} through transaction {result.Txid} ({result.Time:O}), {result.Bytes:N0} bytes, integrity_check ok"));
        if (history is not null)
        {
            CliErrors.Report(history, ExitCodes.Failed);
        }

        if (result.Note is { } note)
        {
            AnsiConsole.MarkupLine(Markup.Escape($"note: {note}"));
        }

        if (unrecorded is not null)
        {
            AnsiConsole.MarkupLine($"[yellow]note:[/] {Markup.Escape(unrecorded)}. 'walden archive status' still shows the last " +
                "verification recorded before (or none); verify with write access to the archive to record one.");
        }

        return history is null ? ExitCodes.Ok : ExitCodes.Failed;
    }

    private static string Capitalized(string sentence) => char.ToUpperInvariant(sentence[0]) + sentence[1..];

    /// <summary>The one --json document of <c>archive verify</c>, passed or failed; <c>recorded</c>: whether the archive keeps it.</summary>
    private static object VerifyDocument(string archive, WaldenArchiveRestoreResult result, string? error, int exitCode) => new
    {
        archive, ok = result.Complete, result.BaseId, result.Txid, result.Time, result.Bytes, result.Seconds, result.Problem, result.Note,
        recorded = result.RecordingProblem is null, result.RecordingProblem, result.HistoryProblems, error, exitCode,
    };

    private static async Task<int> StatusAsync(string location, string? endpoint, string? region, bool json, CancellationToken cancellationToken)
    {
        if (ArchiveLocation.Open(location, endpoint, region, out var problem) is not { } source)
        {
            return CliErrors.Report(problem!);
        }

        WaldenArchiveStatus status;
        try
        {
            status = await WaldenArchive.GetStatusAsync(source, cancellationToken).ConfigureAwait(false);
        }
        catch (IOException ex)
        {
            return CliErrors.Report(ex.Message);
        }
        finally
        {
            (source as IDisposable)?.Dispose();
        }

        // A folder with no usable base restores nothing (a wrong path, or an archive whose bases are all damaged): exit 1.
        var nothing = status.LastTxid is null || status.Problem is not null;
        var unrestorable = status.Problem is { } conflict
            ? $"nothing is restorable: {conflict}"
            : !nothing
            ? null
            : status.Bases.Count == 0
            ? $"nothing is restorable: '{status.Destination}' holds no base snapshot (is it a Walden archive folder?)"
            : $"nothing is restorable: no base snapshot in '{status.Destination}' is usable (see the problems above)";
        // A verification once restored further than the archive now reaches: transactions it held are gone (exit 1, as verify).
        var lost = status.LastVerification is { VerifiedThroughTxid: { } verified, VerifiedThroughAt: { } verifiedAt } && status.LastTxid is { } reaches && verified > reaches
            ? string.Create(CultureInfo.InvariantCulture,
                $"transactions {reaches + 1}..{verified} are gone: the archive held them when it was verified at {verifiedAt:O}, and now ends at transaction {reaches} (a segment deleted or lost, or the archive copied in part)")
            : null;
        if (json)
        {
            // The status with error and exitCode beside its fields, as restore and verify print theirs (check: exitCode).
            var document = JsonSerializer.SerializeToNode(status, Json.Options)!.AsObject();
            document["error"] = unrestorable?.Replace(" (see the problems above)", " (see each base's problem)", StringComparison.Ordinal) ?? lost;
            document["exitCode"] = nothing || lost is not null ? ExitCodes.Failed : ExitCodes.Ok;
            Json.Write(document);
            return nothing || lost is not null ? ExitCodes.Failed : ExitCodes.Ok;
        }

        var table = new Table().AddColumns("base", "txid", "taken", "stored", "database", "segments", "segment bytes", "last txid", "last commit");
        foreach (var item in status.Bases)
        {
            table.AddRow(item.BaseId.ToString(CultureInfo.InvariantCulture), item.Txid.ToString(CultureInfo.InvariantCulture), Markup.Escape(item.Problem ?? item.Time.ToString("O", CultureInfo.InvariantCulture)),
                Cell(item.StoredBytes), Cell(item.DatabaseBytes), Cell(item.Segments), Cell(item.SegmentBytes), Cell(item.LastTxid),
                item.LastTime.ToString("O", CultureInfo.InvariantCulture));
        }

        AnsiConsole.Write(table);
        if (status.Logs.Count > 0)
        {
            var logs = new Table().AddColumns("append log (not yet sealed)", "records", "bytes", "first txid", "last txid", "problem");
            foreach (var log in status.Logs)
            {
                logs.AddRow(Markup.Escape(log.File), Cell(log.Records), Cell(log.Bytes), Cell(log.FirstTxid), Cell(log.LastTxid), Markup.Escape(log.Problem ?? string.Empty));
            }

            AnsiConsole.Write(logs);
        }

        AnsiConsole.MarkupLine(Markup.Escape(unrestorable ?? string.Create(CultureInfo.InvariantCulture,
            $"restorable from {status.FirstRestorable:O} to {status.LastRestorable:O} (last transaction {status.LastTxid})")));
        if (lost is not null)
        {
            CliErrors.Report(lost);
        }

        foreach (var window in status.UnknownWindows)
        {
            AnsiConsole.MarkupLine(Markup.Escape(string.Create(CultureInfo.InvariantCulture,
                $"not restorable by time between {window.After:O} (transaction {window.Txid}) and {window.At:O} (transaction {window.Txid + 1}): what changed while the archive was not watching (a crash or another program), whose commit times are not known")));
        }

        AnsiConsole.MarkupLine(Markup.Escape(status.Lineages.Count == 0
            ? "lineage: none (an archive begun before lineages: the next database to archive into it claims it)"
            : $"lineage: {string.Join(", ", status.Lineages)} (in the database's <db>-archive-staging/lineage)"));
        var last = status.LastVerification;
        AnsiConsole.MarkupLine(Markup.Escape(last is null ? "never verified (run 'walden archive verify')" : string.Create(CultureInfo.InvariantCulture,
            $"last verification {last.At:O}: {(last.Ok ? "ok" : "FAILED")} (base {last.BaseId}, transaction {last.Txid}){(last.Problem is null ? string.Empty : ": " + last.Problem)}")));
        return nothing || lost is not null ? ExitCodes.Failed : ExitCodes.Ok;
    }

    /// <summary>The first and last restorable moments of an archive, in words, for an error about a moment asked for.</summary>
    private static async Task<string> RestorableAsync(IWaldenArchiveDestination source, CancellationToken cancellationToken)
    {
        try
        {
            var status = await WaldenArchive.GetStatusAsync(source, cancellationToken).ConfigureAwait(false);
            var first = status.Bases.Where(b => b.Problem is null).Select(b => (long?)b.Txid).Min();
            return first is null || status.LastTxid is not { } last
                ? $"Nothing in '{status.Destination}' is restorable (see 'walden archive status')."
                : string.Create(CultureInfo.InvariantCulture,
                    $"'{status.Destination}' can restore transactions {first} to {last} (--txid), from {status.FirstRestorable:O} to " +
                    $"{status.LastRestorable:O} (--at); 'walden archive status' lists them.");
        }
        catch (Exception ex) when (ex is WaldenException or IOException)
        {
            return ex.Message;
        }
    }

    private static string Cell(long value) => value.ToString("N0", CultureInfo.InvariantCulture);

    /// <summary><c>walden restore &lt;archive&gt; &lt;out.db&gt; [--at | --txid] [--endpoint --region]</c>.</summary>
    internal static async Task<int> RestoreAsync(string location, string? endpoint, string? region, string output, string? at, string? txid, bool json,
        CancellationToken cancellationToken)
    {
        if (at is not null && txid is not null)
        {
            return CliErrors.Report("Give either --at or --txid, not both.");
        }

        if (ArchiveLocation.Open(location, endpoint, region, out var problem) is not { } source)
        {
            return CliErrors.Report(problem!);
        }

        var options = new WaldenArchiveRestoreOptions();
        string? unreadable = null;
        if (txid is not null)
        {
            if (long.TryParse(txid, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var id))
            {
                options.Txid = id;
            }
            else
            {
                unreadable = $"--txid '{txid}' is not a transaction id (a whole number)";
            }
        }
        else if (at is not null)
        {
            if (IsoMoment.TryParse(at, out var moment))
            {
                options.At = moment;
            }
            else
            {
                unreadable = $"--at '{at}' is not an ISO-8601 time; write it like {IsoMoment.Forms}";
            }
        }

        if (unreadable is not null)
        {
            // Say what the archive can restore, so the next try can pick a moment it holds.
            using (source as IDisposable)
            {
                return CliErrors.Report(unreadable + ". " + await RestorableAsync(source, cancellationToken).ConfigureAwait(false));
            }
        }

        WaldenArchiveRestoreResult result;
        try
        {
            result = await WaldenArchive.RestoreAsync(source, output, options, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is WaldenException or IOException)
        {
            // A damaged archive is a finding (exit 1, as 'archive verify' says of it); a wrong request or output cannot run (2).
            return CliErrors.Report(ex.Message, ex is WaldenArchiveException { IsDamaged: true } ? ExitCodes.Failed : ExitCodes.CannotRun);
        }
        finally
        {
            (source as IDisposable)?.Dispose();
        }

        var reached = string.Create(CultureInfo.InvariantCulture,
            $"base {result.BaseId} through transaction {result.Txid} (committed {result.Time:O})");
        if (!result.Complete)
        {
            // Where it stopped, in both modes: the file is there and sound, but holds less than was asked for.
            if (!json)
            {
                AnsiConsole.MarkupLine(Markup.Escape(string.Create(CultureInfo.InvariantCulture,
                    $"restored {result.Path} only up to the last good moment: {reached}, {result.Bytes:N0} bytes, integrity_check ok")));
                if (result.Note is { } note)
                {
                    AnsiConsole.MarkupLine(Markup.Escape($"note: {note}"));
                }
            }

            var asked = options.Txid is not null || options.At is not null ? "the moment asked for" : "the latest state";
            return CliErrors.Report($"the restore stopped early, short of {asked}: {result.Problem}. '{result.Path}' holds {reached}.",
                ExitCodes.Failed, line => RestoreDocument(result, line, ExitCodes.Failed));
        }

        if (json)
        {
            Json.Write(RestoreDocument(result, error: null, ExitCodes.Ok));
            return ExitCodes.Ok;
        }

        AnsiConsole.MarkupLine(Markup.Escape(string.Create(CultureInfo.InvariantCulture,
            $"restored {result.Path}: {reached}, {result.Bytes:N0} bytes in {result.Seconds:0.###} s, integrity_check ok")));
        foreach (var note in new[] { result.Problem, result.Note }.OfType<string>())
        {
            // A problem of a base the moment asked for did not need is said all the same, as the JSON says it.
            AnsiConsole.MarkupLine(Markup.Escape($"note: {note}"));
        }

        return ExitCodes.Ok;
    }

    /// <summary>The one --json document of an archive restore, complete or not: the result with the error line and exit code.</summary>
    private static object RestoreDocument(WaldenArchiveRestoreResult result, string? error, int exitCode) => new
    {
        result.Path, result.BaseId, result.Txid, result.Time, result.Bytes, result.Seconds, result.Complete, result.Problem, result.Note,
        error, exitCode,
    };
}
