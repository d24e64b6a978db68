namespace Walden.Files;

/// <summary>
/// The files that make up one SQLite database: the database itself and its -wal, -shm and -journal
/// companions. Sizes come from file metadata only; Walden never reads these files outside SQLite.
/// </summary>
internal sealed record DatabaseFiles(string Database)
{
    internal string Wal => Database + "-wal";

    internal string Shm => Database + "-shm";

    internal string Journal => Database + "-journal";

    /// <summary>The companions, in the order they must be moved away before the database itself.</summary>
    internal IEnumerable<string> Companions => [Wal, Shm, Journal];

    internal static DatabaseFiles For(string path) => new(Path.GetFullPath(path));

    /// <summary>
    /// The size of a file from its metadata, or null when it does not exist: the one way Walden measures
    /// a database, -wal or -shm file. It never opens the file (closing any descriptor on a database file
    /// would drop this process's POSIX locks on it: sqlite.org/howtocorrupt.html, section 2.2).
    /// </summary>
    internal static long? SizeOf(string path)
    {
        var file = new FileInfo(path);
        return file.Exists ? file.Length : null;
    }
}
