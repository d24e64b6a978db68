using System.Text.RegularExpressions;
using Microsoft.Data.Sqlite;
using Walden.Errors;
using Walden.Files;

namespace Walden.Recovery;

/// <summary>
/// Puts the user's file in front of a recovery run: a database with a hot rollback journal is first
/// rolled back on a private copy (the committed state is what recovery must keep; the pages of the
/// cut-off transaction are not), and every error names the user's file, never Walden's temporary copies,
/// with the cause (a full disk, a read-only folder) as a typed exception.
/// </summary>
internal static partial class RecoveryInput
{
    /// <summary>Runs <paramref name="produce"/> on the file recovery should read, which is <paramref name="input"/> or its settled copy.</summary>
    internal static WaldenRecoveryReport Run(string input, string output, Func<string, WaldenRecoveryReport> produce)
    {
        string? folder = null;
        try
        {
            var settled = ForeignFile.SettledCopy(input);
            folder = settled?.Folder;
            var report = produce(settled?.Database ?? input);
            return settled is null ? report : report with { InputPath = input, Notes = [.. settled.Value.Notes, .. report.Notes] };
        }
        catch (Exception ex) when (DiskSpace.IsFull(ex) && TempFolderFull(ex, input, output) is { } temp)
        {
            throw temp;
        }
        catch (Exception ex) when (IoErrors.IsFileSystem(ex))
        {
            throw IoErrors.Translate(ex, $"Recovering '{input}'", Path.GetDirectoryName(output));
        }
        catch (SqliteException ex) when (SqliteErrors.IsDiskFault(ex))
        {
            throw DiskFault(ex, input, output);
        }
        catch (SqliteException ex)
        {
            throw SqliteErrors.Translate(ex, $"Recovering '{input}'", new WaldenOptions());
        }
        catch (WaldenException ex) when ((ex.SqliteErrorCode ?? 0) == SqliteErrors.Full)
        {
            throw new WaldenDiskFullException(
                $"Recovering '{input}' failed: the disk holding '{Path.GetDirectoryName(output)}' is full. Nothing was left half-written; " +
                "free space there (or recover to another disk with --output) and try again.", SqliteErrors.Full, ex.SqliteExtendedErrorCode ?? SqliteErrors.Full, ex);
        }
        catch (WaldenException ex) when (TemporaryCopy().IsMatch(ex.Message))
        {
            throw new WaldenException(TemporaryCopy().Replace(ex.Message, input), ex.SqliteErrorCode ?? 0, ex.SqliteExtendedErrorCode ?? 0, ex);
        }
        finally
        {
            if (folder is not null)
            {
                Directory.Delete(folder, recursive: true); // our own private copy, never the user's file
            }
        }
    }

    /// <summary>
    /// A full disk that was the temporary folder's, not the output's: one already named so (the private copy, the work folder), or
    /// SQLite's own temporary files (the recover extension's scratch database, a VACUUM's copy, a sort) on another volume while
    /// the output's volume has room for a whole recovered copy. Null: the output's disk.
    /// </summary>
    private static WaldenException? TempFolderFull(Exception ex, string input, string output)
    {
        if (DiskSpace.TempFolderFullIn(ex) is { } named)
        {
            return named;
        }

        if (ex is not SqliteException || DiskSpace.FullTempFolder(Path.GetDirectoryName(output), DatabaseFiles.SizeOf(input) ?? 0) is not { } temp)
        {
            return null;
        }

        return DiskSpace.TempFolderFull($"Recovering '{input}'", temp,
            "SQLite's temporary files (the recover extension's scratch database, sorts, a VACUUM's copy)",
            "Nothing was left half-written: the partial output was removed, and the damaged original is untouched.", ex);
    }

    /// <summary>
    /// The typed error for a failing disk met while recovering: what failed (a write or fsync can only be the output's: the input is
    /// opened read-only; a read may be either file's) and what became of the files. Recovery never goes on past such an error: a page
    /// that could not be read would pass for a damaged one, and a write whose fsync failed may be lost (Linux drops the dirty pages).
    /// </summary>
    private static WaldenException DiskFault(SqliteException ex, string input, string output)
    {
        var folder = Path.GetDirectoryName(output);
        var code = ex.SqliteExtendedErrorCode;
        const string Left = "Nothing was left half-written: the partial output was removed, and the damaged original is untouched.";
        if ((ex.SqliteErrorCode & 0xFF) == SqliteErrors.Full)
        {
            return new WaldenDiskFullException(
                $"Recovering '{input}' failed: the disk holding '{folder}' is full. {Left} Free space there (or recover to another disk " +
                "with --output) and try again.", SqliteErrors.Full, code, ex);
        }

        var what = IoOperation(code) switch
        {
            "read" => $"a read failed with an I/O error (SQLite extended code {code}), from the damaged database '{input}' or from the " +
                      $"recovered file being written in '{folder}'",
            { } write => $"writing the recovered file in '{folder}' failed: its {write} returned an I/O error " +
                         $"(SQLite extended code {code})",
            null => $"the disk failed with an I/O error (SQLite extended code {code}) on '{input}' or on the recovered file in '{folder}'",
        };
        return new WaldenException(
            $"Recovering '{input}' failed: {what}. {Left} Recovery stops at a failing disk rather than take unreadable pages for damage. " +
            "Check the disk and the system log; copy the damaged file to a healthy disk (ddrescue reads around bad sectors) and recover " +
            "the copy there. " + ex.Message, SqliteErrors.IoErr, code, ex);
    }

    /// <summary>The operation an extended SQLITE_IOERR code names: "read", a kind of write, or null for the others.</summary>
    private static string? IoOperation(int extendedCode) => extendedCode switch
    {
        SqliteErrors.IoErr | (1 << 8) or SqliteErrors.IoErr | (2 << 8) => "read",
        SqliteErrors.IoErr | (3 << 8) => "write",
        SqliteErrors.IoErr | (4 << 8) => "fsync",
        SqliteErrors.IoErr | (5 << 8) => "directory fsync",
        SqliteErrors.IoErr | (6 << 8) => "truncate",
        _ => null,
    };

    /// <summary>A path inside one of Walden's temporary folders (a copy recovery made of the input).</summary>
    [GeneratedRegex(@"/[^'""\s]*/walden-(?:recover|settle|inspect)-[^/'""\s]*/[^'""\s]+")]
    private static partial Regex TemporaryCopy();
}
