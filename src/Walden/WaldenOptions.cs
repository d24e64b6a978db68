using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Walden.Integrity;

namespace Walden;

/// <summary>
/// How a <see cref="WaldenDatabase"/> runs. A plain class: set what you need, keep the documented
/// defaults for the rest. Validated once by <see cref="WaldenDatabase.OpenAsync"/>, which throws one
/// <see cref="WaldenConfigurationException"/> listing every value out of range.
/// </summary>
public sealed class WaldenOptions
{
    /// <summary>When a write is acknowledged as durable.</summary>
    /// <value>The default value is <see cref="WaldenDurability.Full"/> (synchronous FULL).</value>
    public WaldenDurability Durability { get; set; } = WaldenDurability.Full;

    /// <summary>
    /// How long an operation waits for a lock held by another connection or process before it fails
    /// with <see cref="WaldenBusyException"/>. Walden polls about every millisecond while it waits.
    /// </summary>
    /// <value>The default value is 5 seconds. Allowed: 0 to 10 minutes.</value>
    public TimeSpan BusyTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The number of read-only connections that serve <see cref="WaldenDatabase.ReadAsync{T}"/> at once.</summary>
    /// <value>The default value is 4. Allowed: 1 to 256.</value>
    public int ReaderPoolSize { get; set; } = 4;

    /// <summary>
    /// How many accepted writes may wait for the writer. When the queue is full, <see cref="WaldenDatabase.WriteAsync{T}"/>
    /// waits for room (back-pressure) instead of growing memory without bound.
    /// </summary>
    /// <value>The default value is 10,000 writes. Allowed: 1 to 1,000,000.</value>
    public int WriteQueueCapacity { get; set; } = 10_000;

    /// <summary>The most writes committed together in one transaction (one fsync).</summary>
    /// <value>The default value is 1,000 writes. Allowed: 1 to 100,000.</value>
    public int MaxBatchSize { get; set; } = 1_000;

    /// <summary>The page cache of each connection, in bytes (<c>PRAGMA cache_size</c>).</summary>
    /// <value>The default value is 16 MiB. Allowed: 64 KiB to 16 GiB.</value>
    public long CacheSize { get; set; } = 16L * 1024 * 1024;

    /// <summary>How much of the database file each connection maps into memory, in bytes (<c>PRAGMA mmap_size</c>); 0 turns it off.</summary>
    /// <value>The default value is 256 MiB. Allowed: 0 to 64 GiB.</value>
    public long MmapSize { get; set; } = 256L * 1024 * 1024;

    /// <summary>Whether foreign key constraints are enforced (<c>PRAGMA foreign_keys</c>).</summary>
    /// <value>The default value is true.</value>
    public bool ForeignKeys { get; set; } = true;

    /// <summary>
    /// The integrity check run when the database is opened, after a check of the file header (magic
    /// string, page size, truncation). Its result and duration are in <see cref="WaldenDatabase.LastIntegrityCheck"/>.
    /// </summary>
    /// <value>The default value is <see cref="WaldenIntegrityCheck.Quick"/> (<c>PRAGMA quick_check</c>).</value>
    public WaldenIntegrityCheck IntegrityCheck { get; set; } = WaldenIntegrityCheck.Quick;

    /// <summary>What happens when the database is found corrupt at open.</summary>
    /// <value>The default value is <see cref="WaldenCorruptionPolicy.Fail"/>: the open throws <see cref="WaldenCorruptException"/> with the findings.</value>
    public WaldenCorruptionPolicy CorruptionPolicy { get; set; } = WaldenCorruptionPolicy.Fail;

    /// <summary>
    /// For <see cref="WaldenCorruptionPolicy.Recover"/>: a healthy copy or backup of the database, or a <c>.sql</c>
    /// file with its CREATE statements, used to rebuild tables whose schema page is lost
    /// (see <see cref="Recovery.WaldenRecoveryOptions.SchemaFrom"/>).
    /// </summary>
    /// <value>The default value is null (only the schema found in the damaged file).</value>
    public string? RecoverySchemaFrom { get; set; }

    /// <summary>
    /// How often a full <c>integrity_check</c> runs in the background on a reader connection, table by
    /// table, each table in its own short read transaction so that checkpoints are not held back; never
    /// two at once. Its result is in <see cref="WaldenDatabase.LastIntegrityCheck"/>; corruption found
    /// turns <see cref="WaldenDatabase.HealthState"/> to Corrupt.
    /// </summary>
    /// <value>The default value is null (off). Allowed: 1 second to 30 days.</value>
    public TimeSpan? BackgroundIntegrityCheckInterval { get; set; }

    /// <summary>The name used in logs and metric tags for this database.</summary>
    /// <value>The default value is null, which means the file name without its folder.</value>
    public string? Name { get; set; }

    /// <summary>Where Walden writes its log.</summary>
    /// <value>The default value is <see cref="NullLoggerFactory.Instance"/> (no logging).</value>
    public ILoggerFactory LoggerFactory { get; set; } = NullLoggerFactory.Instance;

    /// <summary>The clock for every time Walden measures or schedules; tests pass a fake one.</summary>
    /// <value>The default value is <see cref="TimeProvider.System"/>.</value>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>
    /// Scheduled backups and their retention (<see cref="Walden.Backup.WaldenBackupOptions"/>): set
    /// <c>Backup.Interval</c> and <c>Backup.Directory</c> and the open database backs itself up on that
    /// schedule; <see cref="WaldenDatabase.LastBackup"/> reports how it went.
    /// </summary>
    /// <value>The default value is options with no <c>Interval</c>: no scheduled backups.</value>
    public Backup.WaldenBackupOptions Backup { get; set; } = new();

    /// <summary>Test seams; never set by applications.</summary>
    internal Writing.WriterFaults? Faults { get; set; }

    /// <summary>Test seam: an SQLite VFS to open the file with (e.g. "unix-none", which has no shared memory and so cannot do WAL).</summary>
    internal string? Vfs { get; set; }

    internal WaldenOptions Clone()
    {
        var clone = (WaldenOptions)MemberwiseClone();
        clone.Backup = Backup?.Clone()!;
        return clone;
    }

    internal void Validate()
    {
        var problems = new List<string>();
        if (!Enum.IsDefined(Durability))
        {
            problems.Add($"Durability must be Full or Normal (currently {(int)Durability}).");
        }

        if (BusyTimeout < TimeSpan.Zero || BusyTimeout > TimeSpan.FromMinutes(10))
        {
            problems.Add($"BusyTimeout must be between 0 and 10 minutes (currently {BusyTimeout}).");
        }

        Range(problems, nameof(ReaderPoolSize), ReaderPoolSize, 1, 256, "connections");
        Range(problems, nameof(WriteQueueCapacity), WriteQueueCapacity, 1, 1_000_000, "writes");
        Range(problems, nameof(MaxBatchSize), MaxBatchSize, 1, 100_000, "writes");
        Range(problems, nameof(CacheSize), CacheSize, 64L * 1024, 16L * 1024 * 1024 * 1024, "bytes");
        Range(problems, nameof(MmapSize), MmapSize, 0, 64L * 1024 * 1024 * 1024, "bytes");
        if (!Enum.IsDefined(IntegrityCheck))
        {
            problems.Add($"IntegrityCheck must be None, Quick or Full (currently {(int)IntegrityCheck}).");
        }

        if (!Enum.IsDefined(CorruptionPolicy))
        {
            problems.Add($"CorruptionPolicy must be Fail, Recover or ReadOnly (currently {(int)CorruptionPolicy}).");
        }

        if (BackgroundIntegrityCheckInterval is { } interval && (interval < TimeSpan.FromSeconds(1) || interval > TimeSpan.FromDays(30)))
        {
            problems.Add($"BackgroundIntegrityCheckInterval must be between 1 second and 30 days, or null for off (currently {interval}).");
        }

        if (RecoverySchemaFrom is { } schema && string.IsNullOrWhiteSpace(schema))
        {
            problems.Add("RecoverySchemaFrom must not be blank; leave it null when there is no schema source.");
        }

        if (Name is { } name && string.IsNullOrWhiteSpace(name))
        {
            problems.Add("Name must not be blank; leave it null to use the file name.");
        }

        if (LoggerFactory is null)
        {
            problems.Add("LoggerFactory must not be null; use NullLoggerFactory.Instance for no logging.");
        }

        if (TimeProvider is null)
        {
            problems.Add("TimeProvider must not be null; use TimeProvider.System.");
        }

        if (Backup is null)
        {
            problems.Add("Backup must not be null; leave Backup.Interval null for no scheduled backups.");
        }
        else
        {
            Backup.Validate(problems, "Backup.", scheduled: true);
        }

        if (problems.Count > 0)
        {
            throw new WaldenConfigurationException(problems);
        }
    }

    private static void Range(List<string> problems, string name, long value, long min, long max, string unit)
    {
        if (value < min || value > max)
        {
            problems.Add($"{name} must be between {min:N0} and {max:N0} {unit} (currently {value:N0}).");
        }
    }
}
