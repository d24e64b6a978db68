using System.Runtime.InteropServices;
using Walden.Native;

namespace Walden.Files;

/// <summary>
/// What kind of file a path names, from stat(2) (nothing is opened): opening a named pipe for reading blocks until a writer
/// comes, so a reader of files it did not make itself checks first.
/// </summary>
internal static class FileKind
{
    /// <summary>
    /// False when <paramref name="path"/> (followed through links) is a named pipe, socket or device rather than a regular file;
    /// true when it is a regular file, or when it cannot be told here (another architecture or system, or stat failed).
    /// </summary>
    internal static bool IsRegularOrUnknown(string path) => Special(path) is null;

    /// <summary>
    /// What <paramref name="path"/> (followed through links) is when it is neither a regular file nor a folder, such as
    /// "a FIFO (named pipe)" or "a character device"; null when it is a regular file, a folder, missing, or cannot be told.
    /// </summary>
    internal static unsafe string? Special(string path)
    {
        // struct stat: x86_64 has st_nlink (8 bytes) before st_mode; arm64 (the generic layout) has st_mode first (FileOwner).
        var mode = RuntimeInformation.ProcessArchitecture switch
        {
            Architecture.X64 => 24,
            Architecture.Arm64 => 16,
            _ => -1,
        };
        if (mode < 0 || !OperatingSystem.IsLinux())
        {
            return null;
        }

        var buffer = stackalloc byte[Posix.StatBufferBytes];
        if (Posix.Stat(path, buffer) != 0)
        {
            return null; // missing or unreadable: the open that follows says so
        }

        return (*(uint*)(buffer + mode) & 0xF000) switch // S_IFMT
        {
            0x8000 or 0x4000 => null, // S_IFREG, S_IFDIR (a folder fails to open as a file on its own)
            0x1000 => "a FIFO (named pipe)",
            0x2000 => "a character device",
            0x6000 => "a block device",
            0xC000 => "a socket",
            _ => "a special file",
        };
    }

    /// <summary>
    /// The message refusing <paramref name="path"/> as a database (to read, back up, recover or replace) when it is a named pipe,
    /// device or socket, goes through a symbolic-link loop (<see cref="LinkPath"/>), or has a companion that is no regular file
    /// (<see cref="CompanionNotAFile"/>), or null when none of these. Checked before
    /// anything opens the path: opening a named pipe blocks until a writer comes, a device reads as an endless or empty file, and
    /// replacing one would move the device node itself.
    /// </summary>
    internal static string? NotADatabase(string path)
    {
        if (LinkPath.Problem(path, mayCreate: true) is { } unresolvable) // WaldenDatabase.OpenAsync creates through a link
        {
            return unresolvable;
        }

        if (Special(path) is not { } kind)
        {
            return CompanionNotAFile(path);
        }

        var name = new FileInfo(path).LinkTarget is not null && OpenErrors.RealPath(path) is { } real && real != path
            ? $"'{path}' is a symbolic link to '{real}', which"
            : $"'{path}'";
        return $"{name} is {kind}, not a regular file: a database must be a regular file. Nothing was changed.";
    }

    private static readonly (string Suffix, string Role)[] CompanionRoles =
    [
        ("-wal", "SQLite's write-ahead log"),
        ("-shm", "SQLite's shared-memory index"),
        ("-journal", "SQLite's rollback journal"),
    ];

    /// <summary>
    /// The message refusing the database <paramref name="databasePath"/> when its -wal, -shm or -journal (beside the target of a
    /// link, where SQLite looks for them) is there but no regular file: a folder, a named pipe, a device or a socket. SQLite
    /// cannot use it: opening the database then fails with a bare "unable to open database file" or "disk I/O error", writing
    /// fails as "readonly", and a named pipe as the -journal blocks the open forever (its hot-journal test reads it). Null
    /// when every companion is a regular file or missing. Nothing is opened.
    /// </summary>
    internal static string? CompanionNotAFile(string databasePath)
    {
        var real = OpenErrors.RealPath(databasePath) ?? databasePath;
        foreach (var (suffix, role) in CompanionRoles)
        {
            var companion = real + suffix;
            if ((Directory.Exists(companion) ? "a directory" : Special(companion)) is { } kind)
            {
                return $"'{companion}' is {kind}, not {role}: SQLite keeps its own file under that name, and while this is there " +
                    $"programs fail to open or to write '{databasePath}' ('unable to open database file', 'disk I/O error') or wait on " +
                    $"it forever. Nothing was changed. Move it aside (rename it or move it to another folder; it is not part of the " +
                    $"database), then run the command again.";
            }
        }

        return null;
    }

    /// <summary>Throws <see cref="WaldenConfigurationException"/> (<see cref="NotADatabase"/>) when <paramref name="path"/> is no regular file.</summary>
    internal static void EnsureDatabaseFile(string path)
    {
        if (NotADatabase(path) is { } problem)
        {
            throw new WaldenConfigurationException(problem);
        }
    }

    /// <summary>Throws an <see cref="IOException"/> naming <paramref name="path"/> when it is a named pipe, socket or device.</summary>
    internal static void EnsureRegular(string path, string what)
    {
        if (!IsRegularOrUnknown(path))
        {
            throw new IOException($"'{path}' is not a regular file but a named pipe, socket or device, so it cannot be {what}; " +
                "remove it or put the real file there.");
        }
    }
}
