namespace Walden.Files;

/// <summary>
/// What can honestly be said of a database's journal mode from outside its programs. The file's header records only WAL or
/// rollback (bytes 18 and 19: 2 or 1; fileformat.html 1.3.3); which rollback mode (DELETE, TRUNCATE, PERSIST, MEMORY, OFF) is
/// each connection's own choice, never written to the file, so a new connection always answers "delete". A leftover
/// <c>-journal</c> tells more: TRUNCATE leaves it at 0 bytes after a commit, PERSIST leaves it with its header zeroed.
/// </summary>
internal static class JournalModes
{
    /// <summary>The header says WAL.</summary>
    internal const string Wal = "wal";

    /// <summary>The header says rollback journal: delete, truncate, persist, memory or off, as each connection chooses.</summary>
    internal const string Rollback = "rollback";

    /// <summary>A 0-byte -journal beside a rollback database: left by a connection in journal_mode=TRUNCATE.</summary>
    internal const string Truncate = "truncate";

    /// <summary>A -journal whose header is zeroed beside a rollback database: left by a connection in journal_mode=PERSIST.</summary>
    internal const string Persist = "persist";

    /// <summary>
    /// "wal" or "rollback" from what SQLite reports for the file (<c>PRAGMA journal_mode</c> on a connection that set none),
    /// and, for a rollback database, what the -journal beside <paramref name="path"/> shows of its programs' mode (null: nothing).
    /// </summary>
    internal static (string Mode, string? SeenInJournal) Of(string path, string pragmaJournalMode)
    {
        if (string.Equals(pragmaJournalMode, Wal, StringComparison.OrdinalIgnoreCase))
        {
            return (Wal, null);
        }

        var database = OpenErrors.RealPath(path) ?? path;
        return (Rollback, SeenInJournal(database, database + "-journal"));
    }

    /// <summary>
    /// The journal mode a leftover -journal shows: TRUNCATE (0 bytes), PERSIST (header zeroed), or null. A 0-byte journal is
    /// also what any rollback mode's live transaction has for a moment (SQLite creates the journal, then writes its header), so
    /// it says TRUNCATE only while no process holds a write lock on the database's PENDING or RESERVED byte (/proc/locks;
    /// SQLite takes RESERVED before it creates a journal and keeps it until the journal is finished: lockingv3.html).
    /// </summary>
    private static string? SeenInJournal(string database, string journal)
    {
        if (DatabaseFiles.SizeOf(journal) is not { } size)
        {
            return null;
        }

        if (size == 0)
        {
            return Diagnostics.Doctor.FileLocks.On(database).Any(l => l.Write && (l.Covers(Diagnostics.Doctor.FileLocks.ReservedByte)
                || l.Covers(Diagnostics.Doctor.FileLocks.PendingByte)))
                ? null // a transaction in progress, in whatever mode its connection chose
                : Truncate;
        }

        try
        {
            // A journal carries no lock of SQLite's, so reading it drops none (DatabaseFiles.JournalFinished).
            var header = new byte[Math.Min(size, 28)];
            using var stream = new FileStream(journal, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            var read = stream.ReadAtLeast(header, header.Length, throwOnEndOfStream: false);
            return read == 28 && header.All(b => b == 0) ? Persist : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>The journal mode in words, for a person.</summary>
    internal static string Describe(string mode, string? seenInJournal) => mode == Wal ? "wal" :
        "rollback journal (delete, truncate, persist, memory or off is each connection's choice; not recorded in the file)" + seenInJournal switch
        {
            Truncate => "; the 0-byte -journal beside it was left by a program using journal_mode=TRUNCATE",
            Persist => "; the -journal beside it, its header zeroed, was left by a program using journal_mode=PERSIST",
            _ => string.Empty,
        };
}
