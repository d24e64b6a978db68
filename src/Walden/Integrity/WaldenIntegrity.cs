using Microsoft.Data.Sqlite;
using Walden.Files;

namespace Walden.Integrity;

/// <summary>The outcome of checking a database file.</summary>
public enum WaldenFileStatus
{
    /// <summary>The check ran and found nothing wrong.</summary>
    Healthy,

    /// <summary>The check found damage (the findings say what).</summary>
    Corrupt,

    /// <summary>The file could not be checked: missing, not an SQLite database, or locked.</summary>
    CannotCheck,
}

/// <summary>The result of <see cref="WaldenIntegrity.CheckFile"/>.</summary>
/// <param name="Path">The file checked.</param>
/// <param name="Status">Healthy, Corrupt or CannotCheck.</param>
/// <param name="Kind">Quick or Full.</param>
/// <param name="Findings">What was found; empty when healthy.</param>
/// <param name="Duration">How long the check took.</param>
public sealed record WaldenFileCheck(string Path, WaldenFileStatus Status, WaldenIntegrityCheck Kind, IReadOnlyList<string> Findings, TimeSpan Duration)
{
    /// <summary>
    /// What the user should know beyond the verdict: a hot journal rolled back on a private copy, the application's collations
    /// and functions read with stand-ins and what the application must re-check. Empty when there is nothing to say.
    /// </summary>
    public IReadOnlyList<string> Notes { get; init; } = [];
}

/// <summary>Checks any SQLite database file (any program's) without opening it for writing.</summary>
public static class WaldenIntegrity
{
    /// <summary>
    /// How long <see cref="CheckFile"/> waits for a lock another process holds: 5 s. The tool's commands that read another
    /// program's file (the doctor's checks among them) wait as long.
    /// </summary>
    internal static readonly TimeSpan ForeignFileBusyTimeout = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Checks the header, then runs <c>PRAGMA quick_check</c> (or <c>integrity_check</c> with
    /// <see cref="WaldenIntegrityCheck.Full"/>) on a read-only connection.
    /// </summary>
    public static WaldenFileCheck CheckFile(string path, WaldenIntegrityCheck kind = WaldenIntegrityCheck.Quick, TimeProvider? timeProvider = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var clock = timeProvider ?? TimeProvider.System;
        var started = clock.GetTimestamp();
        var fullPath = System.IO.Path.GetFullPath(path);
        if (kind == WaldenIntegrityCheck.None)
        {
            kind = WaldenIntegrityCheck.Quick;
        }

        WaldenFileCheck Result(WaldenFileStatus status, IReadOnlyList<string> findings) => new(fullPath, status, kind, findings, clock.GetElapsedTime(started));

        if (LinkPath.Problem(fullPath) is { } unresolvable)
        {
            return Result(WaldenFileStatus.CannotCheck, [unresolvable]); // else "does not exist"
        }

        if (!File.Exists(fullPath))
        {
            return Result(WaldenFileStatus.CannotCheck, [Directory.Exists(fullPath) ? $"'{fullPath}' is a directory; pass the database file inside it." : OrphanedCompanions.Problem(fullPath) ?? $"'{fullPath}' does not exist. Check the path."]);
        }

        // A -wal, -shm or -journal passed for its database: its "header" would read as damage, and SQLite would create
        // companions of the companion beside the user's files.
        if (DatabaseFiles.CompanionProblem(fullPath) is { } companion)
        {
            return Result(WaldenFileStatus.CannotCheck, [companion]);
        }

        // A pipe, device or socket, or a -wal, -shm or -journal that is a folder or a pipe: before the header's read, which looks
        // into a -journal (a pipe there blocks), and before SQLite's open, which only says "unable to open database file".
        if (FileKind.NotADatabase(fullPath) is { } notAFile)
        {
            return Result(WaldenFileStatus.CannotCheck, [notAFile]);
        }

        var header = IntegrityChecker.InspectHeader(fullPath, ForeignFileBusyTimeout);
        if (header.Busy is { } waited)
        {
            return Result(WaldenFileStatus.CannotCheck, [OpenErrors.StillWriting(fullPath, waited, new WaldenOptions { BusyTimeout = ForeignFileBusyTimeout }).Message]);
        }

        if (header.NotADatabase)
        {
            return Result(WaldenFileStatus.CannotCheck, header.Findings);
        }

        // Mid-transaction pages make the header of a file with a hot journal look wrong; its rolled-back copy is what counts.
        if (header.Findings.Count > 0 && !ForeignFile.HasHotJournal(OpenErrors.RealPath(fullPath) ?? fullPath))
        {
            return Result(WaldenFileStatus.Corrupt, header.Findings);
        }

        // Before SQLite reads it (on a private copy, or in place): committed transactions SQLite would ignore are damage too.
        var walBreak = WalChainBreak.Find(fullPath);
        try
        {
            using var file = ForeignFile.Open(fullPath, ForeignFileBusyTimeout);
            var (findings, setAside) = IntegrityChecker.RunSettingAsideStandIns(file.Connection, file.StandIns, kind);
            var notes = file.Notes.Concat(setAside).ToList();
            if (walBreak is not null)
            {
                findings.Insert(0, walBreak.Finding);
            }

            return Result(findings.Count == 0 ? WaldenFileStatus.Healthy : WaldenFileStatus.Corrupt, findings) with { Notes = notes };
        }
        catch (SqliteException ex) when ((ex.SqliteErrorCode & 0xff) == Errors.SqliteErrors.Corrupt)
        {
            // SQLite read the file and found it damaged (a malformed schema on page 1): a verdict, not a check that could not run.
            return Result(WaldenFileStatus.Corrupt, [OpenErrors.Explain(ex, fullPath, writing: false).Message]);
        }
        catch (SqliteException ex)
        {
            return Result(WaldenFileStatus.CannotCheck, [OpenErrors.Explain(ex, fullPath, writing: false).Message]);
        }
        catch (WaldenCorruptException ex)
        {
            return Result(WaldenFileStatus.Corrupt, [ex.Message]);
        }
        catch (WaldenException ex)
        {
            return Result(WaldenFileStatus.CannotCheck, [ex.Message]);
        }
        catch (IOException ex)
        {
            return Result(WaldenFileStatus.CannotCheck, [$"'{fullPath}' cannot be read: {ex.Message}"]);
        }
        catch (UnauthorizedAccessException ex)
        {
            return Result(WaldenFileStatus.CannotCheck, [$"'{fullPath}' cannot be read: {ex.Message} Run as a user who may read it."]);
        }
    }
}
