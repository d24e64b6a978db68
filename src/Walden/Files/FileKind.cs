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
    internal static unsafe bool IsRegularOrUnknown(string path)
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
            return true;
        }

        var buffer = stackalloc byte[Posix.StatBufferBytes];
        if (Posix.Stat(path, buffer) != 0)
        {
            return true; // missing or unreadable: the open that follows says so
        }

        var type = *(uint*)(buffer + mode) & 0xF000; // S_IFMT
        return type is 0x8000 or 0x4000; // S_IFREG, S_IFDIR (a folder fails to open as a file on its own)
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
