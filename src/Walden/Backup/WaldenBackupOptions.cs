namespace Walden;

/// <summary>
/// How backups are taken, kept and scheduled. Used by <see cref="WaldenDatabase.BackupAsync"/>,
/// <see cref="Backup.WaldenBackups.BackupAsync"/> and, through <see cref="WaldenOptions.Backup"/>, by the
/// scheduled backups of an open database. Set what you need; keep the documented defaults for the rest.
/// </summary>
public sealed class WaldenBackupOptions
{
    /// <summary>
    /// The folder scheduled backups are written to (created owner-only if missing). Required when
    /// <see cref="Interval"/> is set; ignored by the methods that take a folder argument.
    /// </summary>
    /// <value>The default value is null.</value>
    public string? Directory { get; set; }

    /// <summary>
    /// How often an open <see cref="WaldenDatabase"/> backs itself up, driven by
    /// <see cref="WaldenOptions.TimeProvider"/>. The first backup runs at open when the newest verified
    /// backup in <see cref="Directory"/> is older than this (or there is none), otherwise when it becomes due.
    /// </summary>
    /// <value>The default value is null: no scheduled backups. Allowed: 1 minute to 30 days.</value>
    public TimeSpan? Interval { get; set; }

    /// <summary>
    /// How many of the newest verified backups of the same database are always kept. Older verified ones
    /// are deleted after each new verified backup, unless <see cref="KeepFor"/> keeps them. Unverified
    /// files are never deleted by retention, and the newest verified backup never is.
    /// </summary>
    /// <value>The default value is 7 backups. Allowed: 1 to 100,000.</value>
    public int KeepLast { get; set; } = 7;

    /// <summary>
    /// Verified backups younger than this are kept even beyond <see cref="KeepLast"/>. A backup is
    /// deleted only when both rules allow it.
    /// </summary>
    /// <value>The default value is null: only <see cref="KeepLast"/> decides. Allowed: 1 minute to 100 years.</value>
    public TimeSpan? KeepFor { get; set; }

    /// <summary>How the copy is stored. The manifest records the checksum of the database and of the stored file.</summary>
    /// <value>The default value is <see cref="WaldenBackupCompression.None"/>.</value>
    public WaldenBackupCompression Compression { get; set; } = WaldenBackupCompression.None;

    /// <summary>
    /// Take the copy with <c>VACUUM INTO</c>, which writes a compacted file (no free pages) in one
    /// statement, instead of copying pages in steps with the online backup API.
    /// </summary>
    /// <value>The default value is false (the backup API).</value>
    public bool Vacuum { get; set; }

    /// <summary>
    /// How many pages the backup API copies per step. Between steps the copy yields the CPU and checks
    /// for cancellation. In WAL mode the copy never blocks the writer, whatever the step size.
    /// </summary>
    /// <value>The default value is 1,024 pages (4 MiB with 4 KiB pages). Allowed: 1 to 1,000,000.</value>
    public int PagesPerStep { get; set; } = 1024;

    /// <summary>
    /// The most bytes per second the backup API copies; the copy sleeps between steps to stay under it.
    /// On a busy machine this leaves CPU and disk to the writer, at the cost of a longer copy (during
    /// which the WAL cannot be checkpointed past the copy's snapshot, so it grows).
    /// </summary>
    /// <value>The default value is null: as fast as SQLite copies. Allowed: 1 MB/s (1,000,000) and up.</value>
    public long? MaxBytesPerSecond { get; set; }

    /// <summary>
    /// The application's own collations and SQL functions, registered the way <see cref="WaldenOptions.ConfigureConnection"/>
    /// registers them, on the connections <see cref="Backup.WaldenBackups.BackupAsync"/> reads the file and verifies the copy
    /// with, and on those the <see cref="Backup.WaldenBackups.VerifyAsync(string, WaldenBackupOptions?, CancellationToken)"/> and
    /// <see cref="Backup.WaldenBackups.RestoreAsync(string, string, WaldenBackupOptions?, CancellationToken)"/> overloads check
    /// a stored backup with. With them the verification is a full one; names still missing get stand-ins (a collation in binary order, a
    /// function returning NULL), and the backup's notes say what they left unverified. The backups of an open
    /// <see cref="WaldenDatabase"/> ignore this and use its <see cref="WaldenOptions.ConfigureConnection"/>.
    /// </summary>
    /// <value>The default value is null: stand-ins for every name the schema needs.</value>
    public Action<Microsoft.Data.Sqlite.SqliteConnection>? ConfigureConnection { get; set; }

    internal WaldenBackupOptions Clone() => (WaldenBackupOptions)MemberwiseClone();

    /// <summary>Adds a sentence for every value out of range; <paramref name="prefix"/> names where the options sit.</summary>
    internal void Validate(List<string> problems, string prefix, bool scheduled)
    {
        if (Interval is { } interval && (interval < TimeSpan.FromMinutes(1) || interval > TimeSpan.FromDays(30)))
        {
            problems.Add($"{prefix}Interval must be between 1 minute and 30 days, or null for no scheduled backups (currently {interval}).");
        }

        if (scheduled && Interval is not null && string.IsNullOrWhiteSpace(Directory))
        {
            problems.Add($"{prefix}Directory must be set when {prefix}Interval is set (currently {(Directory is null ? "null" : "blank")}); give the folder the backups go to.");
        }

        if (KeepLast is < 1 or > 100_000)
        {
            problems.Add($"{prefix}KeepLast must be between 1 and 100,000 backups (currently {KeepLast:N0}); the newest verified backup is always kept.");
        }

        if (KeepFor is { } keepFor && (keepFor < TimeSpan.FromMinutes(1) || keepFor > TimeSpan.FromDays(36_500)))
        {
            problems.Add($"{prefix}KeepFor must be between 1 minute and 100 years, or null (currently {keepFor}).");
        }

        if (!Enum.IsDefined(Compression))
        {
            problems.Add($"{prefix}Compression must be None, GZip or Brotli (currently {(int)Compression}).");
        }

        ValidateRate(problems, prefix, MaxBytesPerSecond);
        if (PagesPerStep is < 1 or > 1_000_000)
        {
            problems.Add($"{prefix}PagesPerStep must be between 1 and 1,000,000 pages (currently {PagesPerStep:N0}).");
        }
    }

    private static void ValidateRate(List<string> problems, string prefix, long? rate)
    {
        if (rate is < 1_000_000)
        {
            problems.Add($"{prefix}MaxBytesPerSecond must be at least 1,000,000 (1 MB/s), or null for no limit (currently {rate:N0}).");
        }
    }

    internal void Validate()
    {
        var problems = new List<string>();
        Validate(problems, "", scheduled: false);
        if (problems.Count > 0)
        {
            throw new WaldenConfigurationException(problems);
        }
    }
}
