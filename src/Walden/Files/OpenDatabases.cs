using System.Collections.Concurrent;

namespace Walden.Files;

/// <summary>
/// The database files this process has open through Walden, by device and inode (so another name for the same
/// file, a hard link or a symbolic link, is recognised). A file is registered before Walden's first connection
/// opens it, so no file operation can slip in between. Needed because POSIX locks belong to the process: the lock
/// probe cannot see this process's own locks, and closing any descriptor on a file this process has open in
/// SQLite silently drops SQLite's locks on it (sqlite.org/howtocorrupt.html, section 2.2). Files the application
/// opened through its own SqliteConnection cannot be registered; <see cref="DatabaseFiles.OpenInThisProcess"/>
/// finds those through /proc/self/fd.
/// </summary>
internal static class OpenDatabases
{
    private static readonly ConcurrentDictionary<FileId, int> Files = new();

    /// <summary>
    /// Registers the database before it is opened. A file that does not exist yet is created empty first (SQLite
    /// treats an empty file as a new database), so that it has an identity to register.
    /// </summary>
    /// <returns>The registered identity; default when the file could not be created (nothing registered).</returns>
    internal static FileId Add(string fullPath)
    {
        if (FileId.Of(fullPath) is not { } id)
        {
            try
            {
                var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
                if (!OperatingSystem.IsWindows())
                {
                    options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead
                        | UnixFileMode.OtherRead; // SQLite's own default for a new database (0644)
                }

                new FileStream(fullPath, options).Dispose(); // a new, empty file nobody else has open
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // created by someone else meanwhile (registered below), or not creatable here: SQLite's open then fails
                // with the message that says what to change, and there is nothing to register
            }

            if (FileId.Of(fullPath) is not { } created)
            {
                return default;
            }

            id = created;
        }

        Files.AddOrUpdate(id, 1, static (_, count) => count + 1);
        return id;
    }

    internal static void Remove(FileId id)
    {
        if (id == default)
        {
            return;
        }

        while (Files.TryGetValue(id, out var count))
        {
            if (count <= 1 ? Files.TryRemove(new KeyValuePair<FileId, int>(id, count)) : Files.TryUpdate(id, count - 1, count))
            {
                return;
            }
        }
    }

    internal static bool Contains(string fullPath) => FileId.Of(fullPath) is { } id && Files.ContainsKey(id);
}
