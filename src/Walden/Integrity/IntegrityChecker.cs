using Microsoft.Data.Sqlite;
using Walden.Configuration;
using Walden.Files;
using Walden.Recovery;

namespace Walden.Integrity;

/// <summary>The header sanity check and the SQLite checks, shared by open, the background check and <c>walden check</c>.</summary>
internal static class IntegrityChecker
{
    /// <summary>
    /// Why <paramref name="path"/> holds no page SQLite or a recovery could read, or null when it may: empty, cut off
    /// inside the 100-byte header (what it has is the start of one), or some other kind of file. Reads at most 100 bytes,
    /// under <see cref="InputHeader"/>'s rule (never while this process has the file open; then null).
    /// </summary>
    internal static (bool NotADatabase, bool Empty, string Message)? Unreadable(string path)
    {
        // The file itself, not a symbolic link to it (whose own length is that of the path it holds).
        var length = DatabaseFiles.SizeOf(OpenErrors.RealPath(path) ?? path);
        if (length is null || DatabaseFiles.For(path).OpenInThisProcess() is not null)
        {
            return null;
        }

        if (length == 0)
        {
            return Unreadable(path, 0, []);
        }

        var bytes = new byte[Math.Min(length.Value, 100)];
        int read;
        using (var stream = DatabaseFiles.OpenRawRead(path, "Reading the database header outside SQLite"))
        {
            length = stream.Length;
            read = stream.ReadAtLeast(bytes, bytes.Length, throwOnEndOfStream: false);
            if (read == 100 && !HasMagic(bytes) && length % 512 == 0)
            {
                // No header: whether any SQLite page is left decides between a damaged database and another (or an encrypted) file.
                bytes = new byte[Math.Min(length.Value, PageScan.Limit)];
                stream.Position = 0;
                read = stream.ReadAtLeast(bytes, bytes.Length, throwOnEndOfStream: false);
            }
        }

        return Unreadable(path, length.Value, bytes[..read]);
    }

    /// <summary>The same judgement on a file's <paramref name="length"/> and its first (up to 100) <paramref name="bytes"/>.</summary>
    private static (bool NotADatabase, bool Empty, string Message)? Unreadable(string path, long length, byte[] bytes)
    {
        if (length == 0)
        {
            return (false, true, $"'{path}' is empty (0 bytes): it holds no database page. SQLite reads an empty file as an empty database.");
        }

        var magic = "SQLite format 3\0"u8;
        if (length >= 100)
        {
            if (HasMagic(bytes))
            {
                return null;
            }

            return length % 512 != 0 ? (true, false, NotADatabaseMessage(path, length))
                : bytes.Length > 100 && !PageScan.AnyBtreePage(bytes) ? (true, false, NoPageMessage(path, bytes.Length))
                : null;
        }

        var prefix = bytes.AsSpan(0, Math.Min(bytes.Length, magic.Length));
        return prefix.SequenceEqual(magic[..prefix.Length])
            ? (false, false, $"'{path}' is truncated inside its header: it holds {length:N0} bytes, fewer than the 100 bytes of an SQLite " +
                "header, so no page of the database is left. Restore it from a backup.")
            : (true, false, NotADatabaseMessage(path, length));
    }

    private static bool HasMagic(byte[] bytes) => bytes.Length >= 16 && bytes.AsSpan(0, 16).SequenceEqual("SQLite format 3\0"u8);

    private static string NoPageMessage(string path, int scanned) =>
        $"'{path}' is not an SQLite database, or it is an encrypted one: it has no 'SQLite format 3' header and no SQLite page in its " +
        $"first {scanned:N0} bytes at any page size. SQLCipher and SEE files look like this (random bytes): open it with its key in the " +
        "program that encrypted it. There is nothing a recovery could read from it; check the path.";

    private static string NotADatabaseMessage(string path, long length) =>
        $"'{path}' is not an SQLite database (no 'SQLite format 3' header, and its length {length:N0} is not a whole number " +
        "of pages). Check the path.";

    /// <summary>
    /// Problems visible in the file header before SQLite is involved: a missing magic string, an illegal
    /// page size, a length that is not a whole number of pages, fewer pages than the header declares.
    /// Reads the header directly (see <see cref="InputHeader"/> for why that is safe only here), so
    /// it returns nothing for a file this process already has open (found by device and inode in /proc/self/fd).
    /// The header is read under SQLite's SHARED lock (<see cref="SharedReadLock"/>), so that no other
    /// process writes the file while it is read: a writer inside a transaction whose page cache spilled, or committing, holds
    /// EXCLUSIVE, and the file then has pages but no header yet (the first transaction of a new database) or a header that
    /// page 1's rewrite has not reached. That lock is waited for up to <paramref name="busyTimeout"/>; when it is still held,
    /// the verdict says so (<see cref="HeaderVerdict.Busy"/>), never "damaged". Nothing is judged either when SQLite must
    /// first make the file consistent (a -wal with content, a journal holding a transaction): SQLite's open does that and
    /// its own check then judges the file.
    /// </summary>
    internal static HeaderVerdict InspectHeader(string path, TimeSpan busyTimeout)
    {
        // Any descriptor of this process on the file (Walden's or the application's own SqliteConnection): SQLite reads
        // the header itself then, and a damaged one fails its check; a raw read here would drop that connection's locks.
        if (DatabaseFiles.SizeOf(path) is not > 0 || DatabaseFiles.For(path).OpenInThisProcess() is not null)
        {
            return HeaderVerdict.Sound;
        }

        SharedReadLock? shared;
        TimeSpan waited;
        try
        {
            shared = SharedReadLock.Take(path, busyTimeout, out waited);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or WaldenDatabaseInUseException)
        {
            return HeaderVerdict.Sound; // SQLite's own open says why it cannot read the file
        }

        if (shared is null)
        {
            return new HeaderVerdict(NotADatabase: false, []) { Busy = waited };
        }

        using (shared)
        {
            if (MustBeMadeConsistentBySqlite(path))
            {
                return HeaderVerdict.Sound;
            }

            var (length, bytes) = shared.ReadStart(100);
            if (bytes.Length == 100 && !HasMagic(bytes) && length % 512 == 0)
            {
                (length, bytes) = shared.ReadStart(PageScan.Limit); // see Unreadable: whether any SQLite page is left
            }

            var verdict = Judge(path, length, bytes);
            // A -wal that gained content while the header was read: a checkpoint may have been writing it (see below).
            return MustBeMadeConsistentBySqlite(path) ? HeaderVerdict.Sound : verdict;
        }
    }

    /// <summary>
    /// Whether the file alone is not the database: a -wal with content, or a -journal holding a transaction (SQLite's test: its
    /// first byte is not zero), which a killed writer left hot with the transaction's pages already in the file.
    /// </summary>
    private static bool MustBeMadeConsistentBySqlite(string path)
    {
        // A -wal with content may hold newer copies of the file's pages, page 1 (the header) among them: a power cut while a
        // checkpoint was copying pages into the file leaves them torn there, by SQLite's design, because the -wal that
        // rewrites them is only reset after the file is synced. SQLite's open replays the -wal and its quick_check judges the
        // result; the raw header alone would refuse a sound database (found with the fault VFS's power cuts).
        if (DatabaseFiles.SizeOf(path + "-wal") is > 0)
        {
            return true;
        }

        try
        {
            return DatabaseFiles.SizeOf(path + "-journal") is > 0 && !DatabaseFiles.JournalFinished(path + "-journal");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return true; // gone meanwhile, or unreadable: SQLite's open says which
        }
    }

    private static HeaderVerdict Judge(string path, long length, byte[] bytes)
    {
        // A whole number of 512-byte blocks is what a damaged database looks like; anything else is some other file.
        if (Unreadable(path, length, bytes) is { Empty: false } unreadable)
        {
            return new HeaderVerdict(unreadable.NotADatabase, [unreadable.Message]);
        }

        var header = InputHeader.Parse(bytes.Length < 100 ? [] : bytes, length);
        var findings = new List<string>();
        if (!header.MagicIntact)
        {
            findings.Add("The file header is damaged: the 'SQLite format 3' magic string is missing.");
        }

        if (header.PageSize == 0)
        {
            findings.Add($"The header's page size ({header.PageSizeField}) is not a legal page size (a power of two from 512 to 65536).");
        }
        else
        {
            // Under the SHARED lock no commit of another process is writing page 1 before it extends the file, and no -wal
            // with content (a checkpoint) is in the way: a declared page count above the file's is a truncation.
            var filePages = header.FileLength / header.PageSize;
            // Bytes past the last whole page are no damage when the header's page count leaves them out: SQLite never reads
            // them (TrailingBytes; the opened file's notes say so). Without a valid count SQLite reads them as a partial page.
            var ignoredBySqlite = header.MagicIntact && header.PageCountValid && header.PageCountField <= filePages;
            if (header.FileLength % header.PageSize != 0 && !ignoredBySqlite)
            {
                findings.Add($"The file length ({header.FileLength:N0} bytes) is not a whole number of {header.PageSize}-byte pages: the file was truncated or extended.");
            }

            if (header.MagicIntact && header.PageCountValid && header.PageCountField > filePages)
            {
                findings.Add($"The file is truncated: the header declares {header.PageCountField:N0} pages, the file holds {filePages:N0}.");
            }
        }

        return new HeaderVerdict(NotADatabase: false, findings);
    }

    /// <summary>How many findings a check reports at most (SQLite stops there).</summary>
    internal const int FindingsLimit = 100;

    /// <summary>How far a check looks past findings that stand-ins cause before it says it stopped (memory: about 100 bytes each).</summary>
    internal const int StandInFindingsRoom = 100_000;

    /// <summary>
    /// Runs the check on a file read with <paramref name="standIns"/> and sets aside the findings on indexes that use a
    /// stand-in (they cannot be compared without the application's definition). Those never crowd out real findings:
    /// when SQLite stopped at the limit and some were set aside, the check runs again with room for them, until it ends
    /// below its limit or <paramref name="limit"/> real findings are in. Returns the real findings and the notes, with the CHECK
    /// constraints SQLite passed over (<see cref="SkippedChecks"/>).
    /// </summary>
    internal static (List<string> Findings, List<string> Notes) RunSettingAsideStandIns(
        SqliteConnection connection, StandIns standIns, WaldenIntegrityCheck kind, int limit = FindingsLimit)
    {
        // Full-text tables whose tokenizer is the application's are left out before the check, or it fails as a whole.
        List<string> tokenizers;
        try
        {
            tokenizers = ApplicationTokenizers.SetAside(connection);
        }
        catch (SqliteException)
        {
            tokenizers = []; // a schema SQLite cannot read: the check itself says what is wrong
        }

        var room = limit;
        while (true)
        {
            var raw = standIns.Retry(connection, () => Run(connection, kind, limit: room));
            var findings = new List<string>(raw);
            var notes = standIns.SetAsideUnverifiable(connection, findings);
            var setAside = raw.Count - findings.Count;
            if (raw.Count < room || setAside == 0 || findings.Count >= limit)
            {
                return (findings.Take(limit).ToList(), WithSkippedChecks(connection, notes, tokenizers));
            }

            if (room >= StandInFindingsRoom)
            {
                notes.Add($"The check stopped after {raw.Count:N0} findings, {setAside:N0} of them on indexes that use stand-ins; findings " +
                    "past those were not looked for. Check the file with the application's collations and functions registered.");
                return (findings, WithSkippedChecks(connection, notes, tokenizers));
            }

            room = (int)Math.Min(StandInFindingsRoom, (long)room * 8);
        }
    }

    private static List<string> WithSkippedChecks(SqliteConnection connection, List<string> notes, List<string> tokenizers)
    {
        notes.AddRange(tokenizers);

        if (SkippedChecks.Note(connection) is { } skipped)
        {
            notes.Add(skipped);
        }

        return notes;
    }

    /// <summary>Runs quick_check or integrity_check (of one table, when given) and returns the findings; empty when "ok".</summary>
    internal static List<string> Run(SqliteConnection connection, WaldenIntegrityCheck kind, string? table = null, int limit = FindingsLimit)
    {
        var pragma = kind == WaldenIntegrityCheck.Full ? "integrity_check" : "quick_check";
        using var command = connection.CreateCommand();
        command.CommandText = table is null ? $"PRAGMA {pragma}({limit})" : $"PRAGMA {pragma}({LostAndFoundMapper.Quote(table)})";
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

    /// <summary>
    /// Set when another process kept writing the file (its PENDING or EXCLUSIVE lock) for the whole busy timeout: how long this
    /// waited. Nothing was judged then.
    /// </summary>
    internal TimeSpan? Busy { get; init; }
}
