using System.Globalization;
using System.Text.RegularExpressions;

namespace Walden.Diagnostics.Doctor;

/// <summary>The file system a path lives on, from /proc/self/mountinfo.</summary>
/// <param name="Type">The type as the kernel names it: ext4, xfs, nfs4, cifs, fuse.sshfs, overlay, 9p, virtiofs, tmpfs...</param>
/// <param name="MountPoint">Where it is mounted.</param>
/// <param name="Source">What is mounted there (a device, a server share).</param>
internal sealed record FileSystemInfo(string Type, string MountPoint, string Source);

/// <summary>How safe a kind of file system is for an SQLite database, and why.</summary>
/// <param name="Severity">Ok, Warning or Danger.</param>
/// <param name="Why">One line: what goes wrong there.</param>
internal sealed record FileSystemVerdict(DoctorSeverity Severity, string Why);

/// <summary>
/// Reads which file system holds a path (the longest mount point in /proc/self/mountinfo that contains it, after symbolic
/// links are resolved) and judges it for SQLite (sqlite.org/howtocorrupt.html section 2, sqlite.org/wal.html "WAL does not
/// work over a network filesystem"). Cheap: one small file read, nothing opened beside it.
/// </summary>
internal static partial class FileSystems
{
    private static readonly string[] NetworkTypes =
        ["nfs", "nfs4", "cifs", "smb3", "smbfs", "afs", "ceph", "glusterfs", "lustre", "gpfs", "ncpfs", "davfs", "coda", "ocfs2", "gfs2"];

    private static readonly string[] NetworkFuse =
        ["fuse.sshfs", "fuse.s3fs", "fuse.gcsfuse", "fuse.rclone", "fuse.goofys", "fuse.juicefs", "fuse.mountpoint-s3", "fuse.glusterfs",
         "fuse.cephfs", "fuse.davfs", "fuse.smbnetfs", "fuse.grpcfuse", "fuse.osxfs", "fuse.vmhgfs-fuse", "fuse.dokan"];

    /// <summary>The file system holding <paramref name="path"/> (a file or folder that exists), or null where mountinfo cannot be read.</summary>
    internal static FileSystemInfo? Of(string path)
    {
        const string mountinfo = "/proc/self/mountinfo";
        if (!File.Exists(mountinfo))
        {
            return null;
        }

        try
        {
            var full = Path.GetFullPath(path);
            return Find(File.ReadAllLines(mountinfo), Files.OpenErrors.RealPath(full) ?? full);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>The mount of <paramref name="path"/> among mountinfo lines: the longest mount point that contains it (the last one wins on ties).</summary>
    internal static FileSystemInfo? Find(IEnumerable<string> mountinfoLines, string path)
    {
        FileSystemInfo? best = null;
        foreach (var line in mountinfoLines)
        {
            var fields = line.Split(' ');
            var dash = Array.IndexOf(fields, "-");
            if (fields.Length < 10 || dash < 6 || dash + 2 >= fields.Length)
            {
                continue;
            }

            var mountPoint = Unescape(fields[4]);
            var inside = mountPoint == "/" || path == mountPoint || path.StartsWith(mountPoint + "/", StringComparison.Ordinal);
            if (inside && (best is null || mountPoint.Length >= best.MountPoint.Length))
            {
                best = new FileSystemInfo(fields[dash + 1], mountPoint, Unescape(fields[dash + 2]));
            }
        }

        return best;
    }

    /// <summary>What SQLite risks on a file system of this type.</summary>
    internal static FileSystemVerdict Judge(string type)
    {
        if (NetworkTypes.Contains(type, StringComparer.Ordinal) || NetworkFuse.Contains(type, StringComparer.Ordinal))
        {
            return new FileSystemVerdict(DoctorSeverity.Danger, $"'{type}' is a network file system: its POSIX locks are often broken or " +
                "not shared between machines, and WAL's shared memory (-shm) cannot be shared between machines at all, so two hosts " +
                "(or a host and this one) can corrupt the database (sqlite.org/howtocorrupt.html 2.1, sqlite.org/wal.html)");
        }

        if (type is "9p" or "virtiofs" or "vboxsf" or "vmhgfs" or "prl_fs" or "drvfs")
        {
            return new FileSystemVerdict(DoctorSeverity.Danger, $"'{type}' is a share between a virtual machine or container and its " +
                "host (WSL's /mnt/c, Docker Desktop, VirtualBox, Parallels): locks and memory-mapped -shm are not kept coherent between " +
                "the two sides, so a program on each side can corrupt the database");
        }

        if (type.StartsWith("fuse", StringComparison.Ordinal))
        {
            return new FileSystemVerdict(DoctorSeverity.Warning, $"'{type}' is a FUSE file system: whether POSIX locks, fsync and " +
                "shared memory really work depends on its implementation; a network-backed one corrupts like NFS");
        }

        if (type is "overlay" or "aufs")
        {
            return new FileSystemVerdict(DoctorSeverity.Warning, $"'{type}' is a container's layered file system: a database from an " +
                "image layer is copied up on its first write, and everything written lives in the container's layer and is lost with it; " +
                "keep databases on a volume");
        }

        if (type is "tmpfs" or "ramfs")
        {
            return new FileSystemVerdict(DoctorSeverity.Warning, $"'{type}' lives in memory: the database is lost at reboot, whatever fsync says");
        }

        return new FileSystemVerdict(DoctorSeverity.Ok, $"'{type}' is a local file system");
    }

    private static string Unescape(string field) =>
        OctalEscape().Replace(field, m => ((char)Convert.ToInt32(m.Value[1..], 8)).ToString(CultureInfo.InvariantCulture));

    [GeneratedRegex(@"\\[0-7]{3}")]
    private static partial Regex OctalEscape();
}
