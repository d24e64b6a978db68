using Walden.Native;

namespace Walden.Files;

/// <summary>One lock another process holds on a database, as <see cref="LockProbe"/> found it.</summary>
/// <param name="File">The file the lock is on (the database or its -shm).</param>
/// <param name="Lock">Which SQLite lock it is, in words.</param>
/// <param name="Mode">"read" or "write", or "open" for a descriptor that holds no lock.</param>
/// <param name="ProcessId">The process holding it; 0 when it is this process.</param>
internal sealed record LockFinding(string File, string Lock, string Mode, int ProcessId)
{
    /// <summary>
    /// The holder keeps a WAL database in exclusive locking mode (PRAGMA locking_mode=EXCLUSIVE): no other process can read
    /// or write it until that process closes it, so waiting longer does not help.
    /// </summary>
    internal bool ExclusiveWal { get; init; }

    public override string ToString() => ProcessId == 0
        ? $"this process has '{File}' open ({Lock})"
        : Mode == "open"
            ? $"process {ProcessId} has '{Path.GetFileName(File)}' open: {Lock}"
            : $"process {ProcessId} holds a {Mode} lock on '{Path.GetFileName(File)}': {Lock}";
}

/// <summary>
/// Tells whether another process has an SQLite database open, by asking the kernel which POSIX locks
/// are held on SQLite's lock bytes (fcntl F_GETLK; https://www.sqlite.org/lockingv3.html and
/// https://www.sqlite.org/walformat.html#the_wal_index_file_format). Every connection to a WAL
/// database holds a read lock on the -shm "DMS" byte for as long as it is open, so an open WAL
/// connection is always visible, even when idle. A rollback-journal connection holds locks only inside
/// a transaction: an idle one is invisible to locks, so it is looked for by its open descriptor in /proc
/// (<see cref="FindOpenElsewhere"/>). Written by hand because no library exposes F_GETLK.
/// F_GETLK never reports this process's own locks, and opening and closing a descriptor here would drop
/// them, so files this process has open through Walden are refused before any descriptor is opened.
/// </summary>
internal static class LockProbe
{
    private const long PendingByte = 0x40000000;
    private const int SharedSize = 510;
    private const long WalLockOffset = 120;

    private static readonly (long Start, long Length, string Lock)[] DatabaseLocks =
    [
        (PendingByte, 1, "PENDING lock (a writer is about to take the database exclusively)"),
        (PendingByte + 1, 1, "RESERVED lock (a write transaction is in progress)"),
        (PendingByte + 2, SharedSize, "SHARED lock (a transaction is reading the database)"),
    ];

    private static readonly (long Start, long Length, string Lock)[] ShmLocks =
    [
        (WalLockOffset, 1, "the WAL write lock (a write transaction is in progress)"),
        (WalLockOffset + 1, 1, "the WAL checkpoint lock (a checkpoint is running)"),
        (WalLockOffset + 2, 1, "the WAL recovery lock (the WAL is being recovered)"),
        (WalLockOffset + 3, 5, "a WAL read lock (a read transaction is open)"),
        (WalLockOffset + 8, 1, "the WAL connection marker (the database is open in a connection)"),
    ];

    /// <summary>
    /// Returns the first lock held on the database by anyone other than a probe, or null when none is visible.
    /// <paramref name="openingHere"/>: this process is itself opening the file through a WaldenDatabase (registered, no
    /// connection yet), so that registration is not the holder looked for.
    /// </summary>
    internal static LockFinding? FindHolder(string databasePath, bool openingHere = false)
    {
        var files = DatabaseFiles.For(databasePath);
        if (!openingHere && OpenDatabases.Contains(files.Database))
        {
            return new LockFinding(files.Database, "through a WaldenDatabase", "read", 0);
        }

        // F_GETLK cannot see this process's own locks, and closing the probe's descriptor would drop them: a file
        // this process has any descriptor on (the application's own SqliteConnection included) is in use, and is not probed.
        if (files.OpenInThisProcess() is { } open)
        {
            return new LockFinding(open, "through an SQLite connection or another descriptor", "read", 0);
        }

        // The database's EXCLUSIVE lock first: a WAL connection in locking_mode=EXCLUSIVE may still hold the -shm's connection
        // marker from before it switched, and that finding ("open in a connection") would hide that nobody else can read at all.
        return ProbeExclusiveWal(files.Database) ?? ProbeShm(files.Database) ?? Probe(files.Database, DatabaseLocks) ??
            FindOpenElsewhere(files.Database);
    }

    /// <summary>
    /// The process that holds a WAL database's EXCLUSIVE lock (a write lock on the SHARED range, which a WAL connection takes
    /// only in locking_mode=EXCLUSIVE, or for the moment its last connection closes it), or null.
    /// </summary>
    private static unsafe LockFinding? ProbeExclusiveWal(string file)
    {
        if (!File.Exists(file) || FileId.IsOpenInThisProcess(file))
        {
            return null;
        }

        var fd = Posix.Open(file, Posix.ORdOnly);
        if (fd < 0)
        {
            return null;
        }

        try
        {
            if (!IsWalHeader(fd))
            {
                return null;
            }

            // A read lock on the SHARED range conflicts only with a write lock there: SQLite's EXCLUSIVE lock.
            var flock = new Posix.Flock { Type = Posix.FRdLck, Whence = 0, Start = PendingByte + 2, Length = SharedSize };
            if (Posix.Fcntl(fd, Posix.FGetLk, &flock) != 0 || flock.Type != Posix.FWrLck)
            {
                return null;
            }

            return new LockFinding(file, "an EXCLUSIVE lock on a WAL database, which a connection in PRAGMA locking_mode=EXCLUSIVE keeps " +
                "until it closes: no other process can read or write the database meanwhile, and waiting longer does not help; command: " +
                (Checkpointing.WalReaderProcesses.CommandLineOf(flock.Pid) ?? "(unknown)"), "write", flock.Pid) { ExclusiveWal = true };
        }
        finally
        {
            SwapLock.CloseUnlessShared(fd);
        }
    }

    /// <summary>Whether the header says WAL (file format versions 2 at offsets 18 and 19), read through the probe's descriptor.</summary>
    private static bool IsWalHeader(int fd)
    {
        using var handle = new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: false);
        Span<byte> header = stackalloc byte[20];
        try
        {
            return RandomAccess.Read(handle, header, 0) == header.Length && header[18] == 2 && header[19] == 2;
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>
    /// A process that has the database, its -wal or its -journal open without holding any lock: an idle connection in
    /// rollback-journal mode, which no lock probe can see. Found by device and inode through /proc/&lt;pid&gt;/fd (stat follows
    /// each descriptor's link; no descriptor is opened on the file, so no lock of this process is touched). Other users'
    /// processes are visible only to root; elsewhere than Linux, nothing is found.
    /// </summary>
    internal static LockFinding? FindOpenElsewhere(string databasePath)
    {
        if (!Directory.Exists("/proc/self/fd"))
        {
            return null;
        }

        var targets = new Dictionary<FileId, string>();
        foreach (var file in new[] { databasePath, databasePath + "-wal", databasePath + "-journal" })
        {
            if (FileId.Of(file) is { } id)
            {
                targets[id] = file;
            }
        }

        if (targets.Count == 0)
        {
            return null;
        }

        var self = Environment.ProcessId;
        foreach (var processFolder in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(processFolder), out var pid) || pid == self)
            {
                continue;
            }

            IEnumerable<string> descriptors;
            try
            {
                descriptors = Directory.EnumerateFileSystemEntries(Path.Combine(processFolder, "fd")).ToList();
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                continue; // ended meanwhile, or another user's process seen by a user that is not root
            }

            foreach (var descriptor in descriptors)
            {
                if (FileId.Of(descriptor) is { } id && targets.TryGetValue(id, out var file))
                {
                    return new LockFinding(file, $"an open descriptor, with no lock (an idle connection in rollback-journal mode); " +
                        $"command: {Checkpointing.WalReaderProcesses.CommandLineOf(pid) ?? "(unknown)"}", "open", pid);
                }
            }
        }

        return null;
    }

    /// <summary>Throws <see cref="WaldenDatabaseInUseException"/> when the database is in use.</summary>
    internal static void EnsureNotInUse(string databasePath, string operation)
    {
        if (FindHolder(databasePath) is { } finding)
        {
            throw new WaldenDatabaseInUseException(
                $"{operation} refused: '{databasePath}' is in use: {finding}. " +
                "Stop the program that has it open (or dispose its WaldenDatabase) and try again.",
                finding.ProcessId, finding.ToString());
        }
    }

    /// <summary>Whether <paramref name="pid"/> also write-locks the SHARED range: SQLite's EXCLUSIVE lock on the database file.</summary>
    private static unsafe bool IsExclusive(int fd, int pid)
    {
        var flock = new Posix.Flock { Type = Posix.FWrLck, Whence = 0, Start = PendingByte + 2, Length = SharedSize };
        return Posix.Fcntl(fd, Posix.FGetLk, &flock) == 0 && flock.Type == Posix.FWrLck && flock.Pid == pid;
    }

    /// <summary>
    /// Probes only the -shm: used while <see cref="SwapLock"/> holds the database file, whose own descriptor must stay the only one.
    /// </summary>
    internal static LockFinding? ProbeShm(string databasePath) => Probe(databasePath + "-shm", ShmLocks);

    private static unsafe LockFinding? Probe(string file, (long Start, long Length, string Lock)[] regions)
    {
        if (!File.Exists(file))
        {
            return null;
        }

        if (FileId.IsOpenInThisProcess(file))
        {
            return new LockFinding(file, "through an SQLite connection or another descriptor", "read", 0);
        }

        var fd = Posix.Open(file, Posix.ORdOnly);
        if (fd < 0)
        {
            return null; // cannot open it, so cannot probe; SQLite would fail the same way later, with its own message
        }

        try
        {
            foreach (var (start, length, name) in regions)
            {
                // Ask: could we take a write lock here? The kernel answers with the first conflicting lock.
                var flock = new Posix.Flock { Type = Posix.FWrLck, Whence = 0, Start = start, Length = length };
                if (Posix.Fcntl(fd, Posix.FGetLk, &flock) == 0 && flock.Type != Posix.FUnLck)
                {
                    var lockName = start == PendingByte && flock.Type == Posix.FWrLck && IsExclusive(fd, flock.Pid)
                        ? "an EXCLUSIVE lock, which a connection in locking_mode=EXCLUSIVE keeps for as long as it is open (otherwise " +
                          "it is held while a commit is written, or from the moment a large transaction's changes no longer fit in its page cache " +
                          "until it commits or rolls back); command: " +
                          (Checkpointing.WalReaderProcesses.CommandLineOf(flock.Pid) ?? "(unknown)")
                        : name;
                    return new LockFinding(file, lockName, flock.Type == Posix.FWrLck ? "write" : "read", flock.Pid);
                }
            }

            return null;
        }
        finally
        {
            SwapLock.CloseUnlessShared(fd);
        }
    }
}
