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
        };
        var database = new Argument<FileInfo>("db") { Description = "The database to restore to. An existing one moves, with its -wal and -shm, into walden-quarantine/ beside it." };
        var json = new Option<bool>("--json") { Description = "Print JSON instead of text." };
        var at = new Option<string?>("--at") { Description = "Archive restore only: the state as of this ISO-8601 time (default: the latest)." };
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
            if (File.Exists(source) && !File.Exists(source + ".json") && WaldenFolderDestination.ArchiveAbove(Path.GetFullPath(source)) is not null)
            {
                // A file of an archive (its base, a segment, archive-of), not a backup: the archive is its folder.
                return Task.FromResult(CliErrors.Report(WaldenFolderDestination.FolderProblem(source, writing: false)!));
            }

            if (Directory.Exists(source) && BackupIn(source) is { } newest)
            {
                // A backup folder, not an archive: a backup is restored from one of its files.
                return Task.FromResult(CliErrors.Report($"'{Path.GetFullPath(source)}' is a backup folder, not an archive: restore one backup " +
                    $"file inside it, such as the newest, 'walden restore {newest} {result.GetValue(database)!.FullName}' ('walden backups " +
                    $"{Path.GetFullPath(source)}' lists them)."));
            }

            return ArchiveLocation.IsS3(source) || Directory.Exists(source)
                ? ArchiveCommand.RestoreAsync(source, result.GetValue(location.Endpoint), result.GetValue(location.Region), result.GetValue(database)!.FullName,
                    result.GetValue(at), result.GetValue(txid), result.GetValue(json), cancellationToken)
                : RunAsync(new FileInfo(source), result.GetValue(database)!, result.GetValue(json), cancellationToken);
        });
        return command;
    }

    /// <summary>The newest verified backup in <paramref name="folder"/> when it is a backup folder and no archive, else null.</summary>
    private static string? BackupIn(string folder)
    {
        if (WaldenFolderDestination.FolderProblem(folder, writing: false) is not null ||
            File.Exists(Path.Combine(folder, "archive-of")) || Directory.EnumerateDirectories(folder).Any())
        {
            return null; // an archive (or a base folder inside one) is reported as such
        }

        return WaldenBackups.List(folder).FirstOrDefault(e => e.State == WaldenBackupState.Verified)?.Path;
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
            // No manifest: perhaps no backup at all; an archive would have been given as its folder.
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
