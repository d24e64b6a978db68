using Microsoft.Win32.SafeHandles;
using Walden.Native;

namespace Walden.Files;

/// <summary>
/// Holds SQLite's own EXCLUSIVE lock on a database file while Walden moves it aside or renames another file over
/// it: a POSIX write lock on the PENDING, RESERVED and SHARED bytes (sqlite.org/lockingv3.html), the lock every
/// SQLite connection, in rollback-journal or WAL mode, must get past before it can read or write. So while the
/// swap runs, no connection in any process can begin a transaction on the old file; a connection waiting for it
/// gets SQLITE_BUSY.
/// What is guaranteed, precisely:
/// <list type="bullet">
/// <item>The lock is taken only when no other process holds any SQLite lock on the database or its -shm (an open WAL
/// connection always holds the -shm's connection marker), checked before and again after taking it; otherwise
/// <see cref="WaldenDatabaseInUseException"/>.</item>
/// <item>It is refused while this process has any descriptor on the database, -wal, -shm or -journal (a WaldenDatabase
/// or the application's own SqliteConnection): POSIX locks belong to the process, so a lock of ours would be one
/// of theirs, and closing our descriptor would drop theirs (sqlite.org/howtocorrupt.html 2.2).</item>
/// <item>Not covered: a rollback-journal connection of another process that opened the old file before the swap and
/// is idle holds no lock, so nobody can see it. After the swap SQLite itself refuses its writes
/// (SQLITE_READONLY_DBMOVED) and its reads see the old file, now in quarantine.</item>
/// </list>
/// </summary>
internal sealed class SwapLock : IDisposable
{
    private const long PendingByte = 0x40000000;
    private const long LockedBytes = 2 + 510; // PENDING, RESERVED and the SHARED range

    /// <summary>Descriptors never closed because another descriptor of this process was opened on the same file meanwhile.</summary>
    private static readonly List<int> Parked = [];

    private int _fd;

    private SwapLock(int fd)
    {
        _fd = fd;
    }

    /// <summary>Test seam: raised with the database path while the lock is held, before any file moves.</summary>
    internal static event Action<string>? Holding;

    /// <summary>
    /// Takes the lock, or throws <see cref="WaldenDatabaseInUseException"/> naming who is in the way. A database that
    /// does not exist yet gets an empty lock (there is nothing anyone could have open).
    /// </summary>
    internal static unsafe SwapLock Take(string databasePath, string operation)
    {
        var files = DatabaseFiles.For(databasePath);
        LockProbe.EnsureNotInUse(files.Database, operation); // while this process holds nothing on the file
        if (!File.Exists(files.Database))
        {
            return new SwapLock(-1);
        }

        var fd = Posix.Open(files.Database, Posix.ORdWr);
        if (fd < 0)
        {
            throw new WaldenException(
                $"{operation} refused: '{files.Database}' cannot be opened for writing to lock it " +
                $"(errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()}). " +
                "Give this user write permission on the database file.");
        }

        var held = new SwapLock(fd);
        try
        {
            var flock = new Posix.Flock { Type = Posix.FWrLck, Whence = 0, Start = PendingByte, Length = LockedBytes };
            if (Posix.Fcntl(fd, Posix.FSetLk, &flock) != 0)
            {
                throw new WaldenDatabaseInUseException(
                    $"{operation} refused: another process took a lock on '{files.Database}' a moment ago (it began a transaction). " +
                    "Stop the program that has it open and try again.", -1, "a lock on the database file");
            }

            // A WAL connection of another process that opened the file after the probe above holds the -shm's marker.
            if (LockProbe.ProbeShm(files.Database) is { } finding)
            {
                throw new WaldenDatabaseInUseException(
                    $"{operation} refused: '{files.Database}' is in use: {finding}. Stop the program that has it open and try again.",
                    finding.ProcessId, finding.ToString());
            }

            // Ours is the one descriptor this process may have on these files.
            var open = files.Companions.FirstOrDefault(FileId.IsOpenInThisProcess)
                ?? (FileId.Of(files.Database) is { } id && FileId.DescriptorsOn(id) > 1 ? files.Database : null);
            if (open is not null)
            {
                throw DatabaseFiles.InUseHere(open, operation);
            }

            Holding?.Invoke(files.Database);
            return held;
        }
        catch
        {
            held.Dispose();
            throw;
        }
    }

    /// <summary>Copies the locked database through the lock's own descriptor (opening another would drop the lock when closed).</summary>
    internal void CopyDatabaseTo(string destination)
    {
        using var handle = new SafeFileHandle(_fd, ownsHandle: false);
        using var input = new FileStream(handle, FileAccess.Read, 0);
        input.Position = 0;
        using var output = new FileStream(destination, FileMode.CreateNew, FileAccess.Write);
        input.CopyTo(output);
        output.Flush(flushToDisk: true);
    }

    /// <summary>Releases the lock by closing its descriptor.</summary>
    public void Dispose()
    {
        var fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0)
        {
            CloseUnlessShared(fd);
        }
    }

    /// <summary>
    /// Closes a raw descriptor of Walden's own, unless another descriptor of this process was opened on the same file
    /// meanwhile (an SQLite connection the application opened just then): closing ours would drop that connection's
    /// locks, so ours is kept open for the life of the process instead.
    /// </summary>
    internal static void CloseUnlessShared(int fd)
    {
        if (FileId.Of($"/proc/self/fd/{fd}") is { } id && FileId.DescriptorsOn(id) > 1)
        {
            lock (Parked)
            {
                Parked.Add(fd);
            }

            return;
        }

        Posix.Close(fd);
    }
}
