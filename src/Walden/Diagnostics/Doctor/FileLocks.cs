using System.Globalization;
using Walden.Files;

namespace Walden.Diagnostics.Doctor;

/// <summary>One POSIX lock a process holds, as /proc/locks shows it.</summary>
/// <param name="ProcessId">The process holding it.</param>
/// <param name="Write">True for a write (exclusive) lock, false for a read (shared) one.</param>
/// <param name="Start">The first byte locked.</param>
/// <param name="End">The last byte locked (long.MaxValue for "to the end of the file").</param>
internal sealed record FileLock(int ProcessId, bool Write, long Start, long End)
{
    internal bool Covers(long offset) => Start <= offset && offset <= End;
}

/// <summary>
/// The POSIX locks held on a file, from /proc/locks (matched by device and inode; no descriptor is opened, so nobody's
/// locks are touched). SQLite's locks are byte ranges: on a WAL database's -shm, bytes 120 (write), 121 (checkpoint),
/// 122 (recovery), 123 to 127 (read marks 0 to 4) and 128 (held shared by every open connection); on the database,
/// PENDING, RESERVED and the SHARED range at 1 GiB (sqlite.org/walformat.html, sqlite.org/lockingv3.html).
/// What locks cannot tell: when a lock was taken, and anything about a process in another PID namespace.
/// </summary>
internal static class FileLocks
{
    internal const long ShmWriteLock = 120;
    internal const long ShmCheckpointLock = 121;
    internal const long ShmFirstReadMark = 123;
    internal const long ShmConnectionMarker = 128;
    internal const long PendingByte = 0x40000000;
    internal const long ReservedByte = 0x40000001;

    /// <summary>The granted POSIX locks on <paramref name="path"/>'s file; empty when it does not exist or /proc/locks cannot be read.</summary>
    internal static IReadOnlyList<FileLock> On(string path) => OnAny([path]);

    /// <summary>The granted POSIX locks on any of <paramref name="paths"/> (one read of /proc/locks).</summary>
    internal static IReadOnlyList<FileLock> OnAny(IEnumerable<string> paths) => OnAny(paths, flock: false);

    /// <summary>
    /// The granted flock(2) locks on <paramref name="path"/>'s file (whole-file locks, such as .NET's <see cref="FileShare.None"/>
    /// on Linux and <see cref="Files.OwnerLock"/>); empty when it does not exist or /proc/locks cannot be read.
    /// </summary>
    internal static IReadOnlyList<FileLock> FlocksOn(string path) => OnAny([path], flock: true);

    private static IReadOnlyList<FileLock> OnAny(IEnumerable<string> paths, bool flock)
    {
        var files = paths.Select(FileId.Of).OfType<FileId>()
            .Select(id => (Major: (long)(((id.Device >> 8) & 0xfff) | ((id.Device >> 32) & 0xfffff000)),
                Minor: (long)((id.Device & 0xff) | ((id.Device >> 12) & 0xffffff00)), id.Inode)) // glibc's gnu_dev_major / minor
            .ToList();
        if (files.Count == 0)
        {
            return [];
        }

        string[] lines;
        try
        {
            lines = File.ReadAllLines("/proc/locks");
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return [];
        }

        return lines.SelectMany(line => files.Select(f => Parse(line, f.Major, f.Minor, f.Inode, flock))).OfType<FileLock>().ToList();
    }

    /// <summary>
    /// A line such as <c>1: POSIX  ADVISORY  READ 2155 fe:00:11657390 124 124</c>, when it is a granted POSIX lock on the file
    /// (or, with <paramref name="flock"/>, a flock such as <c>2: FLOCK  ADVISORY  WRITE 2155 fe:00:11657391 0 EOF</c>).
    /// </summary>
    internal static FileLock? Parse(string line, long major, long minor, ulong inode, bool flock = false)
    {
        var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        // A waiting request has "->" after the number, which shifts the fields: it is not a lock held, so it is skipped.
        if (fields.Length < 8 || (flock ? fields[1] is not "FLOCK" : fields[1] is not ("POSIX" or "OFDLCK")) || fields[3] is not ("READ" or "WRITE"))
        {
            return null;
        }

        var id = fields[5].Split(':');
        if (id.Length != 3
            || !long.TryParse(id[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var lockMajor)
            || !long.TryParse(id[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var lockMinor)
            || !ulong.TryParse(id[2], NumberStyles.None, CultureInfo.InvariantCulture, out var lockInode)
            || lockMajor != major || lockMinor != minor || lockInode != inode
            || !int.TryParse(fields[4], NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var pid)
            || !long.TryParse(fields[6], NumberStyles.None, CultureInfo.InvariantCulture, out var start))
        {
            return null;
        }

        var end = fields[7] == "EOF" ? long.MaxValue
            : long.TryParse(fields[7], NumberStyles.None, CultureInfo.InvariantCulture, out var last) ? last : start;
        return new FileLock(pid, fields[3] == "WRITE", start, end);
    }
}
