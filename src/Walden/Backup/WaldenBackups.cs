using Walden.Configuration;
using Walden.Files;
using Walden.Native;

namespace Walden.Backup;

/// <summary>
/// Backups of any SQLite database file (including one another process has open and is writing), and
/// listing, verifying and restoring backups. For a database this process has open through Walden, use
/// <see cref="WaldenDatabase.BackupAsync"/> and <see cref="WaldenOptions.Backup"/> instead.
/// </summary>
public static class WaldenBackups
{
    /// <summary>
    /// Copies the database at <paramref name="databasePath"/> into <paramref name="directory"/> through
    /// SQLite's online backup API (or <c>VACUUM INTO</c>) on a read-only connection of its own, never by
    /// copying file bytes. Other processes may keep writing: in WAL mode they are not blocked; in
    /// rollback-journal mode they wait until the copy is done. The copy is verified and its manifest
    /// written before it counts; then retention runs.
    /// </summary>
    /// <param name="databasePath">Any SQLite database file.</param>
    /// <param name="directory">The backup folder, created owner-only if missing.</param>
    /// <param name="options">How to copy and what to keep; null for the documented defaults.</param>
    /// <param name="cancellationToken">Stops the copy between steps; the partial copy is removed.</param>
    public static Task<WaldenBackup> BackupAsync(string databasePath, string directory, WaldenBackupOptions? options = null, CancellationToken cancellationToken = default) =>
        BackupCoreAsync(databasePath, directory, options, TimeProvider.System, cancellationToken);

    internal static Task<WaldenBackup> BackupCoreAsync(string databasePath, string directory, WaldenBackupOptions? options, TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(databasePath);
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        options = (options ?? new WaldenBackupOptions()).Clone();
        options.Validate();
        SqliteLibrary.EnsureSupported();
        var fullPath = Path.GetFullPath(databasePath);
        var busyTimeout = new WaldenOptions().BusyTimeout;
        return RunBlocking(() => BackupRunner.Run(() => BackupSource.FromFile(fullPath, busyTimeout, options.ConfigureConnection), directory, options, busyTimeout,
            timeProvider, cancellationToken), cancellationToken);
    }

    /// <summary>
    /// The backups and leftover copies in <paramref name="directory"/>, newest first, judged from their
    /// manifests and file sizes (fast; <see cref="VerifyAsync(string, CancellationToken)"/> re-checks the contents). Only Walden's own files
    /// are listed: copies named as Walden names them (<c>&lt;name&gt;-&lt;UTC time&gt;.db</c>, compressed or partial) and
    /// those a manifest of Walden's vouches for; any other file in the folder (a database of the user's) is left out.
    /// </summary>
    /// <param name="directory">A backup folder.</param>
    public static IReadOnlyList<WaldenBackupEntry> List(string directory) => List(directory, out _);

    /// <summary>
    /// As <see cref="List(string)"/>, and what it left out: the files of the folder that look like databases but are not Walden's,
    /// and its subfolders (ending in '/'), which are not looked into.
    /// </summary>
    internal static IReadOnlyList<WaldenBackupEntry> List(string directory, out IReadOnlyList<string> ignored)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        var folder = Path.GetFullPath(directory);
        if (!Directory.Exists(folder))
        {
            throw new WaldenConfigurationException($"The backup folder '{folder}' does not exist. Check the path.");
        }

        var entries = new List<WaldenBackupEntry>();
        var vouched = new HashSet<string>(StringComparer.Ordinal);
        var others = new List<string>();
        foreach (var manifest in Directory.EnumerateFiles(folder, "*" + BackupFiles.ManifestSuffix))
        {
            var backupPath = manifest[..^BackupFiles.ManifestSuffix.Length];
            var backup = BackupFiles.ReadManifest(manifest, out var problem);
            // A .json beside a file not named as Walden names its copies is Walden's only when it reads as its manifest:
            // anything else (an application's own settings.json, app.db.json) is not a backup, damaged or otherwise.
            if (backup is null && !BackupFiles.IsBackupName(backupPath))
            {
                continue;
            }

            vouched.Add(backupPath);
            var size = DatabaseFiles.SizeOf(backupPath);
            if (backup is null)
            {
                entries.Add(new WaldenBackupEntry(backupPath, size is null ? WaldenBackupState.Damaged : WaldenBackupState.Unverified, size, null, problem));
                continue;
            }

            var shallow = BackupVerifier.ShallowProblem(backup, size);
            entries.Add(new WaldenBackupEntry(backup.Path, shallow is null ? WaldenBackupState.Verified : WaldenBackupState.Damaged, size, backup, shallow));
        }

        foreach (var file in Directory.EnumerateFiles(folder))
        {
            if (vouched.Contains(file) || !IsCopyName(file))
            {
                continue;
            }

            // Without a manifest, only Walden's own name makes a file an interrupted or failed copy; a database of the user's
            // (app.db, a program's notes.db) that sits in the folder is none of Walden's business.
            if (BackupFiles.IsBackupName(file))
            {
                entries.Add(new WaldenBackupEntry(file, WaldenBackupState.Unverified, DatabaseFiles.SizeOf(file), null,
                    "it has no manifest, so it was never verified (an interrupted or failed copy)"));
            }
            else
            {
                others.Add(file);
            }
        }

        // Backups are looked for in the folder itself, never in its subfolders: each is named as left out, with a trailing '/',
        // so that a user who keeps older backups in one knows why they are not in the list.
        others.AddRange(Directory.EnumerateDirectories(folder).Select(d => d + Path.DirectorySeparatorChar));
        ignored = others.Order(StringComparer.Ordinal).ToList();
        return entries
            .OrderByDescending(entry => entry.Backup?.CreatedAt ?? new DateTimeOffset(File.GetLastWriteTimeUtc(entry.Path), TimeSpan.Zero))
            .ThenByDescending(entry => entry.Path, StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>
    /// Re-verifies one backup against its manifest: size and SHA-256 of the stored file, SHA-256 of the
    /// database inside, <c>integrity_check</c>, page and row counts. Reads the whole backup. Names the schema needs that the
    /// application defines (collations, functions) get stand-ins; to verify with the application's own, use
    /// <see cref="VerifyAsync(string, WaldenBackupOptions?, CancellationToken)"/>.
    /// </summary>
    /// <param name="backupPath">The backup file (not its manifest).</param>
    /// <param name="cancellationToken">Stops the verification.</param>
    public static Task<WaldenBackupEntry> VerifyAsync(string backupPath, CancellationToken cancellationToken = default) =>
        VerifyAsync(backupPath, options: null, cancellationToken);

    /// <summary>
    /// As <see cref="VerifyAsync(string, CancellationToken)"/>, with the application's collations and functions
    /// (<see cref="WaldenBackupOptions.ConfigureConnection"/>, registered on the connection that checks the backup): the check is
    /// then a full one, as when the backup was taken with them. The other options are not used here.
    /// </summary>
    /// <param name="backupPath">The backup file (not its manifest).</param>
    /// <param name="options">Only <see cref="WaldenBackupOptions.ConfigureConnection"/> is used; null for the documented default (stand-ins).</param>
    /// <param name="cancellationToken">Stops the verification.</param>
    public static Task<WaldenBackupEntry> VerifyAsync(string backupPath, WaldenBackupOptions? options, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(backupPath);
        SqliteLibrary.EnsureSupported();
        var configure = options?.ConfigureConnection;
        return RunBlocking(() => BackupVerifier.Verify(StripManifest(backupPath), extractTo: null, configure, cancellationToken), cancellationToken);
    }

    /// <summary>
    /// Restores a backup to <paramref name="databasePath"/>: re-verifies it against its manifest, writes it
    /// to a temporary file beside the target, checks that file, puts the source's journal mode back, then
    /// swaps it into place in one atomic rename. A database already there moves, with its -wal and -shm,
    /// into <c>walden-quarantine/</c> beside it, never deleted. Refuses, changing nothing, while any
    /// process (this one included) has the target open, and when the backup is not verified. Names the schema needs that the
    /// application defines get stand-ins; to check with the application's own, use
    /// <see cref="RestoreAsync(string, string, WaldenBackupOptions?, CancellationToken)"/>.
    /// </summary>
    /// <param name="backupPath">The backup file to restore (as listed by <see cref="List(string)"/>).</param>
    /// <param name="databasePath">Where to put it; its folder must exist.</param>
    /// <param name="cancellationToken">Stops the restore before the swap; nothing is changed then.</param>
    /// <exception cref="WaldenBackupRejectedException">The backup is unverified or damaged.</exception>
    /// <exception cref="WaldenDatabaseInUseException">The target database is open in a process.</exception>
    public static Task<WaldenRestore> RestoreAsync(string backupPath, string databasePath, CancellationToken cancellationToken = default) =>
        RestoreCoreAsync(backupPath, databasePath, configure: null, TimeProvider.System, cancellationToken);

    /// <summary>
    /// As <see cref="RestoreAsync(string, string, CancellationToken)"/>, with the application's collations and functions
    /// (<see cref="WaldenBackupOptions.ConfigureConnection"/>, registered on the connection that checks the restored file before
    /// the swap): the check is then a full one, and a backup that is wrong in the application's collation is refused. The other
    /// options are not used here.
    /// </summary>
    /// <param name="backupPath">The backup file to restore (as listed by <see cref="List(string)"/>).</param>
    /// <param name="databasePath">Where to put it; its folder must exist.</param>
    /// <param name="options">Only <see cref="WaldenBackupOptions.ConfigureConnection"/> is used; null for the documented default (stand-ins).</param>
    /// <param name="cancellationToken">Stops the restore before the swap; nothing is changed then.</param>
    /// <exception cref="WaldenBackupRejectedException">The backup is unverified or damaged (with the application's definitions, when given).</exception>
    /// <exception cref="WaldenDatabaseInUseException">The target database is open in a process.</exception>
    public static Task<WaldenRestore> RestoreAsync(string backupPath, string databasePath, WaldenBackupOptions? options,
        CancellationToken cancellationToken = default) =>
        RestoreCoreAsync(backupPath, databasePath, options?.ConfigureConnection, TimeProvider.System, cancellationToken);

    internal static Task<WaldenRestore> RestoreCoreAsync(string backupPath, string databasePath, Action<Microsoft.Data.Sqlite.SqliteConnection>? configure,
        TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(backupPath);
        ArgumentException.ThrowIfNullOrWhiteSpace(databasePath);
        SqliteLibrary.EnsureSupported();
        return RunBlocking(() => BackupRestorer.Restore(StripManifest(backupPath), databasePath, configure, timeProvider, cancellationToken), cancellationToken);
    }

    private static string StripManifest(string path) =>
        path.EndsWith(BackupFiles.ManifestSuffix, StringComparison.Ordinal) ? path[..^BackupFiles.ManifestSuffix.Length] : path;

    private static bool IsCopyName(string file) =>
        file.EndsWith(".db", StringComparison.Ordinal) || file.EndsWith(".db.gz", StringComparison.Ordinal)
        || file.EndsWith(".db.br", StringComparison.Ordinal) || file.EndsWith(BackupFiles.PartialSuffix, StringComparison.Ordinal);

    /// <summary>SQLite and file I/O block for seconds to minutes: run them on a thread of their own, not a pool thread.</summary>
    internal static Task<T> RunBlocking<T>(Func<T> work, CancellationToken cancellationToken) =>
        Task.Factory.StartNew(work, cancellationToken, TaskCreationOptions.LongRunning | TaskCreationOptions.DenyChildAttach, TaskScheduler.Default);
}
