using System.Globalization;
using Walden.Native;

namespace Walden.Files;

/// <summary>Where a database and its companions were put aside, and why.</summary>
/// <param name="Folder">The quarantine folder holding the files and a quarantine.json manifest.</param>
/// <param name="Files">The files moved there, by their original paths.</param>
public sealed record WaldenQuarantine(string Folder, IReadOnlyList<string> Files)
{
    /// <summary>The folder and the files in it, for messages and logs (a record would print the list's type name).</summary>
    public override string ToString() => $"{Folder} ({string.Join(", ", Files.Select(System.IO.Path.GetFileName))})";
}

/// <summary>
/// Puts a database aside instead of deleting it: the database with its -wal, -shm and -journal moves
/// into <c>walden-quarantine/&lt;time&gt;-&lt;name&gt;/</c> beside it, with a manifest saying why. Walden never
/// deletes a damaged or replaced original; it stays there for forensics until a person removes it.
/// </summary>
internal static class Quarantine
{
    internal const string FolderName = "walden-quarantine";

    /// <summary>
    /// Moves the database and its companions into quarantine. The companions go first: a -wal left
    /// beside a database that is not its own could be replayed into it.
    /// </summary>
    internal static WaldenQuarantine Move(string databasePath, string reason, TimeProvider timeProvider)
    {
        var files = DatabaseFiles.For(OpenErrors.RealPath(Path.GetFullPath(databasePath)) ?? databasePath); // the link's target, as SQLite
        EnsureRegularFiles(files);
        using var swapLock = SwapLock.Take(files.Database, "Moving the database into quarantine");
        var folder = CreateFolder(files.Database, reason, timeProvider);
        var moved = new List<string>();
        foreach (var path in files.Companions.Append(files.Database))
        {
            if (File.Exists(path))
            {
                File.Move(path, Path.Combine(folder, Path.GetFileName(path)));
                moved.Add(path);
            }
        }

        Posix.FsyncDirectory(folder);
        Posix.FsyncDirectory(Path.GetDirectoryName(files.Database)!);
        return new WaldenQuarantine(folder, moved);
    }

    /// <summary>
    /// Throws when the database has more than one name (hard links): a swap renames the new file over one name only, and
    /// the others keep the old inode, so a program opening the database by another name would go on reading the old one,
    /// beside a -wal that is no longer its own (sqlite.org/howtocorrupt.html 2.5). Checked by the swap, and early by its
    /// callers so that no long recovery or verification runs first.
    /// </summary>
    /// <exception cref="WaldenConfigurationException">The file has other names.</exception>
    internal static void EnsureSingleName(string databasePath)
    {
        if (Diagnostics.Doctor.FileOwner.Of(databasePath)?.Links is > 1 and var names)
        {
            throw new WaldenConfigurationException(
                $"'{databasePath}' has {names} hard links (other names for the same file): replacing it would give the new database " +
                "to this name only, while a program opening it by another name would go on reading the old one. Nothing was changed. " +
                $"Find the other names with 'find / -xdev -samefile {databasePath}', remove them (or make every program use this path), " +
                "and run again; or write the result to a new file instead.");
        }
    }

    /// <summary>
    /// The last guard before anything is opened or moved: a named pipe, device or socket is never taken for a database or a
    /// companion (the lock's open would block on a pipe, and the move would carry a device node, even /dev/null, away).
    /// </summary>
    /// <exception cref="WaldenConfigurationException">The database or one of its companions is no regular file.</exception>
    private static void EnsureRegularFiles(DatabaseFiles files) => FileKind.EnsureDatabaseFile(files.Database); // its companions too

    /// <summary>
    /// Puts <paramref name="replacementPath"/> in place of the database, keeping the original in
    /// quarantine. The database path never stands empty: the original is hard-linked into quarantine,
    /// its companions are moved there, then the replacement is renamed over it in one atomic step.
    /// The caller must have written, verified and closed the replacement (no -wal or -shm of its own).
    /// </summary>
    /// <param name="databasePath">The database to replace.</param>
    /// <param name="replacementPath">The closed, verified replacement, in the same folder.</param>
    /// <param name="reason">Why, for the quarantine manifest.</param>
    /// <param name="timeProvider">For the quarantine folder's name.</param>
    /// <param name="expectedFingerprint">
    /// When given: the <see cref="DatabaseFiles.Fingerprint"/> the database had when the replacement was made from it;
    /// the swap is refused if it changed (someone wrote to it meanwhile), checked while the lock is held.
    /// </param>
    internal static WaldenQuarantine? Swap(string databasePath, string replacementPath, string reason, TimeProvider timeProvider,
        string? expectedFingerprint = null)
    {
        var files = DatabaseFiles.For(databasePath);
        var replacement = DatabaseFiles.For(replacementPath);
        if (replacement.Companions.Any(File.Exists))
        {
            throw new WaldenException($"The replacement '{replacement.Database}' still has a -wal, -shm or -journal file; close it cleanly before swapping it in.");
        }

        if (Path.GetDirectoryName(replacement.Database) != Path.GetDirectoryName(files.Database))
        {
            throw new WaldenException("The replacement must sit in the same folder as the database, so that the swap is one atomic rename.");
        }

        if (new FileInfo(files.Database).LinkTarget is { } link)
        {
            // The callers resolve links (OpenErrors.RealPath): a rename over a link replaces the link and a hard link keeps the link.
            throw new InvalidOperationException($"'{files.Database}' is a symbolic link to '{link}': swap its target, not the link.");
        }

        EnsureSingleName(files.Database);
        EnsureRegularFiles(files);

        // SQLite's EXCLUSIVE lock on the old file from the last check until the rename is done (see SwapLock).
        using var swapLock = SwapLock.Take(files.Database, "Replacing the database");
        if (expectedFingerprint is not null && files.Fingerprint() != expectedFingerprint)
        {
            throw new WaldenDatabaseInUseException(
                $"Replacing the database refused: '{files.Database}' (or its -wal or -journal) was written to after the replacement " +
                "was made from it. Nothing was changed; stop the program that writes to it and run again.",
                -1, "a write since the replacement was made");
        }

        WaldenQuarantine? quarantine = null;
        if (File.Exists(files.Database) || files.Companions.Any(File.Exists))
        {
            var folder = CreateFolder(files.Database, reason, timeProvider);
            var moved = new List<string>();
            try
            {
                foreach (var path in files.Companions.Where(File.Exists))
                {
                    File.Move(path, Path.Combine(folder, Path.GetFileName(path)));
                    moved.Add(path);
                }

                if (File.Exists(files.Database))
                {
                    var kept = Path.Combine(folder, Path.GetFileName(files.Database));
                    if (Posix.Link(files.Database, kept) != 0)
                    {
                        swapLock.CopyDatabaseTo(kept); // no hard links on this file system: copied through the lock's own descriptor
                    }

                    moved.Add(files.Database);
                }

                Posix.FsyncDirectory(folder);
            }
            catch
            {
                PutBack(files, folder, moved); // nothing was swapped: the database stays as it was, with its -wal
                throw;
            }

            quarantine = new WaldenQuarantine(folder, moved);
        }

        File.Move(replacement.Database, files.Database, overwrite: true); // rename(2): atomic
        try
        {
            Posix.FsyncDirectory(Path.GetDirectoryName(files.Database)!);
        }
        catch (IOException ex)
        {
            throw new WaldenException(
                $"'{files.Database}' was replaced, but the disk failed to make the swap durable ({ex.Message.TrimEnd('.')}): " +
                "after a power loss the folder may show the old database again" +
                $"{(quarantine is null ? "" : $" (it is kept in {quarantine.Folder})")}. " +
                "Check the disk and the system log before relying on it.",
                Errors.SqliteErrors.IoErr, Errors.SqliteErrors.IoErr | (5 << 8), ex);
        }

        return quarantine;
    }

    /// <summary>
    /// Undoes a swap that failed before its rename: the companions go back beside the database, the quarantine's link or copy of
    /// the database (the original stays at its path) and the folder Walden made for them go away.
    /// </summary>
    private static void PutBack(DatabaseFiles files, string folder, List<string> moved)
    {
        foreach (var path in moved.Where(p => p != files.Database))
        {
            File.Move(Path.Combine(folder, Path.GetFileName(path)), path);
        }

        var kept = Path.Combine(folder, Path.GetFileName(files.Database));
        if (File.Exists(files.Database) && File.Exists(kept))
        {
            File.Delete(kept); // a second name of (or a copy of) the database, which is still in place
        }

        File.Delete(Path.Combine(folder, QuarantineManifest.FileName));
        if (!Directory.EnumerateFileSystemEntries(folder).Any())
        {
            Directory.Delete(folder);
            var root = Path.GetDirectoryName(folder)!;
            if (!Directory.EnumerateFileSystemEntries(root).Any())
            {
                Directory.Delete(root);
            }
        }
    }

    private static string CreateFolder(string databasePath, string reason, TimeProvider timeProvider)
    {
        var now = timeProvider.GetUtcNow();
        var root = Path.Combine(Path.GetDirectoryName(databasePath)!, FolderName);
        var name = $"{now.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture)}-{Path.GetFileName(databasePath)}";
        var folder = Path.Combine(root, name);
        for (var n = 2; Directory.Exists(folder); n++)
        {
            folder = Path.Combine(root, $"{name}-{n}");
        }

        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(folder);
        }
        else
        {
            // Owner only: a quarantined database holds the application's data.
            Directory.CreateDirectory(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        var files = new DatabaseFiles(databasePath).Companions.Prepend(databasePath)
            .Where(File.Exists)
            .Select(path => new QuarantinedFile(Path.GetFileName(path), new FileInfo(path).Length))
            .ToList();
        var manifest = new QuarantineManifest(databasePath, reason, now, files, QuarantineManifest.DefaultNote);
        File.WriteAllText(Path.Combine(folder, QuarantineManifest.FileName), manifest.ToJson());
        return folder;
    }
}
