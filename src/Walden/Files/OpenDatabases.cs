using System.Collections.Concurrent;

namespace Walden.Files;

/// <summary>
/// The database files this process has open through Walden. Needed because POSIX locks belong to the
/// process: the lock probe cannot see this process's own locks, and opening and closing any descriptor
/// on a file this process has open in SQLite would silently drop SQLite's locks on it
/// (sqlite.org/howtocorrupt.html, section 2.2). So file operations ask here first.
/// </summary>
internal static class OpenDatabases
{
    private static readonly ConcurrentDictionary<string, int> Paths = new(StringComparer.Ordinal);

    internal static void Add(string fullPath) => Paths.AddOrUpdate(fullPath, 1, static (_, count) => count + 1);

    internal static void Remove(string fullPath)
    {
        while (Paths.TryGetValue(fullPath, out var count))
        {
            if (count <= 1 ? Paths.TryRemove(new KeyValuePair<string, int>(fullPath, count)) : Paths.TryUpdate(fullPath, count - 1, count))
            {
                return;
            }
        }
    }

    internal static bool Contains(string fullPath) => Paths.ContainsKey(fullPath);
}
