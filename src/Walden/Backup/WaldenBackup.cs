using System.Text.Json.Serialization;

namespace Walden;

/// <summary>
/// One verified backup, as recorded in its manifest (<c>&lt;backup file&gt;.json</c>, written last). A copy
/// without a manifest was never verified and is not a backup.
/// </summary>
public sealed record WaldenBackup
{
    /// <summary>The manifest format; bumped when a field changes meaning.</summary>
    public string Format { get; init; } = "walden-backup/1";

    /// <summary>The full path of the stored backup file (plain SQLite, or compressed).</summary>
    [JsonIgnore]
    public string Path { get; init; } = "";

    /// <summary>The file name of the stored backup, relative to the manifest's folder.</summary>
    public required string File { get; init; }

    /// <summary>The full path of the database that was copied.</summary>
    public required string Source { get; init; }

    /// <summary>When the copy's snapshot was taken (UTC).</summary>
    public required DateTimeOffset CreatedAt { get; init; }

    /// <summary>"backup-api" (online backup in steps) or "vacuum-into" (compacted copy).</summary>
    public required string Method { get; init; }

    /// <summary>How the file is stored.</summary>
    public required WaldenBackupCompression Compression { get; init; }

    /// <summary>The journal mode of the source ("wal", "delete", ...); a restore puts it back. The copy itself is stored in rollback (delete) mode, one self-contained file.</summary>
    public required string SourceJournalMode { get; init; }

    /// <summary>The SQLite library that made the copy.</summary>
    public required string SqliteVersion { get; init; }

    /// <summary>The size of the SQLite database in the backup, in bytes.</summary>
    public required long DatabaseBytes { get; init; }

    /// <summary>The SHA-256 (lower-case hex) of the SQLite database in the backup.</summary>
    public required string DatabaseSha256 { get; init; }

    /// <summary>The size of the stored file (equal to <see cref="DatabaseBytes"/> when not compressed).</summary>
    public required long StoredBytes { get; init; }

    /// <summary>The SHA-256 of the stored file (equal to <see cref="DatabaseSha256"/> when not compressed).</summary>
    public required string StoredSha256 { get; init; }

    /// <summary>The page size of the copy.</summary>
    public required int PageSize { get; init; }

    /// <summary>The page count of the copy.</summary>
    public required long PageCount { get; init; }

    /// <summary>What <c>PRAGMA integrity_check</c> reported on the copy: always "ok" in a manifest.</summary>
    public required string IntegrityCheck { get; init; }

    /// <summary>The number of rows in every table of the copy (virtual tables excepted), by name.</summary>
    public required IReadOnlyDictionary<string, long> TableRows { get; init; }

    /// <summary>How long the copy took.</summary>
    public required TimeSpan CopyDuration { get; init; }

    /// <summary>How long verification (integrity check, counts, checksum, compression) took.</summary>
    public required TimeSpan VerifyDuration { get; init; }

    /// <summary>How many times the backup API restarted because the source changed under it (0 when it copies one snapshot, as Walden does).</summary>
    public int Restarts { get; init; }

    /// <summary>
    /// The Unix permission bits of the source database when it was backed up, in octal as <c>chmod</c> takes them
    /// (<c>"644"</c>); null on Windows and in manifests written before Walden recorded them. A restore to a path
    /// where no database exists gives the restored file these bits (over an existing database, it keeps that one's).
    /// </summary>
    public string? SourceFileMode { get; init; }

    /// <summary>
    /// What the verification could not check and the application must: the collations and SQL functions of the
    /// application that the schema uses were replaced by stand-ins (the copy is whole; the indexes and CHECK
    /// constraints that use them were not verified). Empty for most databases.
    /// </summary>
    public IReadOnlyList<string> Notes { get; init; } = [];

    /// <summary>Older backups that retention deleted after this one was verified (full paths).</summary>
    [JsonIgnore]
    public IReadOnlyList<string> Pruned { get; init; } = [];
}
