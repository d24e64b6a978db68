using System.Runtime.InteropServices;
using Walden.Native;

namespace Walden.Files;

/// <summary>
/// Walden's own lock file beside a database (<c>&lt;db&gt;.walden-lock</c>), through which the Walden processes on one
/// file agree on who writes next (<see cref="Writing.WriteTurn"/>) and who checkpoints
/// (<see cref="Checkpointing.CheckpointLease"/>). It holds no data of the database and is never deleted: a lock file
/// removed while another process waits on it would let two processes think they hold the same lock.
/// The locks are Linux open-file-description locks (F_OFD_SETLK): owned by this descriptor rather than by the process,
/// so closing another descriptor never drops them (unlike SQLite's POSIX locks), and released by the kernel however the
/// process dies. Processes that are not Walden's never look at this file; SQLite's own locks stay the only ones that
/// keep the database consistent.
/// Layout: byte 0 the queue for the write turn, byte 1 the write turn, byte 2 the checkpoint lease (locks only);
/// bytes 8 to 15 the WAL frame count the last non-holder saw after a commit (data, for the checkpointer).
/// </summary>
internal sealed class CoordinationFile : IDisposable
{
    internal const string Suffix = ".walden-lock";

    /// <summary>
    /// Set to 1 in a process's environment, its Walden instances share files the way Walden did before the lock file (every
    /// process checkpoints, writers meet only at SQLite's lock): what <c>walden bench --scenarios processes</c> compares with.
    /// </summary>
    internal const string DisableVariable = "WALDEN_UNCOORDINATED";
    internal const long QueueByte = 0;
    internal const long TurnByte = 1;
    internal const long CheckpointByte = 2;
    private const long FramesOffset = 8;

    private const int OCreat = 0x40;
    private const int FOfdSetLk = 37;
    private const int FOfdSetLkW = 38;
    private const int EIntr = 4;

    private readonly object _gate = new();
    private int _fd;
    private int _blocked; // threads inside a blocking lock call: the descriptor is closed only after they return
    private bool _closeWhenUnblocked;

    private CoordinationFile(int fd, string path)
    {
        _fd = fd;
        Path = path;
    }

    internal string Path { get; }

    /// <summary>Opens (creating it if needed) the lock file of <paramref name="databasePath"/>; null where it cannot (a read-only folder, not Linux).</summary>
    internal static CoordinationFile? Open(string databasePath)
    {
        if (!OperatingSystem.IsLinux() || Environment.GetEnvironmentVariable(DisableVariable) == "1")
        {
            return null;
        }

        var path = databasePath + Suffix;
        var fd = OpenFile(path, Posix.ORdWr | OCreat, 0x1A4); // rw-r--r--
        return fd < 0 ? null : new CoordinationFile(fd, path);
    }

    /// <summary>Takes the lock on <paramref name="lockByte"/> without waiting; false when another holder has it.</summary>
    internal bool TryLock(long lockByte) => Lock(lockByte, Posix.FWrLck, wait: false);

    /// <summary>Waits (blocking the calling thread, in the kernel's queue) until the lock on <paramref name="lockByte"/> is this file's.</summary>
    /// <returns>False only when the file was closed meanwhile.</returns>
    internal bool LockWaiting(long lockByte)
    {
        lock (_gate)
        {
            if (_fd < 0)
            {
                return false;
            }

            _blocked++;
        }

        try
        {
            return Lock(lockByte, Posix.FWrLck, wait: true);
        }
        finally
        {
            lock (_gate)
            {
                _blocked--;
                if (_blocked == 0 && _closeWhenUnblocked)
                {
                    CloseNow();
                }
            }
        }
    }

    internal void Unlock(long lockByte) => Lock(lockByte, Posix.FUnLck, wait: false);

    /// <summary>Publishes the WAL frame count a commit of this process left (for the checkpoint lease holder).</summary>
    internal void WriteFrames(long value)
    {
        Span<byte> bytes = stackalloc byte[8];
        BitConverter.TryWriteBytes(bytes, value);
        lock (_gate)
        {
            if (_fd >= 0)
            {
                _ = PWrite(_fd, bytes, FramesOffset);
            }
        }
    }

    /// <summary>The last value <see cref="WriteFrames"/> stored (by any process), or 0.</summary>
    internal long ReadFrames()
    {
        Span<byte> bytes = stackalloc byte[8];
        lock (_gate)
        {
            return _fd >= 0 && PRead(_fd, bytes, FramesOffset) == 8 ? BitConverter.ToInt64(bytes) : 0;
        }
    }

    private unsafe bool Lock(long lockByte, short type, bool wait)
    {
        var request = new Posix.Flock { Type = type, Whence = 0, Start = lockByte, Length = 1, Pid = 0 };
        while (true)
        {
            int fd;
            lock (_gate)
            {
                fd = _fd;
            }

            if (fd < 0)
            {
                return false;
            }

            if (Posix.Fcntl(fd, wait ? FOfdSetLkW : FOfdSetLk, &request) == 0)
            {
                return true;
            }

            var errno = Marshal.GetLastPInvokeError();
            if (errno == EIntr)
            {
                continue;
            }

            return false; // EAGAIN/EACCES: held elsewhere; anything else (EINVAL on a kernel without OFD locks): not coordinated
        }
    }

    /// <summary>Closes the descriptor (at once, or when the last blocked lock call returns); the kernel drops every lock on it.</summary>
    public void Dispose()
    {
        lock (_gate)
        {
            if (_blocked > 0)
            {
                _closeWhenUnblocked = true;
                return;
            }

            CloseNow();
        }
    }

    private void CloseNow()
    {
        if (_fd >= 0)
        {
            Posix.Close(_fd);
            _fd = -1;
        }
    }

    [DllImport("libc", EntryPoint = "open", SetLastError = true)]
    private static extern int OpenFile([MarshalAs(UnmanagedType.LPUTF8Str)] string path, int flags, int mode);

    private static unsafe long PWrite(int fd, ReadOnlySpan<byte> bytes, long offset)
    {
        fixed (byte* pointer = bytes)
        {
            return PWriteNative(fd, pointer, (nuint)bytes.Length, offset);
        }
    }

    private static unsafe long PRead(int fd, Span<byte> bytes, long offset)
    {
        fixed (byte* pointer = bytes)
        {
            return PReadNative(fd, pointer, (nuint)bytes.Length, offset);
        }
    }

    [DllImport("libc", EntryPoint = "pwrite", SetLastError = true)]
    private static extern unsafe long PWriteNative(int fd, byte* buffer, nuint count, long offset);

    [DllImport("libc", EntryPoint = "pread", SetLastError = true)]
    private static extern unsafe long PReadNative(int fd, byte* buffer, nuint count, long offset);
}
