namespace Walden.Backup;

/// <summary>Whether a file in a backup folder can be trusted as a backup.</summary>
public enum WaldenBackupState
{
    /// <summary>A manifest vouches for it and the file matches the manifest (size, or size and checksum and integrity when re-verified).</summary>
    Verified = 0,

    /// <summary>No manifest: an interrupted or failed copy. Never counted as a backup, never restored.</summary>
    Unverified = 1,

    /// <summary>It has a manifest but the file no longer matches it (missing, resized, checksum or integrity check failed).</summary>
    Damaged = 2,
}

/// <summary>One file in a backup folder, as <see cref="WaldenBackups.List(string)"/> or <see cref="WaldenBackups.VerifyAsync(string, CancellationToken)"/> found it.</summary>
/// <param name="Path">The backup file.</param>
/// <param name="State">Whether it can be trusted.</param>
/// <param name="StoredBytes">Its size on disk, from file metadata; null when it is missing.</param>
/// <param name="Backup">Its manifest, when it has one.</param>
/// <param name="Problem">Why it is not verified, in words; null when it is.</param>
public sealed record WaldenBackupEntry(string Path, WaldenBackupState State, long? StoredBytes, WaldenBackup? Backup, string? Problem);

/// <summary>What <see cref="WaldenBackups.RestoreAsync(string, string, CancellationToken)"/> did.</summary>
/// <param name="DatabasePath">The database that now holds the backup's contents.</param>
/// <param name="Backup">The backup that was restored, re-verified against its manifest.</param>
/// <param name="Quarantine">Where the database that was there before went (with its -wal and -shm); null when there was none.</param>
public sealed record WaldenRestore(string DatabasePath, WaldenBackup Backup, Files.WaldenQuarantine? Quarantine);
