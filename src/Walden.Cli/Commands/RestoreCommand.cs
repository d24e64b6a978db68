using System.CommandLine;
using Spectre.Console;
using Walden.Backup;
using Walden.Cli.Output;

namespace Walden.Cli.Commands;

/// <summary><c>walden restore &lt;backup&gt; &lt;db&gt;</c>: re-verifies a backup and swaps it into place, keeping the old database in quarantine.</summary>
internal static class RestoreCommand
{
    internal static Command Create()
    {
        var backup = new Argument<string>("backup")
        {
            Description = "The backup file to restore (see 'walden backups <dir>'), or an archive: its folder or s3://bucket/prefix.",
        }.RefusingLinkLoops("the backup file or the archive (its folder or s3://bucket/prefix)");
        var database = new Argument<FileInfo>("db") { Description = "The database to restore to. An existing one moves, with its -wal and -shm, into walden-quarantine/ beside it." }.RefusingCompanions(creates: true);
        var json = new Option<bool>("--json") { Description = "Print JSON instead of text." };
        var at = new Option<string?>("--at")
        {
            Description = $"Archive restore only: the state as of this ISO-8601 time, such as {IsoMoment.Forms} (default: the latest).",
        };
        var txid = new Option<string?>("--txid") { Description = "Archive restore only: the state after this transaction id (see 'walden archive status')." };
        var location = ArchiveLocation.CreateOptions("Archive restore only. ");
        var command = new Command("restore", "Restore a verified backup to a database path (refuses while any process has that database open, and refuses unverified or damaged backups), " +
            "or, when the first argument is an archive folder or s3://bucket/prefix, build a new database from the archive as of a moment (never over an existing file).")
        {
            backup, database, json, at, txid, location.Endpoint, location.Region,
        };
        command.SetAction((result, cancellationToken) =>
        {
            var source = result.GetValue(backup)!;
            var output = result.GetValue(database)!;
            return RestoreSource.Of(source, output.FullName, out var problem) switch
            {
                RestoreSource.Kind.Archive => ArchiveCommand.RestoreAsync(source, result.GetValue(location.Endpoint),
                    result.GetValue(location.Region), output.FullName, result.GetValue(at), result.GetValue(txid), result.GetValue(json),
                    cancellationToken),
                RestoreSource.Kind.Backup => RunAsync(new FileInfo(source), output, result.GetValue(json), cancellationToken),
                _ => Task.FromResult(CliErrors.Report(problem!)),
            };
        });
        return command;
    }

    private static async Task<int> RunAsync(FileInfo backup, FileInfo database, bool json, CancellationToken cancellationToken)
    {
        WaldenRestore restore;
        try
        {
            restore = await WaldenBackups.RestoreAsync(backup.FullName, database.FullName, cancellationToken).ConfigureAwait(false);
        }
        catch (WaldenBackupRejectedException ex) when (!File.Exists(backup.FullName + ".json"))
        {
            // A copy named as Walden names them but without its manifest (an interrupted copy): unverified, as any damaged backup.
            return CliErrors.Report(ex.Message + " (An archive is restored from its folder: 'walden restore <archive-folder> <out.db>'.)",
                ExitCodes.Failed);
        }
        catch (WaldenBackupRejectedException ex)
        {
            return CliErrors.Report(ex.Message, ExitCodes.Failed);
        }
        catch (WaldenException ex)
        {
            return CliErrors.Report(ex.Message);
        }

        if (json)
        {
            Json.Write(new { database = restore.DatabasePath, backup = restore.Backup.Path, createdAt = restore.Backup.CreatedAt, quarantine = restore.Quarantine });
            return ExitCodes.Ok;
        }

        AnsiConsole.MarkupLine($"[green]restored[/] {Markup.Escape(restore.Backup.Path)} (taken {restore.Backup.CreatedAt:u}) to {Markup.Escape(restore.DatabasePath)}");
        if (restore.Quarantine is { } quarantine)
        {
            AnsiConsole.MarkupLine($"  the previous database and its companions are kept in {Markup.Escape(quarantine.Folder)}");
        }

        return ExitCodes.Ok;
    }
}
