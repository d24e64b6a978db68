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
}
