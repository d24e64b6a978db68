namespace Walden.Files;

/// <summary>
/// Checks a path a new file is to be written at (a restore's or a recovery's output), so that the message says what the
/// path really is: a folder (give a file inside it), or a path whose folder is missing or is itself a file.
/// </summary>
internal static class OutputPath
{
    /// <summary>Why no new file can be written at <paramref name="fullPath"/>, saying what to give instead; null when it can be tried.</summary>
    /// <param name="fullPath">The output's full path.</param>
    /// <param name="example">A file name to suggest inside a folder given as the output, such as <c>restored.db</c>.</param>
    internal static string? Problem(string fullPath, string example)
    {
        if (LinkPath.Problem(fullPath, mayCreate: true) is { } unresolvable)
        {
            return unresolvable; // else a loop on the way reads as "a file" and a dangling folder link as "does not exist"
        }

        var trimmed = Path.TrimEndingDirectorySeparator(fullPath);
        if (Directory.Exists(trimmed))
        {
            return $"'{fullPath}' is a folder, not a file path. Give the path of a new file inside it, such as '{Path.Combine(trimmed, example)}'.";
        }

        var folder = Path.GetDirectoryName(trimmed);
        if (folder is null || Directory.Exists(folder))
        {
            return null;
        }

        for (var parent = folder; parent is not null; parent = Path.GetDirectoryName(parent))
        {
            if (File.Exists(parent))
            {
                return $"'{fullPath}' cannot be created: '{parent}' on its path is a file, not a folder. Choose an output path in an existing folder.";
            }

            if (Directory.Exists(parent))
            {
                break;
            }
        }

        return $"The folder '{folder}' does not exist. Create it, or choose an output path in an existing folder.";
    }
}
