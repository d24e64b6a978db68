using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Walden.Diagnostics;
using Walden.Files;

namespace Walden.Native;

/// <summary>
/// Other SQLite libraries mapped into this process beside the one Walden runs on (an application that also
/// uses another SQLite binding, a stock <c>libe_sqlite3.so</c> bound before Walden could bind its own, Debian's
/// libsqlite3). Two SQLite libraries that open the same file in one process break each other's POSIX locks
/// (sqlite.org/howtocorrupt.html, section 2.2.1), so Walden warns at open and refuses a database file this
/// process already has open outside Walden while another library is loaded. A copy of SQLite compiled into
/// some other library (not a file of its own) cannot be seen this way.
/// </summary>
internal static class SqliteNeighbours
{
    internal readonly record struct Library(string Path, string Version);

    private static IReadOnlyList<Library>? _lastFound;

    /// <summary>What the last <see cref="Find"/> found (the open's own check ran it a moment before); found now if none ran yet.</summary>
    internal static IReadOnlyList<Library> LastFound => Volatile.Read(ref _lastFound) ?? Find();

    /// <summary>The SQLite libraries mapped into this process other than the one Walden's calls go to.</summary>
    internal static IReadOnlyList<Library> Find()
    {
        var own = SqliteLibrary.LoadedPath;
        var found = new List<Library>();
        foreach (var path in ProcessMaps.Read().Select(m => m.Path).Distinct(StringComparer.Ordinal))
        {
            var name = System.IO.Path.GetFileName(path);
            if (path == own
                || !name.Contains("sqlite", StringComparison.OrdinalIgnoreCase)
                || !name.Contains(".so", StringComparison.Ordinal)
                || path.EndsWith(" (deleted)", StringComparison.Ordinal))
            {
                continue;
            }

            if (VersionOf(path) is { } version)
            {
                found.Add(new Library(path, version));
            }
        }

        Volatile.Write(ref _lastFound, found);
        return found;
    }

    /// <summary>Warns about other SQLite libraries; refuses when one of them may already have <paramref name="databasePath"/> open.</summary>
    /// <exception cref="WaldenConfigurationException">Another SQLite is loaded and this process has the file open outside Walden.</exception>
    internal static void Check(string databasePath, ILogger logger)
    {
        var others = Find();
        if (others.Count == 0)
        {
            return;
        }

        var ours = $"SQLite {SqliteLibrary.Version} ({SqliteLibrary.LoadedPath ?? "unknown file"})";
        var theirs = string.Join(", ", others.Select(o => $"SQLite {o.Version} ({o.Path})"));
        if (!OpenDatabases.Contains(databasePath) && OpenDescriptors(databasePath) is { Count: > 0 } open)
        {
            throw new WaldenConfigurationException(
                $"This process has '{open[0]}' open outside Walden while two SQLite libraries are loaded: Walden's {ours} and {theirs}. " +
                "If the other library has this file open, each would release the other's POSIX locks and the database could be corrupted " +
                "(sqlite.org/howtocorrupt.html, section 2.2.1). Close the other connection to this file first, or let the application " +
                "use one SQLite only: reference Microsoft.Data.Sqlite.Core rather than Microsoft.Data.Sqlite (or a bundle) " +
                "and let Walden load it.");
        }

        LogMessages.OtherSqliteLoaded(logger, ours, theirs);
    }

    /// <summary>This process's file descriptors on the database, its -wal or its -shm (read with readlink; nothing is opened).</summary>
    internal static List<string> OpenDescriptors(string databasePath)
    {
        var result = new List<string>();
        const string fds = "/proc/self/fd";
        if (!OperatingSystem.IsLinux() || !Directory.Exists(fds))
        {
            return result;
        }

        string[] names = [databasePath, databasePath + "-wal", databasePath + "-shm"];
        foreach (var fd in Directory.EnumerateFileSystemEntries(fds))
        {
            try
            {
                if (new FileInfo(fd).LinkTarget is { } target && names.Contains(target, StringComparer.Ordinal))
                {
                    result.Add(target);
                }
            }
            catch (IOException)
            {
                // the descriptor was closed while we looked
            }
            catch (UnauthorizedAccessException)
            {
            }
        }

        return result;
    }

    /// <summary>The version of the SQLite library at <paramref name="path"/> (already mapped: loading it only adds a reference).</summary>
    private static unsafe string? VersionOf(string path)
    {
        if (!NativeLibrary.TryLoad(path, out var handle))
        {
            return null;
        }

        try
        {
            return NativeLibrary.TryGetExport(handle, "sqlite3_libversion", out var function)
                ? Marshal.PtrToStringUTF8(((delegate* unmanaged[Cdecl]<IntPtr>)function)())
                : null;
        }
        finally
        {
            NativeLibrary.Free(handle);
        }
    }
}
