using System.Runtime.InteropServices;

namespace Walden.Native;

/// <summary>
/// The few libc calls Walden needs that .NET does not expose: fcntl(F_GETLK) to see SQLite's POSIX
/// locks held by other processes, and fsync of a directory so a rename survives a power loss.
/// </summary>
internal static unsafe partial class Posix
{
    // Every descriptor Walden opens is close-on-exec (O_CLOEXEC, Linux's value): a child process started by another
    // thread at that moment must never inherit a descriptor on a database, or it would hold the file open after the probe
    // closed its own (seen as an idle connection by LockProbe.FindOpenElsewhere).
    private const int OCloExec = 0x80000;
    internal const int ORdOnly = 0 | OCloExec;
    internal const int ORdWr = 2 | OCloExec;
    internal const int FGetLk = 5;
    internal const int FSetLk = 6;
    internal const short FRdLck = 0;
    internal const short FWrLck = 1;
    internal const short FUnLck = 2;

    /// <summary>struct flock on 64-bit Linux (x86_64 and arm64 share this layout).</summary>
    [StructLayout(LayoutKind.Sequential)]
    internal struct Flock
    {
        public short Type;
        public short Whence;
        public long Start;
        public long Length;
        public int Pid;
    }

    [LibraryImport("libc", EntryPoint = "open", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int Open(string path, int flags);

    [LibraryImport("libc", EntryPoint = "close", SetLastError = true)]
    internal static partial int Close(int fd);

    [LibraryImport("libc", EntryPoint = "fcntl", SetLastError = true)]
    internal static partial int Fcntl(int fd, int command, Flock* flock);

    [LibraryImport("libc", EntryPoint = "fsync", SetLastError = true)]
    internal static partial int Fsync(int fd);

    [LibraryImport("libc", EntryPoint = "fdatasync", SetLastError = true)]
    internal static partial int Fdatasync(int fd);

    /// <summary>
    /// stat(2) into a buffer of <see cref="StatBufferBytes"/>: on 64-bit Linux (x86_64 and arm64, glibc 2.33+ exports
    /// <c>stat</c>) st_dev is the first 8 bytes and st_ino the next 8; nothing else is read.
    /// </summary>
    [LibraryImport("libc", EntryPoint = "stat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int Stat(string path, byte* buffer);

    internal const int StatBufferBytes = 256;

    /// <summary>access(2): 0 when this process may do <paramref name="mode"/> on <paramref name="path"/>.</summary>
    [LibraryImport("libc", EntryPoint = "access", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int Access(string path, int mode);

    /// <summary>W_OK | X_OK: a folder files can be created in.</summary>
    internal const int WriteAndExecute = 2 | 1;

    /// <summary>chown(2): 0 when done; only root may give a file to another user.</summary>
    [LibraryImport("libc", EntryPoint = "chown", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int Chown(string path, uint owner, uint group);

    [LibraryImport("libc", EntryPoint = "link", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    internal static partial int Link(string existingPath, string newPath);

    private const int EInval = 22;

    /// <summary>
    /// fsync(2) as the process resolves it for every library in it (its global symbol scope), where an LD_PRELOAD library
    /// placed before libc is seen: the tests fail it that way, as a failing disk would.
    /// </summary>
    private static readonly delegate* unmanaged<int, int> GlobalFsync =
        (delegate* unmanaged<int, int>)NativeLibrary.GetExport(NativeLibrary.GetMainProgramHandle(), "fsync");

    /// <summary>Makes renames and creations in <paramref name="directory"/> durable.</summary>
    /// <exception cref="IOException">The fsync failed (EIO: the disk failed; the renames may not survive a power loss).</exception>
    internal static void FsyncDirectory(string directory)
    {
        var fd = Open(directory, ORdOnly);
        if (fd < 0)
        {
            return; // best effort: some file systems refuse to open a directory; the renames still happened
        }

        try
        {
            if (GlobalFsync(fd) != 0 && Marshal.GetLastSystemError() is var errno && errno != EInval) // EINVAL: cannot sync a folder
            {
                throw new IOException(
                    $"The fsync of the folder '{directory}' failed: {Marshal.GetPInvokeErrorMessage(errno)} (errno {errno}).", errno);
            }
        }
        finally
        {
            Close(fd);
        }
    }
}
