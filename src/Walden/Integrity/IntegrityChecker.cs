using Microsoft.Data.Sqlite;
using Walden.Files;
using Walden.Recovery;

namespace Walden.Integrity;

/// <summary>The header sanity check and the SQLite checks, shared by open, the background check and <c>walden check</c>.</summary>
internal static class IntegrityChecker
{
    /// <summary>
    /// Problems visible in the file header before SQLite is involved: a missing magic string, an illegal
    /// page size, a length that is not a whole number of pages, fewer pages than the header declares.
    /// Reads the header directly (see <see cref="InputHeader"/> for why that is safe only here), so
    /// it returns nothing for a file this process already has open (found by device and inode in /proc/self/fd).
    /// </summary>
    internal static HeaderVerdict InspectHeader(string path)
    {
        // Any descriptor of this process on the file (Walden's or the application's own SqliteConnection): SQLite reads
        // the header itself then, and a damaged one fails its check; a raw read here would drop that connection's locks.
        if (DatabaseFiles.SizeOf(path) is not > 0 || DatabaseFiles.For(path).OpenInThisProcess() is not null)
        {
            return HeaderVerdict.Sound;
        }

        // A -wal with content may hold newer copies of the file's pages, page 1 (the header) among them: a power cut while a
        // checkpoint was copying pages into the file leaves them torn there, by SQLite's design, because the -wal that
        // rewrites them is only reset after the file is synced. SQLite's open replays the -wal and its quick_check judges the
        // result; the raw header alone would refuse a sound database (found with the fault VFS's power cuts).
        if (DatabaseFiles.SizeOf(path + "-wal") is > 0)
        {
            return HeaderVerdict.Sound;
        }

        var header = InputHeader.Read(path);
        var findings = new List<string>();
        if (!header.MagicIntact)
        {
            // A whole number of 512-byte blocks is what a damaged database looks like; anything else is some other file.
            if (header.FileLength % 512 != 0)
            {
                return new HeaderVerdict(NotADatabase: true, [$"'{path}' is not an SQLite database (no 'SQLite format 3' header, and its length {header.FileLength:N0} is not a whole number of pages)."]);
            }

            findings.Add("The file header is damaged: the 'SQLite format 3' magic string is missing.");
        }

        if (header.PageSize == 0)
        {
            findings.Add($"The header's page size ({header.PageSizeField}) is not a legal page size (a power of two from 512 to 65536).");
        }
        else
        {
            if (header.FileLength % header.PageSize != 0)
            {
                findings.Add($"The file length ({header.FileLength:N0} bytes) is not a whole number of {header.PageSize}-byte pages: the file was truncated or extended.");
            }

            // Only for a file nobody is using (no -wal content, no SQLite lock held): a commit or checkpoint in another
            // process writes page 1 before it extends the file; a real truncation of a busy file is caught by quick_check.
            var filePages = header.FileLength / header.PageSize;
            if (header.MagicIntact && header.PageCountValid && header.PageCountField > filePages &&
                DatabaseFiles.SizeOf(path + "-wal") is not > 0 && LockProbe.FindHolder(path) is null)
            {
                findings.Add($"The file is truncated: the header declares {header.PageCountField:N0} pages, the file holds {filePages:N0}.");
            }
        }

        return new HeaderVerdict(NotADatabase: false, findings);
    }

    /// <summary>Runs quick_check or integrity_check (of one table, when given) and returns the findings; empty when "ok".</summary>
    internal static List<string> Run(SqliteConnection connection, WaldenIntegrityCheck kind, string? table = null)
    {
        var pragma = kind == WaldenIntegrityCheck.Full ? "integrity_check" : "quick_check";
        using var command = connection.CreateCommand();
        command.CommandText = table is null ? $"PRAGMA {pragma}(100)" : $"PRAGMA {pragma}({LostAndFoundMapper.Quote(table)})";
        var findings = new List<string>();
        try
        {
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                var line = reader.GetString(0);
                if (line != "ok")
                {
                    findings.Add(line);
                }
            }
        }
        catch (SqliteException ex) when (Errors.SqliteErrors.IsCorrupt(ex.SqliteErrorCode))
        {
            findings.Add(ex.Message);
        }

        return findings;
    }
}

/// <summary>What the header says about a file.</summary>
/// <param name="NotADatabase">The file is not an SQLite database at all (as opposed to a damaged one).</param>
/// <param name="Findings">Header problems; empty when sound.</param>
internal sealed record HeaderVerdict(bool NotADatabase, IReadOnlyList<string> Findings)
{
    internal static readonly HeaderVerdict Sound = new(false, []);
}
