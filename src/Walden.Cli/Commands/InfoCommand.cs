using System.CommandLine;
using Microsoft.Data.Sqlite;
using Spectre.Console;
using Walden.Cli.Output;
using Walden.Configuration;
using Walden.Files;
using Walden.Native;

namespace Walden.Cli.Commands;

/// <summary><c>walden info &lt;db&gt;</c>: the SQLite library, journal mode, page size and count, file sizes.</summary>
internal static class InfoCommand
{
    internal static Command Create()
    {
        var database = new Argument<FileInfo>("db") { Description = "The SQLite database file (any program's)." }.RefusingCompanions();
        var json = new Option<bool>("--json") { Description = "Print JSON instead of a table." };
        var command = new Command("info", "Show the SQLite library version and a database's journal mode, pages and file sizes. Opens the file read-only.")
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

        if (json)
        {
            Json.Write(info);
            return ExitCodes.Ok;
        }

        var table = new Table().AddColumn("property").AddColumn("value");
        table.AddRow("file", Markup.Escape(info.Path));
        table.AddRow("SQLite library", info.SqliteVersion);
        table.AddRow("journal mode", Markup.Escape(JournalModes.Describe(info.JournalMode, info.JournalModeSeenInJournal)));
        table.AddRow("page size", $"{info.PageSize:N0} B");
        table.AddRow("page count", $"{info.PageCount:N0}");
        table.AddRow("freelist pages", $"{info.FreelistCount:N0}");
        table.AddRow("database file", Size(info.DatabaseBytes));
        table.AddRow("-wal file", info.WalBytes is { } wal ? Size(wal) : "none");
        table.AddRow("-shm file", info.ShmBytes is { } shm ? Size(shm) : "none");
        AnsiConsole.Write(table);
        PrintNotes(info.Notes);
        return ExitCodes.Ok;
    }

    internal static void PrintNotes(IReadOnlyList<string> notes)
    {
        foreach (var note in notes)
        {
            AnsiConsole.MarkupLine($"  - {Markup.Escape(note)}");
        }
    }

    internal static string Size(long bytes) => bytes < 1024 * 1024 ? $"{bytes:N0} B" : $"{bytes / 1024.0 / 1024.0:N1} MiB ({bytes:N0} B)";
}

/// <summary>
/// What <c>walden info</c> reports. Sizes come from file metadata only, never by reading the files. <c>JournalMode</c> is
/// "wal" or "rollback", all the file's header records; <c>JournalModeSeenInJournal</c> is "truncate" or "persist" when a
/// leftover -journal shows a rollback database's programs use that mode, else null (<see cref="JournalModes"/>).
/// </summary>
internal sealed record DatabaseInfo(
    string Path,
    string SqliteVersion,
    string JournalMode,
    string? JournalModeSeenInJournal,
    long PageSize,
    long PageCount,
    long FreelistCount,
    long DatabaseBytes,
    long? WalBytes,
    long? ShmBytes,
    string AutoVacuum,
    IReadOnlyList<string> Notes)
{
    /// <summary>Reads the figures of <paramref name="file"/> for info and stats, or reports why it cannot (exit code 2).</summary>
    internal static bool TryRead(FileInfo file, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out DatabaseInfo? info, out int exitCode)
    {
        SqliteLibrary.EnsureSupported();
        info = null;
        exitCode = ExitCodes.Ok;
        if (!file.Exists)
        {
            exitCode = CliErrors.Report(Directory.Exists(file.FullName)
                ? $"'{file.FullName}' is a directory; pass the database file inside it."
                : Files.OrphanedCompanions.Problem(file.FullName) ?? $"'{file.FullName}' does not exist. Check the path.");
            return false;
        }

        try
        {
            info = Read(file.FullName);
            return true;
        }
        catch (SqliteException ex)
        {
            exitCode = CliErrors.Report(OpenErrors.Explain(ex, file.FullName, writing: false).Message);
            return false;
        }
        catch (WaldenException ex)
        {
            exitCode = CliErrors.Report(ex.Message);
            return false;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            exitCode = CliErrors.Report($"'{file.FullName}' cannot be read: {ex.Message}");
            return false;
        }
    }

    internal static DatabaseInfo Read(string path)
    {
        // The companions as the user's folder has them: measured before the open, since reading a closed WAL database makes
        // SQLite create an empty -wal and -shm for the time it is open (removed again after), which are not the user's.
        // Beside the link's target, where SQLite keeps them.
        var real = OpenErrors.RealPath(path) ?? path;
        var walBytes = DatabaseFiles.SizeOf(real + "-wal");
        var shmBytes = DatabaseFiles.SizeOf(real + "-shm");
        // Before SQLite reads it: committed transactions past a damaged -wal frame, which every figure below leaves out.
        var walBreak = Integrity.WalChainBreak.Find(real);
        // Read-only, and leaves the folder as it was: a hot journal is rolled back, a WAL without -shm read, on a private copy.
        using var file = ForeignFile.Open(path, TimeSpan.FromSeconds(5));
        long Scalar(string sql) => file.Read(connection =>
            Convert.ToInt64(ConnectionFactory.Scalar<object>(connection, sql), System.Globalization.CultureInfo.InvariantCulture));

        var (journalMode, seenInJournal) = JournalModes.Of(path, file.Read(connection => ConnectionFactory.Scalar<string>(connection, "PRAGMA journal_mode")));
        return new DatabaseInfo(
            path,
            SqliteLibrary.Version,
            journalMode,
            seenInJournal,
            Scalar("PRAGMA page_size"),
            Scalar("PRAGMA page_count"),
            Scalar("PRAGMA freelist_count"),
            DatabaseFiles.SizeOf(real) ?? 0,
            walBytes,
            shmBytes,
            Scalar("PRAGMA auto_vacuum") switch
            {
                0 => "none",
                1 => "full",
                2 => "incremental",
                var other => other.ToString(System.Globalization.CultureInfo.InvariantCulture),
            },
            walBreak is null ? file.Notes : [walBreak.Finding, .. file.Notes]);
    }

    /// <summary>The WAL frames the -wal file has room for (its size; SQLite reuses a WAL from its start after a checkpoint reset it).</summary>
    internal long? WalFrameCapacity => WalBytes is { } wal && wal >= 32 ? (wal - 32) / (PageSize + 24) : null;
}
