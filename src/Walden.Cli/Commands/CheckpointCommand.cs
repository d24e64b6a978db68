using System.CommandLine;
using System.Globalization;
using Microsoft.Data.Sqlite;
using Spectre.Console;
using Walden.Checkpointing;
using Walden.Cli.Output;
using Walden.Configuration;
using Walden.Native;

namespace Walden.Cli.Commands;

/// <summary>
/// <c>walden checkpoint &lt;db&gt; [--mode]</c>: runs <c>PRAGMA wal_checkpoint</c> on a plain connection (which does
/// not change the journal mode) and prints SQLite's result triple. Safe beside a running writer: the native
/// SQLite here has the WAL-reset fix, and the modes that need the write lock wait for it with a busy handler.
/// </summary>
internal static class CheckpointCommand
{
    internal static Command Create()
    {
        var database = new Argument<FileInfo>("db") { Description = "The SQLite database file (in WAL mode)." }.RefusingCompanions();
        var mode = new Option<WaldenCheckpointMode>("--mode") { Description = "passive, full, restart or truncate.", DefaultValueFactory = _ => WaldenCheckpointMode.Passive };
        var busyTimeout = new Option<double>("--busy-timeout") { Description = "Seconds to wait for the writer and for readers (full, restart, truncate).", DefaultValueFactory = _ => 5 };
        var json = new Option<bool>("--json") { Description = "Print JSON instead of text." };
        var command = new Command("checkpoint", "Checkpoint a WAL database now and print the result: busy, frames in the WAL, frames checkpointed.")
        {
            database, mode, busyTimeout, json,
        };
        command.SetAction(result => Run(result.GetValue(database)!, result.GetValue(mode), result.GetValue(busyTimeout), result.GetValue(json)));
        return command;
    }

    private static int Run(FileInfo file, WaldenCheckpointMode mode, double busyTimeout, bool json)
    {
        SqliteLibrary.EnsureSupported();
        try
        {
            Files.ForeignFile.EnsureExists(file.FullName);
        }
        catch (WaldenConfigurationException ex)
        {
            return CliErrors.Report(ex.Message);
        }

        if (busyTimeout is < 0 or > 600)
        {
            return CliErrors.Report($"--busy-timeout must be between 0 and 600 seconds (currently {busyTimeout}).");
        }

        if (HotJournal(file.FullName) is { } refusal)
        {
            return CliErrors.Report(refusal);
        }

        // A checkpoint copies the frames before the break and then (RESTART, TRUNCATE, or the next writer) resets the -wal:
        // the committed transactions past a damaged frame would be gone for good. Refused before SQLite opens anything.
        if (Integrity.WalChainBreak.Find(file.FullName) is { } walBreak)
        {
            return CliErrors.Report($"Checkpointing '{file.FullName}' refused; nothing was opened or changed: {walBreak.Facts}. " +
                Integrity.WalChainBreak.WhatToDo);
        }

        CheckpointReport report;
        var real = Files.OpenErrors.RealPath(file.FullName) ?? file.FullName;
        var closed = Files.OpenErrors.IsWalDatabase(real) && !File.Exists(real + "-wal") && !File.Exists(real + "-shm");
        if (closed)
        {
            // A closed WAL database: no frame waits. Opening it would make SQLite create a -wal and -shm, owned by whoever runs
            // this, and a connection that cannot remove them (this user may not write the file) leaves them for the owner's
            // program to fail on ("attempt to write a readonly database").
            report = new CheckpointReport(file.FullName, "wal", mode, false, 0, 0, 0);
        }
        else if (Unwritable(real) is { } unwritable)
        {
            return CliErrors.Report($"Checkpointing '{file.FullName}' could not start; nothing was opened or changed. {unwritable} A checkpoint " +
                "writes the -wal's frames into the database file and SQLite rewrites the -shm to open it; neither can be written here.");
        }
        else
        {
            try
            {
                report = Checkpoint(file.FullName, mode, TimeSpan.FromSeconds(busyTimeout));
            }
            catch (SqliteException ex) when (Errors.SqliteErrors.IsBusy(ex.SqliteErrorCode))
            {
                var waited = ex.Data[RawStatement.WaitedKey] is TimeSpan time ? $"{time.TotalSeconds:0.###} s" : "its --busy-timeout";
                return CliErrors.Report(
                    $"Checkpointing '{file.FullName}' waited {waited} (--busy-timeout {busyTimeout:0.###}) for a lock another connection or process " +
                    "holds on the database and gave up; nothing was changed. Run it again with a longer --busy-timeout, or find the process " +
                    "that keeps the database locked (a writer in a long transaction, or one in PRAGMA locking_mode=EXCLUSIVE, which holds " +
                    "it until it closes): 'walden doctor <db>' names the processes that have it open.");
            }
            catch (SqliteException ex) when ((ex.SqliteErrorCode & 0xFF) is Errors.SqliteErrors.CantOpen or Errors.SqliteErrors.ReadOnly)
            {
                // A WAL database in a folder this user cannot write (SQLite must create the -shm, and the -wal, to open it), the
                // database or a companion read-only: the cause as the engine names it, not SQLite's bare "unable to open".
                var wal = Files.DatabaseFiles.SizeOf(real + "-wal");
                return CliErrors.Report($"Checkpointing '{file.FullName}' could not start; nothing was changed. " +
                    Files.OpenErrors.Explain(ex, file.FullName, writing: true).Message +
                    (wal is null or 0 ? " There is no -wal beside it, so no frame is waiting to be checkpointed." : string.Empty));
            }
            catch (SqliteException ex)
            {
                return CliErrors.Report(Errors.SqliteErrors.Translate(ex, $"Checkpointing '{file.FullName}'", new WaldenOptions()).Message, ExitCodes.Failed);
            }
        }

        if (json)
        {
            Json.Write(report);
        }
        else if (closed)
        {
            AnsiConsole.MarkupLine($"'{Markup.Escape(report.Path)}' is a closed WAL database (no -wal): no frame waits to be checkpointed. Nothing was opened.");
        }
        else if (report.JournalMode != "wal")
        {
            AnsiConsole.MarkupLine($"'{Markup.Escape(report.Path)}' is in journal mode [bold]{report.JournalMode}[/], not WAL: there is nothing to checkpoint.");
        }
        else
        {
            AnsiConsole.MarkupLine(
                $"{report.Mode} checkpoint: busy {(report.Busy ? 1 : 0)}, log {report.LogFrames:N0} frames, checkpointed {report.CheckpointedFrames:N0} frames" +
                (report.Busy ? " (a reader or writer was in the way; try again, or with a longer --busy-timeout)" : "") +
                $"; -wal file now {InfoCommand.Size(report.WalBytesAfter)}.");
        }

        return report.Busy ? ExitCodes.Failed : ExitCodes.Ok;
    }

    /// <summary>
    /// Why the file must not be opened here: a hot rollback journal beside it (a program stopped mid-transaction, nobody holds
    /// the database). SQLite's first read would roll it back in place, a change the user did not ask for, and a database with
    /// a rollback journal is not in WAL mode, so there would be nothing to checkpoint; the answer used to be only that, with the
    /// roll-back unsaid. Refused as check, info and doctor treat such a file: nothing of the user's is changed.
    /// </summary>
    private static string? HotJournal(string path)
    {
        var real = Files.OpenErrors.RealPath(path) ?? path;
        var journal = real + "-journal";
        if (Files.DatabaseFiles.SizeOf(journal) is not > 0 || Files.LockProbe.FindHolder(real) is not null || !Files.ForeignFile.HasHotJournal(real))
        {
            return null;
        }

        var hot = $"'{path}' has a hot rollback journal ('{Path.GetFileName(journal)}', {Files.DatabaseFiles.SizeOf(journal):N0} bytes)";
        const string After = "Nothing was done: opening it would make SQLite roll that transaction back in the file. Let the program that " +
            "owns the database open it (SQLite rolls the journal back then), and keep the journal beside the database until it has; " +
            "'walden check' and 'walden info' read it on a private copy without changing it.";
        return Files.OpenErrors.IsWalDatabase(real)
            // SQLite looks for a hot journal before it opens a -wal (pager.c, sqlite3PagerSharedLock), whatever the header says.
            ? $"{hot}, although its header says WAL: a program stopped in the middle of a transaction in rollback-journal mode (before " +
              "the file was switched to WAL, or the journal is another file's that was copied or renamed here). SQLite rolls such a " +
              "journal back into the database at its next open, before it reads any -wal, so no checkpoint can run before that. If the " +
              "journal may not be this database's, let no program open the database yet (that roll-back would write another file's " +
              "pages into it) and run 'walden doctor' on it first. " + After
            : $"{hot}: a program stopped in the middle of a transaction, so the database is in rollback-journal mode, not WAL, and " +
              "there is nothing to checkpoint. " + After;
    }

    /// <summary>
    /// Why no user, root included, can write the WAL database <paramref name="real"/>, its -wal or its -shm (a read-only mount,
    /// an immutable or append-only file), or null. Asked before SQLite opens it: SQLite would open the database read-only, rebuild
    /// a killed writer's -shm in place, and then fail the checkpoint with a bare I/O error.
    /// </summary>
    private static string? Unwritable(string real) =>
        !Files.OpenErrors.IsWalDatabase(real) && !File.Exists(real + "-wal")
            ? null
            : new[] { real, real + "-wal", real + "-shm" }.Where(File.Exists).Select(Files.Mounts.WhyUnwritable).FirstOrDefault(why => why is not null);

    internal static CheckpointReport Checkpoint(string path, WaldenCheckpointMode mode, TimeSpan busyTimeout)
    {
        var builder = new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWrite, Pooling = false };
        using var connection = new SqliteConnection(builder.ToString());
        connection.Open();
        using var busy = BusyHandler.Install(connection, busyTimeout);
        try
        {
            // Stepped directly (RawStatement), so a lock is waited for --busy-timeout and not longer: a SqliteCommand adds its
            // own retries with 150 ms sleeps up to its 30 s CommandTimeout, whatever --busy-timeout said.
            var journalMode = ConnectionFactory.Scalar<string>(connection, "PRAGMA journal_mode");
            var row = RawStatement.QueryRow(connection, $"PRAGMA wal_checkpoint({mode.ToString().ToUpperInvariant()})")!;
            return new CheckpointReport(path, journalMode, mode, Convert.ToInt64(row[0], CultureInfo.InvariantCulture) != 0,
                (int)Convert.ToInt64(row[1], CultureInfo.InvariantCulture), (int)Convert.ToInt64(row[2], CultureInfo.InvariantCulture),
                Files.DatabaseFiles.SizeOf(path + "-wal") ?? 0);
        }
        finally
        {
            connection.Close(); // before the busy handler is freed
        }
    }

    internal sealed record CheckpointReport(string Path, string JournalMode, WaldenCheckpointMode Mode, bool Busy, int LogFrames, int CheckpointedFrames, long WalBytesAfter);
}
