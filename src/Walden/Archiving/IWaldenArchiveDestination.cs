namespace Walden;

/// <summary>
/// Where an archive (<see cref="WaldenArchiveOptions"/>) keeps its objects: base snapshots and segments, each written
/// once and never changed. <see cref="WaldenFolderDestination"/> is the built-in one; an object store implements the
/// same five calls. Calls are synchronous and may block (the archive calls them from its own threads); an
/// implementation must be safe for one caller at a time.
/// </summary>
public interface IWaldenArchiveDestination
{
    /// <summary>A short description for messages and health, e.g. the folder path or the bucket URL.</summary>
    string Name { get; }

    /// <summary>
    /// Stores <paramref name="content"/> (read from its current position to its end) under <paramref name="name"/>
    /// (a relative path with '/' separators). Returns only once the object is durable; an object that already exists
    /// is an error, never overwritten. The archive reuses the stream's memory for its next object once this returns, so
    /// an implementation reads all of it before returning.
    /// </summary>
    /// <exception cref="IOException">The object could not be stored (missing, full, read-only, unreachable destination).</exception>
    void Put(string name, Stream content);

    /// <summary>Lists the objects whose names start with <paramref name="prefix"/> (empty: all), in no particular order.</summary>
    IReadOnlyList<WaldenArchiveObject> List(string prefix);

    /// <summary>Opens a stored object for reading.</summary>
    /// <exception cref="FileNotFoundException">There is no such object.</exception>
    Stream OpenRead(string name);

    /// <summary>Deletes an object (used by retention and compaction only); a missing object is not an error.</summary>
    void Delete(string name);
}

/// <summary>An object in an archive destination.</summary>
/// <param name="Name">Its name, a relative path with '/' separators.</param>
/// <param name="Length">Its size in bytes.</param>
public sealed record WaldenArchiveObject(string Name, long Length);
