using Walden.Backup;

namespace Walden.Cli.Commands;

/// <summary>
/// What the first argument of <c>walden restore</c> is: a backup file, an archive (a folder or <c>s3://</c> URL), or
/// neither. For neither, the message says what the path is and names both forms the command takes; before, anything
/// that was no archive folder was spoken of as a backup (a text file, an app's database, a missing path: "the backup
/// ... has no manifest"), and an empty folder as an archive alone.
/// </summary>
internal static class RestoreSource
{
    /// <summary>The two forms <c>walden restore</c> takes, for every message about a path that is neither.</summary>
    internal const string Forms = "'walden restore' takes a backup file with its .json manifest beside it (as 'walden backup' writes them; " +
        "'walden backups <folder>' lists them), or an archive: its folder, or s3://bucket/prefix.";

    internal enum Kind
    {
        Backup,
        Archive,
    }

    /// <summary>
    /// Which restore <paramref name="source"/> asks for; null with <paramref name="problem"/> (exit 2: nothing can be
    /// restored from that input) when it is neither a backup nor an archive. A file named as Walden names its copies but
    /// without a manifest counts as a backup: the backup restore refuses it as unverified (exit 1), as before.
    /// </summary>
    /// <param name="source">The argument as given.</param>
    /// <param name="output">The database to restore to, for the command the message suggests.</param>
    /// <param name="problem">Why nothing can be restored from <paramref name="source"/>, in one or two sentences.</param>
    internal static Kind? Of(string source, string output, out string? problem)
    {
        problem = null;
        if (ArchiveLocation.IsS3(source))
        {
            return Kind.Archive;
        }

        var full = Path.GetFullPath(source);
        // Before its header is read: opening a named pipe blocks until a writer comes, and a device is no backup.
        if (Files.FileKind.NotADatabase(full) is { } special)
        {
            problem = special;
            return null;
        }

        if (File.Exists(full))
        {
            return FileKind(full, out problem);
        }

        if (Directory.Exists(full))
        {
            return FolderKind(full, output, out problem);
        }

        for (var parent = Path.GetDirectoryName(full); parent is not null; parent = Path.GetDirectoryName(parent))
        {
            if (File.Exists(parent))
            {
                problem = $"'{full}' cannot exist: '{parent}' on its path is a file, not a folder. {Forms}";
                return null;
            }

            if (Directory.Exists(parent))
            {
                break;
            }
        }

        problem = $"'{full}' does not exist. Check the path: {Forms}";
        return null;
    }

    private static Kind? FileKind(string full, out string? problem)
    {
        problem = null;
        if (File.Exists(full + ".json") || BackupFiles.IsBackupName(full) ||
            (full.EndsWith(".json", StringComparison.Ordinal) && File.Exists(full[..^".json".Length])))
        {
            return Kind.Backup; // a backup, its manifest, or a copy Walden took whose manifest is missing (refused as unverified)
        }

        if (WaldenFolderDestination.ArchiveAbove(full) is not null)
        {
            // A file of an archive (its base, a segment, archive-of): the archive is its folder.
            problem = WaldenFolderDestination.FolderProblem(full, writing: false);
            return null;
        }

        problem = Describe(full) switch
        {
            FileContent.Sqlite => $"'{full}' is an SQLite database, not a backup: it has no manifest ('{Path.GetFileName(full)}.json') " +
                $"beside it, and a backup is restored only once checked against one. {Forms} To back this database up: " +
                $"'walden backup {full} <folder>'.",
            FileContent.Empty => $"'{full}' is an empty file, neither a backup nor an archive. {Forms}",
            FileContent.Unreadable => $"'{full}' cannot be read by this user, so it is no backup that can be restored. {Forms}",
            _ => $"'{full}' is neither a backup nor an archive: it is a file with no SQLite header. {Forms}",
        };
        return null;
    }

    private static Kind? FolderKind(string full, string output, out string? problem)
    {
        problem = null;
        if (WaldenFolderDestination.FolderProblem(full, writing: false) is not null || WaldenFolderDestination.IsArchive(full))
        {
            return Kind.Archive; // an archive, or one base's folder inside one (the archive restore names the archive's folder)
        }

        var copies = Directory.EnumerateFiles(full).Where(BackupFiles.IsBackupName).ToList();
        if (copies.Count > 0)
        {
            var newest = WaldenBackups.List(full).FirstOrDefault(e => e.State == WaldenBackupState.Verified)?.Path;
            problem = newest is not null
                ? $"'{full}' is a backup folder, not an archive: restore one backup file inside it, such as the newest, " +
                  $"'walden restore {newest} {output}' ('walden backups {full}' lists them)."
                : $"'{full}' is a backup folder, not an archive, and none of its copies is a verified backup ('walden backups {full}' " +
                  "says why). Restore a verified backup file, or an archive's folder.";
            return null;
        }

        problem = Directory.EnumerateFileSystemEntries(full).Any()
            ? $"'{full}' is a folder that holds neither an archive (no 'archive-of', no base snapshot) nor backups. {Forms}"
            : $"'{full}' is an empty folder, neither an archive nor a backup folder. {Forms}";
        return null;
    }

    private enum FileContent
    {
        Sqlite,
        Empty,
        Other,
        Unreadable,
    }

    /// <summary>What a file is, by its first bytes (read outside SQLite: this process has no connection to it).</summary>
    private static FileContent Describe(string path)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            var magic = "SQLite format 3\0"u8;
            var header = new byte[magic.Length];
            var read = stream.ReadAtLeast(header, header.Length, throwOnEndOfStream: false);
            if (read == 0)
            {
                // A database in WAL mode that was never checkpointed has all of its pages in its -wal.
                return File.Exists(path + "-wal") ? FileContent.Sqlite : FileContent.Empty;
            }

            return read == header.Length && header.AsSpan().SequenceEqual(magic) ? FileContent.Sqlite : FileContent.Other;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return FileContent.Unreadable;
        }
    }
}
