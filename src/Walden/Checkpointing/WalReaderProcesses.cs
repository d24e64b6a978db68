using System.Globalization;
using System.Runtime.InteropServices;

namespace Walden.Checkpointing;

/// <summary>One process that holds a read transaction on the WAL (a shared lock on a read-mark byte of the <c>-shm</c>).</summary>
/// <param name="ProcessId">Its process id, as /proc/locks shows it.</param>
/// <param name="CommandLine">Its command line from /proc/&lt;pid&gt;/cmdline, or null when it cannot be read.</param>
internal sealed record WalReaderProcess(int ProcessId, string? CommandLine)
{
    public override string ToString() => CommandLine is { } command ? $"process {ProcessId} ({command})" : $"process {ProcessId}";
}

/// <summary>
/// Finds the processes that hold read transactions on a WAL database: each reader keeps a shared POSIX lock on
/// one of the read-mark bytes of the <c>-shm</c> (offsets 123 to 127, sqlite.org/walformat.html) for as long as its
/// snapshot is open, and a RESTART or TRUNCATE checkpoint must wait for all of them. It reads /proc/locks and
/// matches the <c>-shm</c>'s device and inode, taken with stat(2): no file descriptor is opened on the <c>-shm</c>
/// (closing one would drop this process's own SQLite locks on it). Linux only; elsewhere it finds nobody.
/// </summary>
internal static unsafe partial class WalReaderProcesses
{
    /// <summary>
    /// The lock byte of read mark 0. Its readers read the database file alone, yet a checkpoint must lock it to copy any
    /// frame into that file, so they block checkpoints as much as the readers of marks 1 to 4 (bytes 124 to 127).
    /// </summary>
    private const long FirstReadMark = 120 + 3;
    private const long LastReadMark = 120 + 7;
    private const int MaxCommandLength = 200;

    /// <summary>The processes holding a WAL read mark of <paramref name="database"/> (this one included), in process id order.</summary>
    internal static IReadOnlyList<WalReaderProcess> Find(string database)
    {
        if (!OperatingSystem.IsLinux() || !TryDeviceAndInode(database + "-shm", out var major, out var minor, out var inode))
        {
            return [];
        }

        string[] lines;
        try
        {
            lines = File.ReadAllLines("/proc/locks");
        }
        catch (IOException)
        {
            return [];
        }
        catch (UnauthorizedAccessException)
        {
            return [];
        }

        var pids = new SortedSet<int>();
        foreach (var line in lines)
        {
            if (ParseReadLock(line, major, minor, inode) is { } pid && pid > 0)
            {
                pids.Add(pid);
            }
        }

        return pids.Select(pid => new WalReaderProcess(pid, CommandLineOf(pid))).ToList();
    }

    /// <summary>Names the processes for a message: "process 1234 (python3 reader.py)", or a sentence when none was found.</summary>
    internal static string Describe(IReadOnlyList<WalReaderProcess> readers) => readers.Count == 0
        ? "no other process was found holding a read lock on the -shm"
        : string.Join(", ", readers);

    /// <summary>
    /// A line of /proc/locks such as <c>1: POSIX  ADVISORY  READ 2155 fe:00:11657390 124 124</c>; the pid when it is a
    /// granted shared POSIX lock on the given file that covers a read mark, else null.
    /// </summary>
    internal static int? ParseReadLock(string line, long major, long minor, ulong inode)
    {
        var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        // "N:" "POSIX" "ADVISORY" "READ" pid dev:ino start end; a waiting request has "->" after the number.
        if (fields.Length < 8 || fields[1] != "POSIX" || fields[3] != "READ")
        {
            return null;
        }

        var id = fields[5].Split(':');
        if (id.Length != 3 ||
            !long.TryParse(id[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var lockMajor) ||
            !long.TryParse(id[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var lockMinor) ||
            !ulong.TryParse(id[2], NumberStyles.None, CultureInfo.InvariantCulture, out var lockInode) ||
            lockMajor != major || lockMinor != minor || lockInode != inode)
        {
            return null;
        }

        if (!long.TryParse(fields[6], NumberStyles.None, CultureInfo.InvariantCulture, out var start))
        {
            return null;
        }

        var end = fields[7] == "EOF" ? long.MaxValue
            : long.TryParse(fields[7], NumberStyles.None, CultureInfo.InvariantCulture, out var last) ? last : -1;
        if (start > LastReadMark || end < FirstReadMark)
        {
            return null;
        }

        return int.TryParse(fields[4], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var pid) ? pid : null;
    }

    /// <summary>The command line of process <paramref name="pid"/> for a log line (one line, at most 200 characters), or null.</summary>
    internal static string? CommandLineOf(int pid)
    {
        try
        {
            var raw = File.ReadAllText($"/proc/{pid.ToString(CultureInfo.InvariantCulture)}/cmdline");
            // Arguments are NUL-separated; control characters (a script passed with -c) would break a log line.
            var command = string.Join(' ', raw.Split('\0', StringSplitOptions.RemoveEmptyEntries))
                .Trim().ReplaceLineEndings(" ").Replace('\t', ' ');
            if (command.Length == 0)
            {
                return null;
            }

            return command.Length <= MaxCommandLength ? command : string.Concat(command.AsSpan(0, MaxCommandLength), "...");
        }
        catch (IOException)
        {
            return null; // it ended meanwhile
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>stat(2) of the path (no descriptor is opened); st_dev and st_ino lead struct stat on x86_64 and arm64 alike.</summary>
    private static bool TryDeviceAndInode(string path, out long major, out long minor, out ulong inode)
    {
        major = minor = 0;
        inode = 0;
        var buffer = stackalloc ulong[32]; // struct stat is 144 (x86_64) or 128 (arm64) bytes
        if (Stat(path, buffer) != 0)
        {
            return false;
        }

        var device = buffer[0];
        // glibc's gnu_dev_major / gnu_dev_minor; /proc/locks prints the kernel's MAJOR:MINOR of the same device.
        major = (long)(((device >> 8) & 0xfff) | ((device >> 32) & 0xfffff000));
        minor = (long)((device & 0xff) | ((device >> 12) & 0xffffff00));
        inode = buffer[1];
        return true;
    }

    [LibraryImport("libc", EntryPoint = "stat", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int Stat(string path, ulong* buffer);
}
