using System.IO.Compression;
using System.Security.Cryptography;

namespace Walden.Backup;

/// <summary>
/// Re-verifies a stored backup against its manifest: the stored file's size and SHA-256, then the
/// database inside it (decompressed into a temporary file when compressed): its SHA-256,
/// <c>integrity_check</c>, page count and row counts. Any difference makes it Damaged.
/// </summary>
internal static class BackupVerifier
{
    /// <summary>
    /// Verifies <paramref name="backupPath"/>. With <paramref name="extractTo"/> the database is written
    /// there (owner-only) and checked there, for a restore; the caller owns that file afterwards. <paramref name="configure"/>
    /// registers the application's collations and functions (null: stand-ins).
    /// </summary>
    internal static WaldenBackupEntry Verify(string backupPath, string? extractTo, Action<Microsoft.Data.Sqlite.SqliteConnection>? configure,
        CancellationToken cancellationToken)
    {
        backupPath = Path.GetFullPath(backupPath);
        var backup = BackupFiles.ReadManifest(BackupFiles.ManifestPathOf(backupPath), out var manifestProblem);
        var size = Files.DatabaseFiles.SizeOf(backupPath);
        if (backup is null)
        {
            return new WaldenBackupEntry(backupPath, WaldenBackupState.Unverified, size, null, manifestProblem);
        }

        if (ShallowProblem(backup, size) is { } shallow)
        {
            return Damaged(backup, size, shallow);
        }

        var storedSha = BackupFiles.Sha256(backupPath, cancellationToken);
        if (storedSha != backup.StoredSha256)
        {
            return Damaged(backup, size, $"its SHA-256 is {storedSha}, the manifest says {backup.StoredSha256}: the file changed after it was verified");
        }

        var checkPath = backupPath;
        var temporary = false;
        if (extractTo is not null || backup.Compression != WaldenBackupCompression.None)
        {
            checkPath = extractTo ?? Path.Combine(Path.GetTempPath(), $"walden-verify-{Guid.NewGuid():N}.db");
            temporary = extractTo is null;
            var databaseSha = Extract(backupPath, backup.Compression, checkPath, cancellationToken, out var extractProblem);
            if (extractProblem is not null || databaseSha != backup.DatabaseSha256)
            {
                CleanUp(checkPath, temporary);
                return Damaged(backup, size, extractProblem ?? $"the database inside has SHA-256 {databaseSha}, the manifest says {backup.DatabaseSha256}");
            }
        }

        try
        {
            var facts = BackupInspector.InspectReadOnly(checkPath, configure, cancellationToken);
            var problem = !facts.IsIntact ? $"its integrity check failed: {facts.IntegrityCheck}"
                : facts.PageCount != backup.PageCount ? $"it has {facts.PageCount:N0} pages, the manifest says {backup.PageCount:N0}"
                : RowProblem(facts.TableRows, backup.TableRows);
            return problem is null
                ? new WaldenBackupEntry(backupPath, WaldenBackupState.Verified, size, backup, null)
                : Damaged(backup, size, problem);
        }
        catch (Microsoft.Data.Sqlite.SqliteException ex)
        {
            return Damaged(backup, size, $"SQLite cannot read it: {ex.Message}");
        }
        finally
        {
            CleanUp(checkPath, temporary);
        }
    }

    /// <summary>What file metadata alone says is wrong with a backup, or null.</summary>
    internal static string? ShallowProblem(WaldenBackup backup, long? size) =>
        size is null ? "the file is missing"
        : size != backup.StoredBytes ? $"it is {size:N0} bytes, the manifest says {backup.StoredBytes:N0}"
        : null;

    private static WaldenBackupEntry Damaged(WaldenBackup backup, long? size, string problem) =>
        new(backup.Path, WaldenBackupState.Damaged, size, backup, problem);

    private static string? RowProblem(Dictionary<string, long> actual, IReadOnlyDictionary<string, long> expected)
    {
        foreach (var (table, rows) in expected)
        {
            if (!actual.TryGetValue(table, out var found) || found != rows)
            {
                return $"table '{table}' has {found:N0} rows, the manifest says {rows:N0}";
            }
        }

        return actual.Count == expected.Count ? null : "it has tables the manifest does not list";
    }

    /// <summary>Writes the database inside the backup to <paramref name="target"/> and returns its SHA-256.</summary>
    private static string Extract(string backupPath, WaldenBackupCompression compression, string target, CancellationToken cancellationToken, out string? problem)
    {
        problem = null;
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        try
        {
            using var input = new FileStream(backupPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan);
            using var source = compression == WaldenBackupCompression.None ? input : BackupRunner.CompressionStream(input, compression, CompressionMode.Decompress);
            using var output = new FileStream(target, BackupFiles.OwnerOnlyOptions(FileMode.CreateNew, FileAccess.Write));
            var buffer = new byte[1 << 20];
            int read;
            while ((read = source.Read(buffer)) > 0)
            {
                cancellationToken.ThrowIfCancellationRequested();
                hash.AppendData(buffer, 0, read);
                output.Write(buffer, 0, read);
            }

            output.Flush(flushToDisk: true);
        }
        catch (InvalidDataException ex)
        {
            problem = $"it cannot be decompressed: {ex.Message}";
        }

        return BackupFiles.Hex(hash.GetHashAndReset());
    }

    private static void CleanUp(string path, bool temporary)
    {
        if (temporary)
        {
            BackupFiles.DeleteOwn(path);
        }
    }
}
