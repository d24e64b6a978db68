using System.CommandLine;
using Spectre.Console;
using Walden.Backup;
using Walden.Cli.Output;

namespace Walden.Cli.Commands;

/// <summary><c>walden backups &lt;dir&gt;</c>: the backups in a folder with their verification state, size and age.</summary>
internal static class BackupsCommand
{
    internal static Command Create()
    {
        var directory = new Argument<DirectoryInfo>("dir") { Description = "A backup folder." }.RefusingLinkLoops();
        var verify = new Option<bool>("--verify") { Description = "Re-verify every backup: checksums, integrity_check, page and row counts (reads every file)." };
        var json = new Option<bool>("--json") { Description = "Print JSON instead of a table." };
        var command = new Command("backups", "List the backups in a folder: verified, unverified (no manifest) or damaged (no longer matches its manifest), with size and age.")
        {
            directory, verify, json,
        };
        command.SetAction((result, cancellationToken) => RunAsync(result.GetValue(directory)!, result.GetValue(verify), result.GetValue(json), cancellationToken));
        return command;
    }

    private static async Task<int> RunAsync(DirectoryInfo directory, bool verify, bool json, CancellationToken cancellationToken)
    {
        IReadOnlyList<WaldenBackupEntry> entries;
        IReadOnlyList<string> ignored;
        try
        {
            entries = WaldenBackups.List(directory.FullName, out ignored);
            if (verify)
            {
                var verified = new List<WaldenBackupEntry>();
                foreach (var entry in entries)
                {
                    verified.Add(entry.Backup is null ? entry : await WaldenBackups.VerifyAsync(entry.Path, cancellationToken).ConfigureAwait(false));
                }

                entries = verified;
            }
        }
        catch (WaldenException ex)
        {
            return CliErrors.Report(ex.Message);
        }

        var now = TimeProvider.System.GetUtcNow();
        var rows = entries.Select(e => new
        {
            path = e.Path,
            state = e.State,
            storedBytes = e.StoredBytes,
            databaseBytes = e.Backup?.DatabaseBytes,
            createdAt = e.Backup?.CreatedAt,
            ageSeconds = e.Backup is { } b ? (now - b.CreatedAt).TotalSeconds : (double?)null,
            source = e.Backup?.Source,
            compression = e.Backup?.Compression,
            method = e.Backup?.Method,
            problem = e.Problem,
            // "Verified" without --verify is the manifest's word from when the copy was taken: only the size was compared now.
            contentCheckedNow = verify && e.State == WaldenBackupState.Verified,
        }).ToList();
        if (json)
        {
            Json.Write(new { directory = directory.FullName, reverified = verify, backups = rows, ignored });
            return ExitCode(entries, verify);
        }
        else if (rows.Count == 0)
        {
            AnsiConsole.MarkupLine($"No backups in {Markup.Escape(directory.FullName)}.");
        }
        else
        {
            var table = new Table().AddColumns("backup", "state", "size", "age", "source", "problem");
            foreach (var row in rows)
            {
                var state = row.state switch
                {
                    WaldenBackupState.Verified when verify => "[green]verified[/]",
                    WaldenBackupState.Verified => "[green]verified when taken[/]",
                    WaldenBackupState.Unverified => "[yellow]unverified[/]",
                    _ => "[red]damaged[/]",
                };
                table.AddRow(
                    Markup.Escape(Path.GetFileName(row.path)),
                    state,
                    row.storedBytes is { } size ? Sizes.Format(size) : "missing",
                    row.ageSeconds is { } age ? Sizes.Age(TimeSpan.FromSeconds(age)) : "-",
                    Markup.Escape(row.source ?? "-"),
                    Markup.Escape(row.problem ?? ""));
            }

            AnsiConsole.Write(table);
            if (!verify && rows.Any(r => r.state == WaldenBackupState.Verified))
            {
                AnsiConsole.MarkupLine("'verified when taken': the backup's manifest records that the copy passed its checksums and " +
                    "integrity_check when it was taken (its age above); now only the file's size was compared with the manifest, so its " +
                    $"content was not re-checked. Run [bold]walden backups {Markup.Escape(directory.FullName)} --verify[/] to re-check every file now.");
            }
        }

        if (ignored.Count > 0)
        {
            // Named as no copy of Walden's is, and no manifest of Walden's vouches for them: not backups, so neither listed
            // nor called failed copies; said so that a user looking for them knows why they are missing from the table.
            static string Name(string path) => path.EndsWith(Path.DirectorySeparatorChar) ? Path.GetFileName(path.TrimEnd(Path.DirectorySeparatorChar)) + "/" : Path.GetFileName(path);
            AnsiConsole.MarkupLine($"Not Walden backups, left out: {Markup.Escape(string.Join(", ", ignored.Select(Name)))} " +
                "(Walden names its copies <name>-<UTC time>.db, with a .json manifest beside each" +
                (ignored.Any(i => i.EndsWith(Path.DirectorySeparatorChar)) ? "; subfolders are not looked into: list each with 'walden backups <subfolder>'" : string.Empty) + ").");
        }

        return ExitCode(entries, verify);
    }

    private static int ExitCode(IReadOnlyList<WaldenBackupEntry> entries, bool verify) =>
        verify && entries.Any(e => e.State == WaldenBackupState.Damaged) ? ExitCodes.Failed : ExitCodes.Ok;
}
