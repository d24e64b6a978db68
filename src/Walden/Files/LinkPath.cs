using System.Runtime.InteropServices;
using Walden.Native;

namespace Walden.Files;

/// <summary>
/// Follows every component of a path as the kernel does (stat(2) on each prefix, nothing is opened), so that a path no
/// program can use is refused for what it is: a symbolic-link loop (or a chain longer than the kernel follows: ELOOP) on
/// the database, its folder or any folder above, or a folder on the way that is a link to nothing. Without this, the first
/// check that meets such a path calls it what .NET's File.Exists and Directory.Exists make of it: "a file", or "does not exist".
/// </summary>
internal static class LinkPath
{
    private const int NoEntry = 2; // ENOENT
    private const int Loop = 40; // ELOOP on Linux

    /// <summary>
    /// Why <paramref name="path"/> cannot be followed to its last component, naming the component where it fails and saying
    /// what to change (ending with "Nothing was created or changed."); null when every component resolves, or the first that
    /// does not is simply missing or a file (the caller's own checks name those), or on systems other than Linux.
    /// </summary>
    /// <param name="path">The path as given.</param>
    /// <param name="mayCreate">
    /// The last component may be a link to a file not there yet, which a new file is created through (a restore target, an
    /// output, a database opened to be created), as SQLite does; a folder or a file to read must be there at the link's end.
    /// </param>
    internal static unsafe string? Problem(string path, bool mayCreate = false)
    {
        if (!OperatingSystem.IsLinux() || string.IsNullOrWhiteSpace(path))
        {
            return null;
        }

        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(path));
        var root = Path.GetPathRoot(full) ?? "/";
        var prefix = root;
        var buffer = stackalloc byte[Posix.StatBufferBytes];
        foreach (var part in full[root.Length..].Split(Path.DirectorySeparatorChar, StringSplitOptions.RemoveEmptyEntries))
        {
            prefix = Path.Combine(prefix, part);
            if (Posix.Stat(prefix, buffer) == 0)
            {
                continue;
            }

            // Every prefix before this one resolved, so the failure is in following this component's own link.
            var errno = Marshal.GetLastPInvokeError();
            var target = Target(prefix);
            if (errno == Loop)
            {
                return $"The path '{full}' goes through a symbolic-link loop at '{prefix}'{(target is null ? "" : $" (a link to '{target}')")}: " +
                    "its links lead back to themselves, or through more links than the system follows, so no program can open " +
                    "anything through it. Nothing was created or changed. Point the link at a real folder or file, or give a path " +
                    "that does not go through it.";
            }

            var last = prefix.Length == full.Length;
            if (errno == NoEntry && target is not null && !(last && mayCreate))
            {
                return $"{(last ? $"'{full}' is" : $"The path '{full}' goes through '{prefix}',")} a symbolic link to '{target}', which " +
                    $"does not exist (a dangling link). Nothing was created or changed. Point the link at an existing " +
                    $"{(last ? "file or folder" : "folder")}, or give a path that does not go through it.";
            }

            return null;
        }

        return null;
    }

    /// <summary>Throws <see cref="WaldenConfigurationException"/> with <see cref="Problem"/> when there is one.</summary>
    internal static void EnsureResolvable(string path, bool mayCreate = false)
    {
        if (Problem(path, mayCreate) is { } problem)
        {
            throw new WaldenConfigurationException(problem);
        }
    }

    private static string? Target(string path)
    {
        try
        {
            return new FileInfo(path).LinkTarget;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}
