namespace Walden.Files;

/// <summary>
/// The files that make up one SQLite database: the database itself and its -wal, -shm and -journal
/// companions. Sizes come from file metadata only; Walden never reads these files outside SQLite.
/// </summary>
internal sealed record DatabaseFiles(string Database)
{
    internal string Wal => Database + "-wal";

    internal string Shm => Database + "-shm";

    internal string Journal => Database + "-journal";

    /// <summary>The companions, in the order they must be moved away before the database itself.</summary>
    internal IEnumerable<string> Companions => [Wal, Shm, Journal];

    internal static DatabaseFiles For(string path) => new(Path.GetFullPath(path));

    /// <summary>
    /// What the database, its -wal and its -journal look like from their metadata (identity, length, last write; an
    /// empty companion counts as none):
    /// equal fingerprints taken before and after a long read mean nobody wrote to them in between.
    /// </summary>
    internal string Fingerprint() => string.Join(";", new[] { Database, Wal, Journal }.Select(path =>
    {
        // An empty -wal or -journal holds nothing: SQLite creates and truncates them when merely reading.
        var file = new FileInfo(path);
        return file.Exists && (file.Length > 0 || path == Database)
            ? $"{FileId.Of(path)}/{file.Length}/{file.LastWriteTimeUtc.Ticks}"
            : "-";
    }));

    /// <summary>
    /// The first of the database, -wal, -shm and -journal that this process has a descriptor on (an SQLite
    /// connection of Walden's or of the application, or anything else), by device and inode; null when none.
    /// </summary>
    internal string? OpenInThisProcess()
    {
        var open = FileId.OpenDescriptors();
        return Companions.Prepend(Database).FirstOrDefault(path => FileId.Of(path) is { } id && open.Contains(id));
    }

    /// <summary>
    /// Opens a database file (or one of its companions) for reading outside SQLite, which is safe only while no
    /// descriptor of this process is on it: closing ours would drop every POSIX lock this process holds on the
    /// file, an SQLite connection's included (sqlite.org/howtocorrupt.html 2.2). Checked by device and inode
    /// through /proc/self/fd just before opening, so a plain SqliteConnection the application opened itself is seen too.
    /// </summary>
    /// <exception cref="WaldenDatabaseInUseException">This process has the file open.</exception>
    internal static FileStream OpenRawRead(string path, string operation, FileOptions options = FileOptions.None)
    {
        EnsureNotOpenInThisProcess(path, operation);
        return new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16, options);
    }

    /// <summary>
    /// SQLite's own test (pager.c hasHotJournal): a journal whose first byte is zero holds no transaction (finished, or a
    /// PERSIST journal after its commit). A journal carries no lock of SQLite's, so reading it drops none.
    /// </summary>
    /// <exception cref="IOException">The journal cannot be read.</exception>
    /// <exception cref="UnauthorizedAccessException">This user may not read it.</exception>
    internal static bool JournalFinished(string journal)
    {
        try
        {
            using var stream = new FileStream(journal, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            return stream.ReadByte() is 0 or -1;
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            // Gone since its size was read: a live writer committed (or rolled back) and deleted it. No journal, nothing to do.
            return true;
        }
    }

    /// <summary>Copies a database file (or a companion) outside SQLite, under the same rule as <see cref="OpenRawRead"/>.</summary>
    internal static void CopyRaw(string from, string to, string operation)
    {
        EnsureNotOpenInThisProcess(from, operation);
        File.Copy(from, to);
    }

    /// <summary>Throws when this process has a descriptor on <paramref name="path"/>'s database, -wal, -shm or -journal.</summary>
    /// <exception cref="WaldenDatabaseInUseException">This process has one of them open.</exception>
    internal static void EnsureNotOpenInThisProcess(string path, string operation)
    {
        var files = For(path);
        if (files.OpenInThisProcess() is { } open)
        {
            throw InUseHere(open, operation);
        }
    }

    internal static WaldenDatabaseInUseException InUseHere(string open, string operation) => new(
        $"{operation} refused: this process has '{open}' open (an SQLite connection or another descriptor). Walden never reads, " +
        "copies or replaces a file its own process holds outside SQLite: closing that descriptor would drop the connection's locks. " +
        "Dispose the WaldenDatabase and close every SqliteConnection on it (SqliteConnection.ClearAllPools()), then try again.",
        0, $"this process has '{open}' open");

    /// <summary>
    /// The size of a file from its metadata, or null when it does not exist: the one way Walden measures
    /// a database, -wal or -shm file. It never opens the file (closing any descriptor on a database file
    /// would drop this process's POSIX locks on it: sqlite.org/howtocorrupt.html, section 2.2).
    /// </summary>
    /// <remarks>A symbolic link is followed, as SQLite follows it: the size is the target's, null when the link dangles.</remarks>
    internal static long? SizeOf(string path)
    {
        FileSystemInfo file = new FileInfo(path);
        if (file.LinkTarget is not null)
        {
            file = file.ResolveLinkTarget(returnFinalTarget: true)!;
        }

        return file is FileInfo { Exists: true } found ? found.Length : null;
    }

    /// <summary>The companion files SQLite keeps beside a database, by suffix, with what each is.</summary>
    private static readonly (string Suffix, string What)[] CompanionKinds =
    [
        ("-wal", "write-ahead log (-wal)"),
        ("-shm", "shared-memory index (-shm)"),
        ("-journal", "rollback journal (-journal)"),
    ];

    /// <summary>
    /// Why <paramref name="folder"/>, passed where a folder is to be written (a backup folder), must not be used: its name is that of
    /// the -wal, -shm or -journal of a database beside it. SQLite opens the companion by that name, so a folder there makes the
    /// database fail to open ('disk I/O error', 'unable to open database file') for every program. Null when the name is free of that.
    /// </summary>
    internal static string? FolderCompanionProblem(string folder, string what)
    {
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(folder));
        var name = Path.GetFileName(full);
        foreach (var (suffix, kind) in CompanionKinds)
        {
            if (name.EndsWith(suffix, StringComparison.Ordinal) && name.Length > suffix.Length && File.Exists(full[..^suffix.Length]))
            {
                var database = full[..^suffix.Length];
                return $"{what} '{full}' is named like the {kind} of the database '{database}': SQLite opens that name as the database's " +
                    "companion, and a folder there would make every program fail to open the database ('disk I/O error'). Nothing was " +
                    $"created or changed. Choose a folder whose name does not end in -wal, -shm or -journal, such as '{database}-backups'.";
            }
        }

        return null;
    }

    /// <summary>
    /// Why <paramref name="path"/>, passed where a database belongs, is not one: a -wal, -shm or -journal that SQLite keeps
    /// beside a database (the user typed the companion's name, or a shell completed it); null when it is no companion.
    /// A companion is recognised by its name and its database beside it, from metadata only (the -wal or -shm of a database
    /// in use must not be opened outside SQLite). Without that database, a file of such a name is read for its first 16
    /// bytes (nobody can be using it as a companion then): one that starts as an SQLite database is a database named so.
    /// A path that does not exist yet is refused when <paramref name="creates"/>: SQLite would take a database of that name
    /// for the companion of another.
    /// </summary>
    internal static string? CompanionProblem(string path, bool creates = false)
    {
        var full = Path.GetFullPath(path);
        // A symbolic link to a companion is that companion: SQLite opens the target (and keeps its companions beside it).
        if (File.Exists(full) && OpenErrors.RealPath(full) is { } real && !string.Equals(real, full, StringComparison.Ordinal) &&
            CompanionProblem(real, creates) is { } viaLink)
        {
            return $"'{full}' is a symbolic link to '{real}': {viaLink}";
        }

        var name = Path.GetFileName(full);
        foreach (var (suffix, what) in CompanionKinds)
        {
            if (!name.EndsWith(suffix, StringComparison.Ordinal) || name.Length == suffix.Length)
            {
                continue;
            }

            var database = full[..^suffix.Length];
            if (File.Exists(database) && creates && !File.Exists(full))
            {
                // A new file to write (an output, a restore target): the database beside it is not what the user meant to write.
                return $"'{full}' names the {what} of the database '{database}', a companion file SQLite keeps beside it: a database " +
                    "written there would be taken by SQLite for that database's companion, and overwritten or deleted. Choose a name " +
                    "that does not end in -wal, -shm or -journal.";
            }

            if (File.Exists(database))
            {
                var verb = File.Exists(full) ? "is" : "names";
                return $"'{full}' {verb} the {what} of the database '{database}', a companion file SQLite keeps beside it, not a database. " +
                    $"Pass the database itself: '{database}'.";
            }

            if (File.Exists(full))
            {
                if (StartsAsDatabase(full))
                {
                    return null;
                }

                return $"'{full}' is named as the {what} of the database '{database}', which does not exist, and it is not an SQLite " +
                    "database itself. Pass the database file; if the database was moved or deleted, keep this file with it: a -wal or " +
                    "-journal may hold transactions the database needs.";
            }

            return creates
                ? $"'{full}' is named as the {what} of a database '{database}': were that database ever created, SQLite would take " +
                  "this file for its companion and overwrite or delete it. Choose a name that does not end in -wal, -shm or -journal."
                : null;
        }

        return null;
    }

    private static bool StartsAsDatabase(string path)
    {
        try
        {
            var magic = "SQLite format 3\0"u8;
            var start = new byte[magic.Length];
            using var stream = OpenRawRead(path, "Reading the first bytes of a file named like a companion");
            return stream.ReadAtLeast(start, start.Length, throwOnEndOfStream: false) == start.Length && magic.SequenceEqual(start);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or WaldenDatabaseInUseException)
        {
            return true; // unreadable here: let the command's own open say why
        }
    }
}
