using System.Globalization;
using Walden.Files;

namespace Walden.Backup;

/// <summary>
/// Restores a backup: verify it, extract it beside the target, check it there, put the source's
/// journal mode back, and let <see cref="Quarantine.Swap"/> put it in place (which keeps the old
/// database, with its -wal and -shm, in quarantine and refuses while anyone has it open).
/// </summary>
internal static class BackupRestorer
{
    internal static WaldenRestore Restore(string backupPath, string databasePath, Action<Microsoft.Data.Sqlite.SqliteConnection>? configure,
        TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        // SQLite follows a symbolic link and keeps the companions beside its target: the target is what is replaced, in its own
        // folder, and its old content is what goes into quarantine (replacing the link would leave the application's file as it was).
        var given = Path.GetFullPath(databasePath);
        LinkPath.EnsureResolvable(given, mayCreate: true);
        LinkPath.EnsureResolvable(backupPath);

        var target = OpenErrors.RealPath(given) ?? given;
        var source = Path.GetFullPath(backupPath);
        if (!File.Exists(source))
        {
            throw new WaldenConfigurationException(Directory.Exists(source)
                ? $"'{source}' is a folder; pass one backup file inside it ('walden backups {source}' lists them)."
                : $"The backup '{source}' does not exist. Check the path; 'walden backups <folder>' lists the backups in a folder.");
        }

        // Neither is opened before this: a named pipe would block the verification, and replacing a device would move its node.
        FileKind.EnsureDatabaseFile(source);
        FileKind.EnsureDatabaseFile(given); // names the link the user gave, and where it leads
        // The same file under another name (a link, a hard link, the same path): the swap would move the backup itself into
        // quarantine and put a copy of it in its place.
        if ((OpenErrors.RealPath(source) ?? source) == target || FileId.Of(source) is { } sourceId && sourceId == FileId.Of(target))
        {
            throw new WaldenConfigurationException(
                $"'{given}' is the backup '{source}' itself{(target != given ? $" (it leads to '{target}')" : "")}: " +
                "restoring a backup onto itself would move the backup into quarantine and leave a copy of it in its place. Nothing was changed. " +
                "Pass the application's database as the target, such as 'walden restore <backup> app.db'.");
        }

        if (Directory.Exists(target))
        {
            throw new WaldenConfigurationException($"'{target}' is a directory; pass the database file to restore to, such as '{Path.Combine(target, "app.db")}'.");
        }

        var folder = Path.GetDirectoryName(target)!;
        if (OutputPath.Problem(target, "app.db") is { } wrongTarget)
        {
            throw new WaldenConfigurationException(wrongTarget);
        }

        if (!Directory.Exists(folder))
        {
            throw new WaldenConfigurationException($"The folder '{folder}' does not exist. Create it before restoring '{Path.GetFileName(target)}' into it.");
        }

        if (OpenErrors.FolderNotWritable(folder, $"Restoring '{source}'") is { } readOnly)
        {
            throw new WaldenConfigurationException(readOnly); // the new file is written beside the target, then swapped in
        }

        // Fail before reading a large backup; Quarantine.Swap checks again right before the swap.
        LockProbe.EnsureNotInUse(target, "Restoring a backup over the database");
        Quarantine.EnsureSingleName(target);
        var stamp = timeProvider.GetUtcNow().UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
        var temp = Path.Combine(folder, $"{Path.GetFileName(target)}.restore-{stamp}-{Guid.NewGuid():N}{BackupFiles.PartialSuffix}");
        try
        {
            var entry = BackupVerifier.Verify(backupPath, temp, configure, cancellationToken);
            if (entry.State != WaldenBackupState.Verified)
            {
                throw new WaldenBackupRejectedException(
                    $"The backup '{entry.Path}' cannot be restored: {entry.Problem}. Nothing was changed. " +
                    "Pick a verified backup (walden backups <folder> lists them).", entry);
            }

            var backup = entry.Backup!;
            BackupInspector.SetJournalMode(temp, backup.SourceJournalMode);
            // The restored database keeps the permission bits of the one it replaces; a new one gets those of the database the
            // backup was taken from (recorded in the manifest); a backup without them leaves it owner-only.
            FileModes.Apply(temp, FileModes.Of(target) ?? FileModes.Parse(backup.SourceFileMode));
            FileModes.KeepOwner(temp, target);

            BackupFiles.Fsync(temp);
            cancellationToken.ThrowIfCancellationRequested();
            var quarantine = Quarantine.Swap(target, temp, $"replaced by restoring the backup '{backup.Path}' (taken {backup.CreatedAt:u})", timeProvider);
            return new WaldenRestore(target, backup, quarantine);
        }
        catch (Exception ex) when (IoErrors.IsFileSystem(ex))
        {
            throw IoErrors.Translate(ex, $"Restoring '{source}' to '{target}'", folder);
        }
        catch (Microsoft.Data.Sqlite.SqliteException ex)
        {
            throw Errors.SqliteErrors.Translate(ex, $"Restoring '{source}' to '{target}'", new WaldenOptions());
        }
        finally
        {
            // After a successful swap the temporary file is the database and no longer exists under this name.
            var files = DatabaseFiles.For(temp);
            foreach (var path in files.Companions.Prepend(files.Database))
            {
                BackupFiles.DeleteOwn(path);
            }
        }
    }
}
