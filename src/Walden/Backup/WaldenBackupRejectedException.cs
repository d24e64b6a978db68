namespace Walden.Backup;

/// <summary>
/// A backup could not be used because it is not verified: it has no manifest, or it no longer matches
/// its manifest (checksum, integrity check, page or row counts). Nothing was changed.
/// </summary>
public sealed class WaldenBackupRejectedException : WaldenException
{
    /// <summary>Creates the exception.</summary>
    public WaldenBackupRejectedException(string message, WaldenBackupEntry entry)
        : base(message)
    {
        Entry = entry;
    }

    /// <summary>What verification found.</summary>
    public WaldenBackupEntry Entry { get; }
}
