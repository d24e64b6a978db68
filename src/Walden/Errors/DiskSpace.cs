using System.Globalization;
using Microsoft.Data.Sqlite;

namespace Walden.Errors;

/// <summary>
/// Says, when the disk is full, how much space writes need before they can resume. Two things need room: the
/// checkpoint that moves the WAL into the database file grows that file to the database's full size (until it
/// has, the WAL cannot be reused from its start, so every new commit appends to it), and the next batch needs
/// room for its pages in the WAL. Read from file metadata, the file system and the writer's own connection.
/// </summary>
internal static class DiskSpace
{
    /// <summary>Room left for one batch's pages in the WAL beyond what the checkpoint needs.</summary>
    internal const long BatchMargin = 1024 * 1024;

    /// <summary>One sentence: what is free, what is needed and why; empty when it cannot be told.</summary>
    internal static string Describe(SqliteConnection connection)
    {
        try
        {
            var path = connection.DataSource;
            if (string.IsNullOrEmpty(path) || !File.Exists(path))
            {
                return "";
            }

            path = Files.OpenErrors.RealPath(path) ?? path; // a link's target: its size and its volume are what count

            var row = Configuration.RawStatement.QueryRow(connection, "SELECT page_count * page_size FROM pragma_page_count, pragma_page_size");
            var logicalBytes = row?[0] is long bytes ? bytes : 0;
            var fileBytes = new FileInfo(path).Length;
            var growth = Math.Max(0, logicalBytes - fileBytes);
            var free = new DriveInfo(Path.GetDirectoryName(path)!).AvailableFreeSpace;
            var needed = growth + BatchMargin;
            return string.Create(CultureInfo.InvariantCulture, $"{free:N0} bytes are free on the volume of '{path}'; ") +
                string.Create(CultureInfo.InvariantCulture, $"writes resume once about {needed:N0} bytes are free ") +
                string.Create(CultureInfo.InvariantCulture, $"({growth:N0} for the checkpoint to move the WAL into the database file, {BatchMargin:N0} for the next batch), ") +
                "with nothing to restart: free space or grow the volume. ";
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or SqliteException)
        {
            return ""; // the advice is a courtesy; the failure itself is reported either way
        }
    }

    /// <summary>Marks an exception as a full temporary folder, so that no caller re-blames it on its output's disk.</summary>
    private const string TempFullKey = "Walden.TempFolderFull";

    /// <summary>
    /// The folder SQLite puts its temporary files in (sorts that spill, a plain VACUUM's copy, the recover extension's
    /// scratch database), found as SQLite's unix VFS finds it (os_unix.c unixTempFileDir): SQLITE_TMPDIR, TMPDIR,
    /// /var/tmp, /usr/tmp, /tmp, the first that is a folder this process may write.
    /// </summary>
    internal static string SqliteTempFolder()
    {
        string?[] candidates = [Environment.GetEnvironmentVariable("SQLITE_TMPDIR"), Environment.GetEnvironmentVariable("TMPDIR"),
            "/var/tmp", "/usr/tmp", "/tmp"];
        foreach (var candidate in candidates)
        {
            if (!string.IsNullOrEmpty(candidate) && Directory.Exists(candidate) && Native.Posix.Access(candidate, Native.Posix.WriteAndExecute) == 0)
            {
                return Path.TrimEndingDirectorySeparator(candidate);
            }
        }

        return ".";
    }

    /// <summary>Walden's own temporary folder (private copies, work folders): .NET's, TMPDIR or /tmp.</summary>
    internal static string WaldenTempFolder() => Path.TrimEndingDirectorySeparator(Path.GetTempPath());

    /// <summary>The full temporary folder's error in <paramref name="exception"/> or inside it, already named as such; else null.</summary>
    internal static WaldenException? TempFolderFullIn(Exception? exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            if (e is WaldenException walden && e.Data[TempFullKey] is true)
            {
                return walden;
            }
        }

        return null;
    }

    /// <summary>True for a full disk met as .NET reports it (ENOSPC, EDQUOT) or as SQLite does (SQLITE_FULL).</summary>
    internal static bool IsFull(Exception exception) => exception switch
    {
        IOException io => io.HResult is 28 or 122 || io.Message.Contains("No space left", StringComparison.Ordinal),
        SqliteException sqlite => (sqlite.SqliteErrorCode & 0xFF) == SqliteErrors.Full,
        WaldenException walden => (walden.SqliteErrorCode ?? 0) == SqliteErrors.Full,
        _ => false,
    };

    /// <summary>
    /// The error for a full temporary folder: names <paramref name="folder"/> (not the output's disk: the user would free
    /// space in the wrong place), what it held, what became of the user's files, and how to point it elsewhere.
    /// </summary>
    internal static WaldenDiskFullException TempFolderFull(string operation, string folder, string held, string outcome, Exception inner)
    {
        var free = FreeBytes(folder) is { } bytes ? string.Create(CultureInfo.InvariantCulture, $" ({bytes:N0} bytes free there now)") : "";
        var exception = new WaldenDiskFullException(
            $"{operation} failed: the temporary folder '{folder}'{free} is full; it held {held}. {outcome} " +
            "Free space there, or point SQLITE_TMPDIR and TMPDIR at a folder on a disk with room (about the database's size), " +
            $"e.g. TMPDIR=/var/tmp SQLITE_TMPDIR=/var/tmp, and try again. ({inner.Message.TrimEnd('.')})",
            SqliteErrors.Full, inner is SqliteException sqlite ? sqlite.SqliteExtendedErrorCode : SqliteErrors.Full, inner);
        exception.Data[TempFullKey] = true;
        return exception;
    }

    /// <summary>
    /// Which disk a SQLITE_FULL met by SQLite's own work (with temporary files in <see cref="SqliteTempFolder"/>) while writing
    /// into <paramref name="outputFolder"/> was: the temporary folder when it is on another volume and the output's volume still
    /// has room for <paramref name="outputBytes"/> (what the output needs at most), else the output's. Null: the output's.
    /// </summary>
    internal static string? FullTempFolder(string? outputFolder, long outputBytes)
    {
        try
        {
            var temp = SqliteTempFolder();
            if (outputFolder is null || Files.FileId.Of(temp) is not { } tempId || Files.FileId.Of(outputFolder) is not { } outputId ||
                tempId.Device == outputId.Device)
            {
                return null;
            }

            return FreeBytes(outputFolder) is { } free && free >= outputBytes + BatchMargin ? temp : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return null;
        }
    }

    private static long? FreeBytes(string folder)
    {
        try
        {
            return new DriveInfo(Path.GetFullPath(folder)).AvailableFreeSpace;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return null;
        }
    }
}
