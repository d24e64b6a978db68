using Microsoft.Win32.SafeHandles;
using Walden.Native;

namespace Walden.Files;

/// <summary>
/// SQLite's SHARED lock on a database file, taken through a raw descriptor of Walden's own so that the file's first bytes
/// can be read outside SQLite while no other process can write them (sqlite.org/lockingv3.html: a writer needs the EXCLUSIVE
/// lock, which a SHARED lock keeps out). Taken as SQLite takes it (unixLock): a read lock on the PENDING byte, then on the
/// SHARED range, then the PENDING byte released; it fails while another process holds PENDING or EXCLUSIVE, that is while
/// it is writing the file (a commit, or a transaction whose page cache spilled: the first transaction of a new database then
/// leaves pages with no header yet). Same rule as <see cref="DatabaseFiles.OpenRawRead"/>: only while no descriptor of this
/// process is on the file, or closing ours would drop its locks (sqlite.org/howtocorrupt.html 2.2).
/// </summary>
internal sealed class SharedReadLock : IDisposable
{
    private const long PendingByte = 0x40000000;
    private const int SharedFirst = 2; // the SHARED range starts 2 bytes after PENDING (after RESERVED)
    private const int SharedSize = 510;

    private int _fd;

    private SharedReadLock(int fd)
    {
        _fd = fd;
    }

    /// <summary>
    /// Takes the lock, trying again every millisecond up to <paramref name="busyTimeout"/> while another process is writing
    /// the file. Null when it is still writing then (<paramref name="waited"/> says how long this waited). Throws what opening
    /// the file throws (this user may not read it) as <see cref="IOException"/> or <see cref="UnauthorizedAccessException"/>.
    /// </summary>
    internal static SharedReadLock? Take(string path, TimeSpan busyTimeout, out TimeSpan waited)
    {
        DatabaseFiles.EnsureNotOpenInThisProcess(path, "Reading the database header outside SQLite");
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        var fd = Posix.Open(path, Posix.ORdOnly);
        if (fd < 0)
        {
            var errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
            throw errno == 13
                ? new UnauthorizedAccessException($"Access to the path '{path}' is denied.")
                : new IOException($"'{path}' cannot be opened (errno {errno}).");
        }

        var held = new SharedReadLock(fd);
        while (true)
        {
            if (held.TryLock())
            {
                waited = System.Diagnostics.Stopwatch.GetElapsedTime(started);
                return held;
            }

            waited = System.Diagnostics.Stopwatch.GetElapsedTime(started);
            if (waited >= busyTimeout)
            {
                held.Dispose();
                return null;
            }

            Thread.Sleep(1); // as SQLite's own busy handler and the open's switch to WAL wait: no signal exists for a POSIX lock
        }
    }

    /// <summary>The file's length and its first <paramref name="count"/> bytes (fewer when it is shorter), read under the lock.</summary>
    internal (long Length, byte[] Bytes) ReadStart(int count)
    {
        using var handle = new SafeFileHandle(_fd, ownsHandle: false);
        var length = RandomAccess.GetLength(handle);
        var bytes = new byte[(int)Math.Min(count, length)];
        var read = 0;
        while (read < bytes.Length)
        {
            var n = RandomAccess.Read(handle, bytes.AsSpan(read), read);
            if (n == 0)
            {
                break;
            }

            read += n;
        }

        return (length, read == bytes.Length ? bytes : bytes[..read]);
    }

    private unsafe bool TryLock()
    {
        var pending = new Posix.Flock { Type = Posix.FRdLck, Whence = 0, Start = PendingByte, Length = 1 };
        if (Posix.Fcntl(_fd, Posix.FSetLk, &pending) != 0)
        {
            return false; // a writer holds PENDING: it is about to write the file
        }

        var shared = new Posix.Flock { Type = Posix.FRdLck, Whence = 0, Start = PendingByte + SharedFirst, Length = SharedSize };
        var locked = Posix.Fcntl(_fd, Posix.FSetLk, &shared) == 0; // fails while a writer holds EXCLUSIVE
        pending.Type = Posix.FUnLck;
        Posix.Fcntl(_fd, Posix.FSetLk, &pending);
        return locked;
    }

    /// <summary>Releases the lock by closing the descriptor (see <see cref="SwapLock.CloseUnlessShared"/>).</summary>
    public void Dispose()
    {
        var fd = Interlocked.Exchange(ref _fd, -1);
        if (fd >= 0)
        {
            SwapLock.CloseUnlessShared(fd);
        }
    }
}
