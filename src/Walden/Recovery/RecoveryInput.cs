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
        catch (Exception ex) when (IoErrors.IsFileSystem(ex))
        {
            throw IoErrors.Translate(ex, $"Recovering '{input}'", Path.GetDirectoryName(output));
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

    /// <summary>A path inside one of Walden's temporary folders (a copy recovery made of the input).</summary>
    [GeneratedRegex(@"/[^'""\s]*/walden-(?:recover|settle|inspect)-[^/'""\s]*/[^'""\s]+")]
    private static partial Regex TemporaryCopy();
}
