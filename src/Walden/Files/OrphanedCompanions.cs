namespace Walden.Files;

/// <summary>
/// Finds a -wal or -journal left without its database: the database file was removed or moved (or emptied) while a
/// process still had committed transactions in its WAL, or an interrupted transaction in its journal.
/// </summary>
/// <remarks>
/// SQLite deletes such a file the moment a connection opens the database path: a -wal next to a database of zero pages
/// (pager.c, pagerOpenWalIfPresent) and a hot journal next to one (pager.c, hasHotJournal: "the journal is a remnant
/// from a prior database with the same name where the database file but not the journal was deleted"). Creating or
/// opening that path would therefore destroy what may be the only copy of committed transactions
/// (sqlite.org/howtocorrupt.html 1.4, "deleting a hot journal"). Only file metadata is read here.
/// A journal next to an existing empty database is left to SQLite: that is the first transaction of a new database,
/// interrupted, and rolling it back is right.
/// </remarks>
internal static class OrphanedCompanions
{
    /// <summary>The size of a WAL's header (wal.c, WAL_HDRSIZE): a -wal no longer than this holds no frame, nothing to lose.</summary>
    private const int WalHeaderBytes = 32;

    /// <summary>
    /// Why the database at <paramref name="fullPath"/> must not be created or opened, naming the file that would be lost
    /// and what to do; null when no companion holds anything without its database.
    /// </summary>
    internal static string? Problem(string fullPath)
    {
        var files = new DatabaseFiles(fullPath);
        var database = DatabaseFiles.SizeOf(fullPath);
        if (database is > 0)
        {
            return null;
        }

        var name = Path.GetFileName(fullPath);
        if (DatabaseFiles.SizeOf(files.Wal) is > WalHeaderBytes and var wal)
        {
            var what = database is null ? $"'{name}' does not exist" : $"'{name}' is empty (0 bytes)";
            return $"{what}, but its write-ahead log '{files.Wal}' holds {wal:N0} bytes: the WAL of a database whose file was " +
                   "removed, moved or emptied while it had transactions in its WAL, possibly committed ones found nowhere else. " +
                   $"Opening '{name}' would make SQLite delete that WAL, so nothing was opened or changed. Put the database file back " +
                   "next to it (SQLite then replays the WAL into it), or, if that database is gone for good, move " +
                   $"'{Path.GetFileName(files.Wal)}' and '{Path.GetFileName(files.Shm)}' to another folder first.";
        }

        if (database is null && DatabaseFiles.SizeOf(files.Journal) is > 0 and var journal && !Finished(files.Journal))
        {
            return $"'{name}' does not exist, but its rollback journal '{files.Journal}' holds {journal:N0} bytes: the journal of a " +
                   "transaction interrupted in a database whose file was then removed or moved. Creating a new database at this " +
                   "path would make SQLite delete that journal, so nothing was created. Put the database file back next to it " +
                   "(SQLite then rolls the interrupted transaction back), or, if that database is gone for good, move " +
                   $"'{Path.GetFileName(files.Journal)}' to another folder first.";
        }

        return null;
    }

    /// <summary>Whether the journal holds no transaction (<see cref="DatabaseFiles.JournalFinished"/>); one that cannot be read counts as holding one.</summary>
    private static bool Finished(string journal)
    {
        try
        {
            return DatabaseFiles.JournalFinished(journal);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
