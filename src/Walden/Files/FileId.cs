using Walden.Native;

namespace Walden.Files;

/// <summary>
/// A file's identity: the device and inode it lives on. Two paths (or a path and an open descriptor) name the
/// same file exactly when these are equal, whatever the names; a file renamed or deleted keeps its identity
/// while it is open. Needed because POSIX locks belong to the inode and to the process: closing any
/// descriptor on an inode drops every lock this process holds on it (sqlite.org/howtocorrupt.html 2.2).
/// </summary>
internal readonly record struct FileId(ulong Device, ulong Inode)
{
    private const string OwnDescriptors = "/proc/self/fd";

    /// <summary>The identity of the file at <paramref name="path"/> (symbolic links followed), or null when there is none.</summary>
    internal static unsafe FileId? Of(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            return null;
        }

        var buffer = stackalloc byte[Posix.StatBufferBytes];
        if (Posix.Stat(path, buffer) != 0)
        {
            return null;
        }

        return new FileId(*(ulong*)buffer, *(ulong*)(buffer + 8));
    }

    /// <summary>
    /// Whether any descriptor of this process is open on <paramref name="path"/>'s file: an SQLite connection
    /// (Walden's or one the application opened itself), a FileStream, anything. Reads /proc/self/fd, so it
    /// sees descriptors no registry knows about. False when the file does not exist.
    /// </summary>
    internal static bool IsOpenInThisProcess(string path) => Of(path) is { } id && OpenDescriptors().Contains(id);

    /// <summary>How many descriptors of this process are open on the file <paramref name="id"/> names.</summary>
    internal static int DescriptorsOn(FileId id) =>
        Directory.Exists(OwnDescriptors) ? Directory.EnumerateFileSystemEntries(OwnDescriptors).Count(entry => Of(entry) == id) : 0;

    /// <summary>
    /// The name the file <paramref name="id"/> has now, as the kernel tracks it for a descriptor of this process on it (the
    /// new path after a rename or a moved folder; ending in " (deleted)" once it has no name left); null when no descriptor
    /// of this process is on it or /proc is missing. Nothing is opened.
    /// </summary>
    internal static string? CurrentName(FileId id)
    {
        if (!Directory.Exists(OwnDescriptors))
        {
            return null;
        }

        foreach (var entry in Directory.EnumerateFileSystemEntries(OwnDescriptors))
        {
            if (Of(entry) == id)
            {
                try
                {
                    return new FileInfo(entry).LinkTarget;
                }
                catch (IOException)
                {
                    // closed meanwhile: try the next descriptor
                }
            }
        }

        return null;
    }

    /// <summary>The identities of every file this process has a descriptor on (empty where /proc is missing).</summary>
    internal static HashSet<FileId> OpenDescriptors()
    {
        var open = new HashSet<FileId>();
        if (!Directory.Exists(OwnDescriptors))
        {
            return open;
        }

        foreach (var entry in Directory.EnumerateFileSystemEntries(OwnDescriptors))
        {
            // stat follows the link to the file itself, even when its name was deleted; closed meanwhile: skipped.
            if (Of(entry) is { } id)
            {
                open.Add(id);
            }
        }

        return open;
    }
}
