using System.CommandLine;
using Spectre.Console;
using Walden.Backup;
using Walden.Cli.Output;

namespace Walden.Cli.Commands;

/// <summary><c>walden backup &lt;db&gt; &lt;dir&gt;</c>: a verified online backup of any SQLite database, even one another process is writing.</summary>
internal static class BackupCommand
{
    internal static Command Create()
    {
        var database = new Argument<FileInfo>("db") { Description = "The SQLite database to back up (any program's; it may be open and written meanwhile)." }.RefusingCompanions();
        var directory = new Argument<DirectoryInfo>("dir") { Description = "The backup folder (created owner-only if missing)." }.RefusingLinkLoops();
        var vacuum = new Option<bool>("--vacuum") { Description = "Write a compacted copy with VACUUM INTO instead of copying pages with the backup API." };
        var compress = new Option<bool>("--compress") { Description = "Store the copy gzip-compressed (.db.gz)." };
        var compression = new Option<WaldenBackupCompression?>("--compression") { Description = "Store the copy compressed with gzip or brotli (overrides --compress)." };
        var keepLast = new Option<int>("--keep-last") { Description = "Verified backups of this database to keep; older verified ones are deleted.", DefaultValueFactory = _ => new WaldenBackupOptions().KeepLast };
        var keepDays = new Option<double?>("--keep-days") { Description = "Also keep every verified backup younger than this many days." };
        // Checked here, in the option's own name and unit: the engine's check names its properties (KeepLast, KeepFor as a TimeSpan).
        keepLast.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<int>() is var n and (< 1 or > 100_000))
            {
                result.AddError($"--keep-last must be between 1 and 100000 backups (you gave {n}); the newest verified backup is always kept.");
            }
        });
        keepDays.Validators.Add(result =>
        {
            if (result.GetValueOrDefault<double?>() is { } days && (double.IsNaN(days) || days < 1.0 / 1440 || days > 36_500))
            {
                result.AddError(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                    $"--keep-days must be between 0.000695 (1 minute) and 36500 (100 years) days (you gave {days:0.##########}); leave it out to keep by count only."));
            }
        });
        var json = new Option<bool>("--json") { Description = "Print the manifest as JSON." };
        var command = new Command("backup", "Back up an SQLite database through SQLite's online backup API (never by copying its files), verify the copy and write its manifest.")
        {
            database, directory, vacuum, compress, compression, keepLast, keepDays, json,
        };
        command.SetAction((result, cancellationToken) =>
        {
            var options = new WaldenBackupOptions
            {
                Vacuum = result.GetValue(vacuum),
                Compression = result.GetValue(compression) ?? (result.GetValue(compress) ? WaldenBackupCompression.GZip : WaldenBackupCompression.None),
                KeepLast = result.GetValue(keepLast),
                KeepFor = result.GetValue(keepDays) is { } days ? TimeSpan.FromDays(days) : null,
            };
            return RunAsync(result.GetValue(database)!, result.GetValue(directory)!, options, result.GetValue(json), cancellationToken);
        });
        return command;
    }

    private static async Task<int> RunAsync(FileInfo database, DirectoryInfo directory, WaldenBackupOptions options, bool json, CancellationToken cancellationToken)
    {
        WaldenBackup backup;
        try
        {
            backup = await WaldenBackups.BackupAsync(database.FullName, directory.FullName, options, cancellationToken).ConfigureAwait(false);
        }
        catch (WaldenConfigurationException ex)
        {
            return CliErrors.Report(ex.Message);
        }
        catch (WaldenCorruptException ex)
        {
            return CliErrors.Report(ex.Message, ExitCodes.Failed);
        }
        catch (WaldenException ex)
        {
            return CliErrors.Report(ex.Message);
        }

        if (json)
        {
            Json.Write(new { backup, path = backup.Path, pruned = backup.Pruned });
            return ExitCodes.Ok;
        }

        AnsiConsole.MarkupLine($"[green]verified backup[/] {Markup.Escape(backup.Path)}");
        AnsiConsole.MarkupLine(
            $"  {backup.PageCount:N0} pages, {Sizes.Format(backup.DatabaseBytes)} ({backup.Method}); stored {Sizes.Format(backup.StoredBytes)}; " +
            $"integrity_check ok; {backup.TableRows.Count} tables, {backup.TableRows.Values.Sum():N0} rows");
        AnsiConsole.MarkupLine(
            $"  copy {backup.CopyDuration.TotalSeconds:N2} s ({Sizes.MegabytesPerSecond(backup.DatabaseBytes, backup.CopyDuration)}), " +
            $"verification {backup.VerifyDuration.TotalSeconds:N2} s; sha256 {backup.DatabaseSha256}");
        foreach (var note in backup.Notes)
        {
            AnsiConsole.MarkupLine($"  note: {Markup.Escape(note)}");
        }

        foreach (var pruned in backup.Pruned)
        {
            AnsiConsole.MarkupLine($"  pruned {Markup.Escape(pruned)}");
        }

        return ExitCodes.Ok;
    }
}

/// <summary>Human-readable sizes and rates.</summary>
internal static class Sizes
{
    internal static string Format(long bytes) => bytes < 1024 * 1024 ? $"{bytes:N0} B" : $"{bytes / 1024.0 / 1024.0:N1} MiB";

    internal static string MegabytesPerSecond(long bytes, TimeSpan duration) =>
        duration <= TimeSpan.Zero ? "-" : $"{bytes / 1e6 / duration.TotalSeconds:N0} MB/s";

    internal static string Age(TimeSpan age) =>
        age < TimeSpan.FromMinutes(1) ? $"{age.TotalSeconds:N0} s"
        : age < TimeSpan.FromHours(1) ? $"{age.TotalMinutes:N0} min"
        : age < TimeSpan.FromDays(2) ? $"{age.TotalHours:N1} h"
        : $"{age.TotalDays:N1} d";
}
