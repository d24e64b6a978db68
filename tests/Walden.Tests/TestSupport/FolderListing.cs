namespace Walden.Tests.TestSupport;

/// <summary>
/// Every entry under a folder with what it is, for "nothing was created or changed": files with their length, folders,
/// links with their targets (never followed: a loop or a dangling link would throw), and anything else (a pipe) by name.
/// Reads no file, so a named pipe or a live companion is never opened.
/// </summary>
internal static class FolderListing
{
    public static List<string> Of(string root)
    {
        var entries = new List<string>();
        Walk(root, root, entries);
        return entries;
    }

    private static void Walk(string root, string folder, List<string> entries)
    {
        foreach (var entry in new DirectoryInfo(folder).EnumerateFileSystemInfos().OrderBy(e => e.Name, StringComparer.Ordinal))
        {
            var name = Path.GetRelativePath(root, entry.FullName);
            if (entry.LinkTarget is { } target)
            {
                entries.Add($"{name} -> {target}");
            }
            else if (entry is DirectoryInfo directory)
            {
                entries.Add(name + "/");
                Walk(root, directory.FullName, entries);
            }
            else
            {
                entries.Add($"{name} {entry.Attributes} {((FileInfo)entry).Length} {entry.LastWriteTimeUtc.Ticks}");
            }
        }
    }
}
