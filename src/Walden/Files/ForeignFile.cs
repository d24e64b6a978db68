using Microsoft.Data.Sqlite;
using Walden.Configuration;

namespace Walden.Files;

/// <summary>
/// A read-only view of any program's SQLite file, for the commands that only look at it (check, info,
/// stats). It leaves the user's folder as it found it and never changes the user's files:
/// <list type="bullet">
/// <item>When no process holds the file (<see cref="LockProbe"/>) and SQLite would have to write to read
/// it (a hot rollback journal to roll back, or one a committed multi-database transaction left; a WAL
/// database whose killed writer left a -wal or a -shm, which SQLite would rebuild in place; one without
/// its companions in a folder it cannot write), the database and its journal or -wal are
/// copied into a private folder and SQLite opens the copy: it rolls back or recovers there, and the copy
/// is deleted at the end. The copy is checked against the original afterwards (size, time stamp, no new
/// lock holder), so a program that opened the file meanwhile is reported.</item>
/// <item>A closed WAL database (no -wal, no -shm, nobody holding it) is opened in place read-write but
/// query_only: SQLite has to create an empty -wal and -shm to read it, and, being the last connection
/// to close, removes them again under its own exclusive lock (a read-only connection would leave them).</item>
/// <item>Otherwise (a live database, or one needing nothing) SQLite opens the file itself, read-only.</item>
/// </list>
/// Every read runs through <see cref="Read{T}"/>, which registers <see cref="StandIns"/> for the
/// application's collations and functions the schema needs.
/// </summary>
internal sealed class ForeignFile : IDisposable
{
    /// <summary>How the notes of a private copy end: true of the reading (WaldenRecovery restates it after an in-place swap).</summary>
    internal const string FilesUnchanged = "your files were not changed";

    private static readonly byte[] JournalMagic = [0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7];
    private readonly string? _copyFolder;
    private readonly BusyHandler _busy;

    private ForeignFile(string path, SqliteConnection connection, BusyHandler busy, string? copyFolder, List<string> notes)
    {
        Path = path;
        Connection = connection;
        _busy = busy;
        _copyFolder = copyFolder;
        FileNotes = notes;
    }

    /// <summary>The user's file (never the private copy: messages name this one).</summary>
    internal string Path { get; }

    internal SqliteConnection Connection { get; }

    internal StandIns StandIns { get; } = new();

    /// <summary>True when SQLite reads a private, rolled-back or recovered copy rather than the file itself.</summary>
    internal bool OnCopy => _copyFolder is not null;

    /// <summary>What was done to read the file and what the user should know; includes the stand-in notes.</summary>
    internal IReadOnlyList<string> Notes => [.. FileNotes, .. StandIns.Notes];

    private List<string> FileNotes { get; }

    /// <summary>Runs a read on the connection, with stand-ins for the application's collations and functions.</summary>
    internal T Read<T>(Func<SqliteConnection, T> read) => StandIns.Retry(Connection, () => read(Connection));

    /// <summary>
    /// Opens <paramref name="path"/> for reading. Throws <see cref="WaldenConfigurationException"/> (missing,
    /// a folder, cannot be opened, with the cause), <see cref="WaldenDatabaseInUseException"/> (changed while
    /// it was being copied) or the translated SQLite error.
    /// </summary>
    internal static ForeignFile Open(string path, TimeSpan busyTimeout)
    {
        var fullPath = System.IO.Path.GetFullPath(path);
        EnsureExists(fullPath);
        if (DatabaseFiles.CompanionProblem(fullPath) is { } companion)
        {
            throw new WaldenConfigurationException(companion);
        }

        if (Integrity.IntegrityChecker.Unreadable(OpenErrors.RealPath(fullPath) ?? fullPath) is { Empty: false } unreadable)
        {
            throw unreadable.NotADatabase
                ? new WaldenConfigurationException(unreadable.Message)
                : new WaldenCorruptException(unreadable.Message, Errors.SqliteErrors.Corrupt, Errors.SqliteErrors.Corrupt);
        }
        // SQLite follows symbolic links and keeps the companions beside the target: so must the inspection and the copy.
        var real = OpenErrors.RealPath(fullPath) ?? fullPath;
        var state = Inspect(real);
        var notes = new List<string>();
        string? folder = null;
        var openPath = fullPath;
        if (state.NeedsCopy)
        {
            folder = Directory.CreateTempSubdirectory("walden-inspect-").FullName;
            try
            {
                openPath = CopyQuietFile(real, folder, state);
            }
            catch (Exception ex) when (Errors.DiskSpace.IsFull(ex))
            {
                Directory.Delete(folder, recursive: true);
                throw PrivateCopyFull(fullPath, folder, ex);
            }
            catch
            {
                Directory.Delete(folder, recursive: true);
                throw;
            }

            notes.AddRange(state.Notes(fullPath));
        }

        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = openPath,
            // The private copy is opened read-write so that SQLite rolls back or recovers it there. The user's file is
            // opened read-write too, but query_only: SQLite leaves CHECK constraints out of a read-only database's schema,
            // so a check on a read-only connection never verifies them (Integrity.SkippedChecks). A closed WAL database is
            // then closed as SQLite closes it, so that SQLite itself, as the last connection, removes the empty -wal and -shm
            // it had to create (under its own exclusive lock); any other is closed without the checkpoint a last
            // connection would run (SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE): nothing reaches the user's file. SQLite opens a file
            // this user may not write read-only, and the check's notes then say what went unverified.
            Mode = SqliteOpenMode.ReadWrite,
            Pooling = false,
            DefaultTimeout = Math.Max(1, (int)Math.Ceiling(busyTimeout.TotalSeconds)),
        }.ToString());
        BusyHandler? busy = null;
        try
        {
            connection.Open();
            if (folder is null && !state.ClosedWal)
            {
                SQLitePCL.raw.sqlite3_db_config(connection.Handle, SQLitePCL.raw.SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, out _);
            }

            // A lock another process holds is waited for up to busyTimeout, as Walden's own connections wait (without a
            // busy handler SQLite gives up at once, and the message would say it waited milliseconds).
            busy = BusyHandler.Install(connection, busyTimeout);
            if (folder is null)
            {
                ConnectionFactory.Execute(connection, "PRAGMA query_only=ON");
            }

            var file = new ForeignFile(fullPath, connection, busy, folder, notes);
            // The first read parses the schema (and, on a copy, rolls back or recovers it); then nothing more is written.
            file.Read(c => ConnectionFactory.Scalar<long>(c, "SELECT count(*) FROM sqlite_schema"));
            ConnectionFactory.Execute(connection, "PRAGMA query_only=ON");
            // The user's file, not a private copy: the bytes past its last page are what the note is about.
            if (Integrity.TrailingBytes.Note(DatabaseFiles.SizeOf(real), ConnectionFactory.Scalar<long>(connection, "PRAGMA page_size"),
                    ConnectionFactory.Scalar<long>(connection, "PRAGMA page_count")) is { } trailing)
            {
                notes.Add(trailing);
            }

            return file;
        }
        catch (SqliteException ex)
        {
            ConnectionFactory.Close(connection, busy);
            DeleteCopy(folder);
            throw OpenErrors.Explain(ex, fullPath, writing: false, new WaldenOptions { BusyTimeout = busyTimeout });
        }
        catch
        {
            ConnectionFactory.Close(connection, busy);
            DeleteCopy(folder);
            throw;
        }
    }

    /// <summary>
    /// For recovery and backup: a private copy of the database as SQLite would see it after rolling back a hot
    /// journal or recovering a WAL a writer left (with or without its -shm), or null when the file needs none
    /// or another process holds it (then it is read in place). The copy is settled (rolled back, or checkpointed
    /// and its -wal removed) in the private folder, so that it is one self-contained file. The caller owns the
    /// returned folder and deletes it. The user's files are never written: SQLite would change them in place.
    /// </summary>
    internal static (string Folder, string Database, IReadOnlyList<string> Notes)? SettledCopy(string path)
    {
        var state = Inspect(path);
        if (!state.NeedsCopy)
        {
            return null;
        }

        var folder = Directory.CreateTempSubdirectory("walden-settle-").FullName;
        try
        {
            var copy = CopyQuietFile(path, folder, state);
            var notes = state.Notes(path);
            try
            {
                var builder = new SqliteConnectionStringBuilder { DataSource = copy, Pooling = false };
                using var connection = new SqliteConnection(builder.ToString());
                connection.Open();
                // The first read rolls the journal back or recovers the WAL; closing the last connection checkpoints it.
                ConnectionFactory.Scalar<long>(connection, "PRAGMA page_count");
            }
            catch (SqliteException ex) when (!Errors.SqliteErrors.IsDiskFault(ex))
            {
                // A damaged file SQLite cannot settle is still worked on as a private copy, as it is (with its journal or -wal).
                notes.Add($"SQLite could not settle the private copy of '{path}' ({ex.Message.TrimEnd('.')}): " +
                    "Walden used the copy as it is.");
            }

            return (folder, copy, notes);
        }
        catch (Exception ex) when (Errors.DiskSpace.IsFull(ex))
        {
            DeleteCopy(folder);
            throw PrivateCopyFull(path, folder, ex);
        }
        catch
        {
            DeleteCopy(folder);
            throw;
        }
    }

    /// <summary>
    /// A full disk while making or settling the private copy: it is the temporary folder's (the copy lives there, never beside
    /// the user's file or in the command's output folder), and the message says so and how to point it elsewhere.
    /// </summary>
    private static WaldenDiskFullException PrivateCopyFull(string path, string copyFolder, Exception inner) =>
        Errors.DiskSpace.TempFolderFull($"Reading '{path}' without changing it", System.IO.Path.GetDirectoryName(copyFolder) ?? copyFolder,
            $"the private copy of the database that Walden reads instead of the file itself ({DatabaseFiles.SizeOf(path) ?? 0:N0} bytes " +
            "plus its journal or -wal)", $"Nothing was changed: '{path}' is untouched, and the partial copy was removed.", inner);

    /// <summary>
    /// Whether <paramref name="path"/> has a journal SQLite must act on before reading (a transaction cut off by a
    /// crash or a kill, or the leftover journal of a committed multi-database transaction): a read-only connection
    /// cannot, so such a file is read on a private copy.
    /// </summary>
    internal static bool HasHotJournal(string path)
    {
        var journal = path + "-journal";
        if (DatabaseFiles.SizeOf(journal) is not > 0 || DatabaseFiles.SizeOf(path) is not > 0)
        {
            return false;
        }

        EnsureCompanionsReadable(path);
        return !DatabaseFiles.JournalFinished(journal);
    }

    /// <summary>
    /// The super-journal a rollback journal names (written at its end when the transaction spanned several
    /// ATTACHed databases: pager.c writeSuperJournal), or null. The transaction committed exactly when that
    /// super-journal no longer exists: then SQLite ignores the journal; otherwise it rolls it back.
    /// </summary>
    internal static string? SuperJournalOf(string journal)
    {
        var length = DatabaseFiles.SizeOf(journal) ?? 0;
        if (length < 28)
        {
            return null;
        }

        FileStream stream;
        try
        {
            stream = new FileStream(journal, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return null; // deleted since its size was read: a live writer's transaction ended
        }

        using var _ = stream;
        var tail = new byte[16];
        stream.Position = length - 16;
        stream.ReadExactly(tail);
        var nameLength = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(tail);
        var checksum = System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(tail.AsSpan(4));
        if (!tail.AsSpan(8).SequenceEqual(JournalMagic) || nameLength is 0 or > 4096 || nameLength > length - 16)
        {
            return null;
        }

        var name = new byte[nameLength];
        stream.Position = length - 16 - nameLength;
        stream.ReadExactly(name);
        uint sum = 0;
        foreach (var b in name)
        {
            sum += b;
        }

        return sum == checksum && name[0] != 0 ? System.Text.Encoding.UTF8.GetString(name).TrimEnd('\0') : null;
    }

    public void Dispose()
    {
        ConnectionFactory.Close(Connection, _busy);
        DeleteCopy(_copyFolder);
    }

    /// <summary>
    /// Throws <see cref="WaldenConfigurationException"/> naming what is wrong when <paramref name="fullPath"/> is no file, or
    /// when it is missing or empty beside a -wal or -journal that SQLite would delete on opening it (<see cref="OrphanedCompanions"/>).
    /// </summary>
    internal static void EnsureExists(string fullPath)
    {
        if (Directory.Exists(fullPath))
        {
            throw new WaldenConfigurationException($"'{fullPath}' is a directory; pass the database file inside it.");
        }

        // Before anything opens it: a named pipe blocks the open forever, and a device reads as an empty or endless file.
        FileKind.EnsureDatabaseFile(fullPath);

        // SQLite keeps the companions beside the target of a link.
        if (OrphanedCompanions.Problem(OpenErrors.RealPath(fullPath) ?? fullPath) is { } orphaned)
        {
            throw new WaldenConfigurationException(orphaned);
        }

        if (!File.Exists(fullPath))
        {
            throw new WaldenConfigurationException(
                new FileInfo(fullPath).LinkTarget is { } target
                    ? $"'{fullPath}' is a symbolic link to '{target}', which does not exist. Check the link."
                    : $"'{fullPath}' does not exist. Check the path.");
        }
    }

    /// <summary>
    /// Whether <paramref name="path"/> is a closed WAL database: WAL in its header, no -wal, -shm or hot journal beside it,
    /// nobody holding it, in a folder this user may write. Reading one read-only makes SQLite create an empty -wal and -shm
    /// and leave them (see <see cref="RemoveReadLeftovers"/>).
    /// </summary>
    internal static bool IsClosedWal(string path) => Inspect(path).ClosedWal;

    /// <summary>
    /// After a closed WAL database (<see cref="IsClosedWal"/>) was read by read-only connections, all of them closed: lets
    /// SQLite remove the empty -wal and -shm it created for them. A read-write, query_only connection reads the header and
    /// closes as the last connection, which removes both under SQLite's own exclusive lock; nothing is deleted by hand, and
    /// nothing happens when the -wal is not empty, a journal appeared, or anyone holds the file (then SQLite keeps them).
    /// </summary>
    internal static void RemoveReadLeftovers(string path)
    {
        if (DatabaseFiles.SizeOf(path + "-wal") is not 0 || File.Exists(path + "-journal") || LockProbe.FindHolder(path) is not null)
        {
            return;
        }

        var builder = new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWrite, Pooling = false };
        try
        {
            using var connection = new SqliteConnection(builder.ToString());
            connection.Open();
            ConnectionFactory.Execute(connection, "PRAGMA query_only=ON");
            ConnectionFactory.Scalar<long>(connection, "PRAGMA user_version"); // a read transaction: SQLite opens the -wal
        }
        catch (SqliteException)
        {
            // A file SQLite cannot read even this far keeps the two empty files; they hold nothing.
        }
    }

    private static FileState Inspect(string path)
    {
        // A file this process (or another) has open with SQLite's locks is read in place: copying it could tear it. A process
        // that only has it open, with no lock (an idle rollback-journal connection, a script holding a descriptor, a writer on
        // a dot-file lock), is not using SQLite's locking on it: the file is judged as if nobody held it, so a hot journal or
        // a killed writer's -wal is read on a private copy (in place, SQLite would roll the journal back or rebuild the -shm in
        // the user's files), and the copy is checked against the original afterwards as any copy is.
        var holder = LockProbe.FindHolder(path);
        var openOnly = holder is { Mode: "open", ProcessId: > 0 };
        if (holder is not null && !openOnly || DatabaseFiles.SizeOf(path) is not >= 100)
        {
            return FileState.InPlace;
        }

        var header = new byte[100];
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
        {
            stream.ReadAtLeast(header, header.Length, throwOnEndOfStream: false);
        }

        var wal = header[18] == 2 || header[19] == 2;
        EnsureCompanionsReadable(path);
        var walBytes = DatabaseFiles.SizeOf(path + "-wal");
        var shm = DatabaseFiles.SizeOf(path + "-shm");
        var hot = HasHotJournal(path);
        var superJournal = hot ? SuperJournalOf(path + "-journal") : null;
        // In place only where SQLite can remove the -wal and -shm it must create to read the file: a read-write connection (so
        // the database file writable: SQLite opens a read-only file read-only, which leaves them) in a folder this user may write.
        var folder = System.IO.Path.GetDirectoryName(path)!;
        var noRoom = Mounts.FreeBytes(folder) is < ClosedWalRoom || Mounts.FreeFiles(folder) is < 2;
        var closedWal = wal && walBytes is null && shm is null && !hot && OpenErrors.IsWritable(path) &&
            OpenErrors.IsWritable(folder) && !noRoom;
        // A WAL database nobody has open but with a -wal or -shm left beside it (its writer was killed) is read on a copy
        // too: SQLite would rebuild the -shm in place to read it, and a read-write connection would also checkpoint into
        // the database and delete the -wal when it closes.
        return new FileState(hot, wal && !closedWal, walBytes ?? 0, DatabaseFiles.SizeOf(path + "-journal") ?? 0, closedWal)
        {
            ShmBytes = shm,
            WalExists = walBytes is not null,
            OpenBy = openOnly ? holder!.ProcessId : null,
            SuperJournal = superJournal,
            NoRoom = wal && walBytes is null && shm is null && noRoom,
            Unwritable = wal && walBytes is null && shm is null ? Mounts.WhyUnwritable(path) ?? Mounts.WhyUnwritable(folder) : null,
        };
    }

    /// <summary>
    /// The room a closed WAL database needs beside it to be read in place: SQLite creates an empty -wal and a -shm it grows to
    /// 32 KiB at once (one page of the wal-index, os_unix.c unixShmMap), plus a margin. With less (or no inode left for the two
    /// files), the file is read on a private copy: in place, SQLite would fail with SQLITE_IOERR_SHMSIZE and leave a 3-byte
    /// -shm and an empty -wal beside the user's file, which no connection could then remove on the full disk.
    /// </summary>
    private const long ClosedWalRoom = 64 * 1024;

    /// <summary>
    /// A -journal or -wal with content that this user may not read: SQLite must read it before the database can be read (roll the
    /// journal back, or take the committed transactions from the -wal), so the database cannot be read as it is. Named here, with
    /// what to change, rather than as whatever folder the command writes into.
    /// </summary>
    private static void EnsureCompanionsReadable(string path)
    {
        foreach (var (companion, what) in new[]
        {
            (path + "-journal", "a rollback journal (a transaction a program left unfinished, which SQLite must roll back before " +
                "the database can be read)"),
            (path + "-wal", "the write-ahead log (it may hold committed transactions that are not in the database file yet)"),
        })
        {
            if (DatabaseFiles.SizeOf(companion) is > 0 && Native.Posix.Access(companion, ReadAccess) != 0)
            {
                throw new WaldenReadOnlyException(
                    $"'{path}' cannot be read as it is: '{companion}' is {what}, and this user ({Environment.UserName}) may not read it " +
                    $"({Mode(companion)}). Run as the user who owns it, or give this user read access to it (the same access as to the " +
                    "database); do not delete it, or the database may be left inconsistent. Nothing was changed.",
                    Errors.SqliteErrors.CantOpen, Errors.SqliteErrors.CantOpen);
            }
        }
    }

    private const int ReadAccess = 4; // R_OK

    private static string Mode(string path) =>
        FileModes.Of(path) is { } mode ? "mode " + Convert.ToString((int)mode, 8).PadLeft(4, '0') : "mode unknown";

    /// <summary>Copies the database and the companion SQLite needs (never the -shm), then checks nobody touched them meanwhile.</summary>
    private static string CopyQuietFile(string path, string folder, FileState state)
    {
        var copy = System.IO.Path.Combine(folder, System.IO.Path.GetFileName(path));
        var companions = new List<string>();
        if (state.HotJournal)
        {
            companions.Add("-journal");
        }

        if (File.Exists(path + "-wal"))
        {
            companions.Add("-wal");
        }

        var before = Stamp(path, companions);
        File.Copy(path, copy);
        foreach (var suffix in companions)
        {
            try
            {
                File.Copy(path + suffix, copy + suffix);
            }
            catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
            {
                // Deleted since it was seen: a live writer ended its transaction; the stamp below says the file changed.
                break;
            }
        }

        // Still only open, with no lock, in the process that had it open before the copy: nobody wrote it meanwhile (the stamp).
        if (Stamp(path, companions) != before ||
            LockProbe.FindHolder(path) is { } holder && holder.ProcessId != 0 && !(holder is { Mode: "open" } && holder.ProcessId == state.OpenBy))
        {
            throw new WaldenDatabaseInUseException(
                $"'{path}' changed while Walden copied it to read it without touching it: another program opened it meanwhile. Try again.",
                LockProbe.FindHolder(path)?.ProcessId ?? 0, "changed during the copy");
        }

        return copy;
    }

    private static string Stamp(string path, List<string> companions) =>
        string.Join('|', new[] { path }.Concat(companions.Select(suffix => path + suffix))
            .Select(file => new FileInfo(file))
            .Select(info => info.Exists ? $"{info.Length}@{info.LastWriteTimeUtc.Ticks}" : "-"));

    private static void DeleteCopy(string? folder)
    {
        if (folder is not null && Directory.Exists(folder))
        {
            Directory.Delete(folder, recursive: true); // our own private copy, never the user's file
        }
    }

    private sealed record FileState(bool HotJournal, bool WalLeftBehind, long WalBytes, long JournalBytes, bool ClosedWal = false)
    {
        internal static readonly FileState InPlace = new(false, false, 0, 0);

        internal long? ShmBytes { get; init; }

        internal bool WalExists { get; init; }

        /// <summary>The process that had the file open, with no lock, when it was inspected (a hot journal beside it).</summary>
        internal int? OpenBy { get; init; }

        /// <summary>The super-journal the hot journal names (a multi-database transaction), or null.</summary>
        internal string? SuperJournal { get; init; }

        /// <summary>A closed WAL database on a file system without room for the -wal and -shm SQLite must create to read it.</summary>
        internal bool NoRoom { get; init; }

        /// <summary>Why nobody can write the file or its folder (a read-only mount, an immutable attribute), or null.</summary>
        internal string? Unwritable { get; init; }

        internal bool NeedsCopy => HotJournal || WalLeftBehind;

        internal List<string> Notes(string path)
        {
            var notes = new List<string>();
            var journal = $"'{System.IO.Path.GetFileName(path)}-journal', {JournalBytes:N0} bytes";
            if (HotJournal && SuperJournal is { } super && !File.Exists(super))
            {
                notes.Add($"'{path}' has a journal ({journal}) left by a transaction over several attached databases that " +
                    $"committed: its super-journal '{super}' is gone, so SQLite ignores the journal. Walden read the committed state " +
                    "on a private copy; " + FilesUnchanged + ". The next program that opens the database read-write deletes " +
                    "the journal.");
            }
            else if (HotJournal && SuperJournal is { } pending)
            {
                notes.Add($"'{path}' has a hot rollback journal ({journal}) of a transaction over several attached databases " +
                    $"that did not commit (its super-journal '{pending}' is still there). Walden rolled it back on a private copy and " +
                    "read the last committed state; " + FilesUnchanged + ". The next program that opens the database read-write " +
                    "rolls the journal back in place.");
            }
            else if (HotJournal)
            {
                notes.Add($"'{path}' has a hot rollback journal ({journal}): a program " +
                    "stopped in the middle of a transaction. Walden rolled it back on a private copy and read the last committed state; " +
                    FilesUnchanged + ". The next program that opens the database read-write rolls the journal back in place.");
            }

            if (WalLeftBehind && WalBytes > 32)
            {
                var shm = ShmBytes is null ? "no -shm" : "a -shm no process has open";
                notes.Add($"'{path}' has a -wal of {WalBytes:N0} bytes and {shm} (its writer stopped without closing): Walden read the " +
                    "committed transactions in it on a private copy; " + FilesUnchanged + ".");
            }
            else if (WalLeftBehind && ShmBytes is not null)
            {
                notes.Add($"'{path}' has a -shm no process has open (its writer stopped without closing): Walden read it on a private copy, " +
                    "since SQLite would rewrite that -shm to read the file in place; " + FilesUnchanged + ".");
            }
            else if (WalLeftBehind && NoRoom && !HotJournal)
            {
                notes.Add($"'{path}' is a closed WAL database on a full file system ({Mounts.DescribeFree(path)}): SQLite would " +
                    "have to create a -wal and a -shm beside it to read it in place and has no room for them. Walden read it on a private " +
                    "copy; " + FilesUnchanged + ".");
            }
            else if (WalLeftBehind && Unwritable is { } why && !HotJournal)
            {
                notes.Add($"'{path}' is a closed WAL database that cannot be read in place: {why} SQLite would have to create a -wal and " +
                    "a -shm beside it (and remove them again) to read it there. Walden read it on a private copy; " + FilesUnchanged + ".");
            }
            else if (WalLeftBehind && !WalExists && !HotJournal)
            {
                notes.Add($"'{path}' is a WAL database that this user may not write, or in a folder it may not write: SQLite would have " +
                    "to create a -wal and -shm beside it to read it in place and could not remove them (or not create them). Walden read " +
                    "it on a private copy; " + FilesUnchanged + ".");
            }

            return notes;
        }
    }
}
