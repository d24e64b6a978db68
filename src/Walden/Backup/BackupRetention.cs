namespace Walden.Backup;

/// <summary>
/// Deletes old verified backups of one database: a backup goes only when it is not among the newest
/// <see cref="WaldenBackupOptions.KeepLast"/> verified ones and (if <see cref="WaldenBackupOptions.KeepFor"/>
/// is set) is older than that. Unverified and damaged files are left for a person to look at, and the
/// newest verified backup is never deleted (KeepLast is at least 1).
/// </summary>
internal static class BackupRetention
{
    internal static IReadOnlyList<string> Prune(string folder, string sourcePath, WaldenBackupOptions options, DateTimeOffset now)
    {
        var verified = WaldenBackups.List(folder)
            .Where(entry => entry.State == WaldenBackupState.Verified && entry.Backup!.Source == sourcePath)
            .OrderByDescending(entry => entry.Backup!.CreatedAt)
            .ThenByDescending(entry => entry.Path, StringComparer.Ordinal)
            .ToList();
        var pruned = new List<string>();
        foreach (var entry in verified.Skip(Math.Max(1, options.KeepLast)))
        {
            if (options.KeepFor is { } keepFor && now - entry.Backup!.CreatedAt <= keepFor)
            {
                continue;
            }

            // Manifest first: a crash in between leaves an unverified file, never a manifest without its file.
            BackupFiles.DeleteOwn(BackupFiles.ManifestPathOf(entry.Path));
            BackupFiles.DeleteOwn(entry.Path);
            pruned.Add(entry.Path);
        }

        return pruned;
    }
}
