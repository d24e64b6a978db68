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
    /// with <see cref="WaldenBusyException"/>. Walden polls about every millisecond while it waits. Every
    /// statement of Walden's own (the writer's BEGIN IMMEDIATE and COMMIT, checkpoints, backups, maintenance)
    /// waits this long and not noticeably longer; a statement of the application's inside a read or write
    /// that meets a lock gives up after this long or after 1 s, whichever is later (Microsoft.Data.Sqlite's
    /// own retry loop counts in whole seconds).
    /// </summary>
    /// <value>The default value is 5 seconds. Allowed: 0 to 10 minutes.</value>
    public TimeSpan BusyTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// When true, the database file must already exist: <see cref="WaldenDatabase.OpenAsync"/> throws
    /// <see cref="WaldenConfigurationException"/> instead of creating it, so a typo in the path cannot silently make a
    /// second, empty database. Set it in every process that shares a file another process creates.
    /// </summary>
    /// <value>The default value is false: a missing file is created.</value>
    public bool MustExist { get; set; }

    /// <summary>
    /// How long <see cref="WaldenDatabase.DisposeAsync"/> waits for reads still running before it interrupts them
    /// (<c>sqlite3_interrupt</c>; they fail with <see cref="WaldenReadLeaseExpiredException"/>) and closes the database.
    /// A read stuck in application code rather than in SQLite is not waited for longer either: its connection is
    /// closed when it returns.
    /// </summary>
    /// <value>The default value is 5 seconds. Allowed: 0 to 10 minutes.</value>
    public TimeSpan CloseReadTimeout { get; set; } = TimeSpan.FromSeconds(5);

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

    /// <summary>
    /// How much of the database file each connection maps into memory, in bytes (<c>PRAGMA mmap_size</c>); 0 turns it off.
    /// A reader connection reads without its map from the first read that finds the database changed since its read before
    /// (SQLite then unmaps the whole map, and the reads after it fault every page in again), and with it again once its
    /// reads have found no change for a second.
    /// </summary>
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
    /// <value>The default value is null: the newest backup of this database in <see cref="WaldenBackupOptions.Directory"/>
    /// that passes a full re-verification, if any; else only the schema found in the damaged file.</value>
    public string? RecoverySchemaFrom { get; set; }

    /// <summary>
    /// For <see cref="WaldenCorruptionPolicy.Recover"/>, when the recovery could not give the rows back to the application's
    /// tables (a table of the schema source is missing from the result, more rows ended in <c>lost_and_found</c> than in
    /// tables, or no table came back and there was no schema source). False: the open fails with
    /// <see cref="WaldenRecoveryIncompleteException"/>. True: the open returns the recovered copy (kept beside the database,
    /// see <see cref="WaldenRecoveryIncompleteException.RecoveredPath"/>) with every write refused and
    /// <see cref="WaldenDatabase.HealthState"/> Corrupt. Either way the damaged original stays in place, unchanged.
    /// </summary>
    /// <value>The default value is false.</value>
    public bool OpenIncompleteRecoveryReadOnly { get; set; }

    /// <summary>
    /// How often a full <c>integrity_check</c> runs in the background on a reader connection, table by
    /// table, each table in its own short read transaction so that checkpoints are not held back; never
    /// two at once. Its result is in <see cref="WaldenDatabase.LastIntegrityCheck"/>; corruption found
    /// turns <see cref="WaldenDatabase.HealthState"/> to Corrupt.
    /// </summary>
    /// <value>The default value is null (off). Allowed: 1 second to 30 days.</value>
    public TimeSpan? BackgroundIntegrityCheckInterval { get; set; }

    /// <summary>
    /// The size the <c>-wal</c> file should stay under, in bytes. Walden owns checkpointing (SQLite's
    /// auto-checkpoint is off on every Walden connection): it runs PASSIVE checkpoints on a connection
    /// of its own as the WAL grows, and from half this size on a RESTART that briefly holds writes back
    /// so the next commit starts the WAL again from its beginning; from three quarters on, the writer waits
    /// for that RESTART before its next batch. A WAL that a checkpoint reset is shrunk to half this size
    /// (<c>PRAGMA journal_size_limit</c>). A read that holds its snapshot for long can still push the WAL
    /// past the limit (checkpoint starvation; see <see cref="MaxReadLeaseDuration"/>), up to <see cref="MaxWalSize"/>.
    /// </summary>
    /// <value>The default value is 64 MiB. Allowed: 1 MiB to 64 GiB.</value>
    public long WalSizeLimit { get; set; } = 64L * 1024 * 1024;

    /// <summary>
    /// The hard bound on the <c>-wal</c> file, in bytes, for when a read transaction on an old snapshot (in this process
    /// or another) keeps checkpoints from resetting the WAL. Once a commit leaves the WAL at this size, the writer waits
    /// before its next batch for a checkpoint to reset the WAL, up to <see cref="BusyTimeout"/>; then the waiting writes,
    /// and every write after them until the WAL is reset, fail with <see cref="WaldenWalLimitException"/>, which names the
    /// processes holding WAL read locks. So the <c>-wal</c> file never grows past this size plus one batch.
    /// </summary>
    /// <value>The default value is null: 16 times <see cref="WalSizeLimit"/> (1 GiB with the default limit).
    /// Allowed: null, or 2 times <see cref="WalSizeLimit"/> to 1 TiB.</value>
    public long? MaxWalSize { get; set; }

    /// <summary>The hard bound in effect: <see cref="MaxWalSize"/>, or 16 times <see cref="WalSizeLimit"/>.</summary>
    internal long EffectiveMaxWalSize => MaxWalSize ?? WalSizeLimit * DefaultMaxWalSizeFactor;

    internal const int DefaultMaxWalSizeFactor = 16;

    /// <summary>How long the database must go without a commit before Walden checkpoints with TRUNCATE, leaving a zero-byte <c>-wal</c> file.</summary>
    /// <value>The default value is 1 second. Allowed: 10 milliseconds to 1 hour.</value>
    public TimeSpan CheckpointIdleDelay { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// How long the <c>-wal</c> file may stay over <see cref="WalSizeLimit"/> without being reset before Walden
    /// reports checkpoint starvation (a log warning naming the oldest read's age, the
    /// <c>walden.checkpoint.starvations</c> counter and a degraded health status).
    /// </summary>
    /// <value>The default value is 30 seconds. Allowed: 100 milliseconds to 1 day.</value>
    public TimeSpan CheckpointStarvationThreshold { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The longest a <see cref="WaldenDatabase.ReadAsync{T}"/> may hold its snapshot. A read that holds it
    /// longer is interrupted and its snapshot released (a snapshot held open stops checkpoints from
    /// resetting the WAL), and the read fails with <see cref="WaldenReadLeaseExpiredException"/>. Null means no limit.
    /// </summary>
    /// <value>The default value is null (reads are not limited). Allowed: null, or 1 millisecond to 1 day.</value>
    public TimeSpan? MaxReadLeaseDuration { get; set; }

    /// <summary>
    /// How often Walden runs its maintenance through the write queue, as ordinary short writes:
    /// <c>PRAGMA optimize</c> (bounded by <c>analysis_limit</c>) and, on an <c>auto_vacuum=INCREMENTAL</c>
    /// database with a large freelist, one <c>PRAGMA incremental_vacuum</c> step. <see cref="TimeSpan.Zero"/> turns it off;
    /// <c>PRAGMA optimize</c> still runs at close.
    /// </summary>
    /// <value>The default value is 1 hour. Allowed: 0, or 1 second to 7 days.</value>
    public TimeSpan MaintenanceInterval { get; set; } = TimeSpan.FromHours(1);

    /// <summary>
    /// The most free pages one maintenance step returns to the file system with <c>PRAGMA incremental_vacuum</c>;
    /// a step runs only when the freelist holds at least this many pages and the database was created with
    /// <c>PRAGMA auto_vacuum=INCREMENTAL</c>. 0 turns incremental vacuum off.
    /// </summary>
    /// <value>The default value is 2,048 pages (8 MiB at 4 KiB pages). Allowed: 0 to 1,000,000.</value>
    public int IncrementalVacuumPages { get; set; } = 2048;

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
    /// Scheduled backups and their retention (<see cref="Walden.WaldenBackupOptions"/>): set
    /// <c>Backup.Interval</c> and <c>Backup.Directory</c> and the open database backs itself up on that
    /// schedule; <see cref="WaldenDatabase.LastBackup"/> reports how it went.
    /// </summary>
    /// <value>The default value is options with no <c>Interval</c>: no scheduled backups.</value>
    public WaldenBackupOptions Backup { get; set; } = new();

    /// <summary>
    /// Continuous archiving and point-in-time restore (<see cref="WaldenArchiveOptions"/>): add a destination and every
    /// committed transaction reaches it, in commit order, after a base snapshot taken at open.
    /// </summary>
    /// <value>The default value is options with no destination: no archive.</value>
    public WaldenArchiveOptions Archive { get; set; } = new();

    /// <summary>Test seam: called each time the open's switch to WAL found the file locked, before it tries again.</summary>
    internal Action? WalSwitchBusy { get; set; }

    /// <summary>Test seam: called at each step of a successful open with the step's name; a throw there fails the open.</summary>
    internal Action<string, WaldenDatabase>? OpenFault { get; set; }

    /// <summary>
    /// Runs on every connection Walden opens to the database, right after it opens and before any statement reads the
    /// schema: register here the collations and SQL functions the schema uses (an Android app's <c>LOCALIZED</c>
    /// collation, a <c>CHECK(valid_email(email))</c>), e.g. <c>connection.CreateCollation("LOCALIZED", ...)</c>.
    /// Without them, opening such a database throws <see cref="WaldenConfigurationException"/> naming what is missing.
    /// Do not run statements that change the database here.
    /// </summary>
    /// <value>The default value is null: nothing is registered.</value>
    public Action<Microsoft.Data.Sqlite.SqliteConnection>? ConfigureConnection { get; set; }

    /// <summary>Test seams; never set by applications.</summary>
    internal Writing.WriterFaults? Faults { get; set; }

    /// <summary>Test seam: an SQLite VFS to open the file with (e.g. "unix-none", which has no shared memory and so cannot do WAL).</summary>
    internal string? Vfs { get; set; }

    internal WaldenOptions Clone()
    {
        var clone = (WaldenOptions)MemberwiseClone();
        clone.Backup = Backup?.Clone()!;
        clone.Archive = Archive?.Clone()!;
        return clone;
    }

    internal void Validate()
    {
        var problems = new List<string>();
        if (CloseReadTimeout < TimeSpan.Zero || CloseReadTimeout > TimeSpan.FromMinutes(10))
        {
            problems.Add($"CloseReadTimeout must be between 0 and 10 minutes (currently {CloseReadTimeout}).");
        }

        if (!Enum.IsDefined(Durability))
        {
            problems.Add($"Durability must be Full, Normal or FullPipelined (currently {(int)Durability}).");
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

        Range(problems, nameof(WalSizeLimit), WalSizeLimit, 1024L * 1024, 64L * 1024 * 1024 * 1024, "bytes");
        if (MaxWalSize is { } maxWal && (maxWal < 2 * WalSizeLimit || maxWal > 1024L * 1024 * 1024 * 1024))
        {
            problems.Add($"MaxWalSize must be null (16 times WalSizeLimit) or from 2 times WalSizeLimit ({2 * WalSizeLimit:N0} bytes) " +
                $"to 1 TiB (currently {maxWal:N0} bytes).");
        }

        Duration(problems, nameof(CheckpointIdleDelay), CheckpointIdleDelay, TimeSpan.FromMilliseconds(10), TimeSpan.FromHours(1));
        Duration(problems, nameof(CheckpointStarvationThreshold), CheckpointStarvationThreshold, TimeSpan.FromMilliseconds(100), TimeSpan.FromDays(1));
        if (MaxReadLeaseDuration is { } lease)
        {
            Duration(problems, nameof(MaxReadLeaseDuration), lease, TimeSpan.FromMilliseconds(1), TimeSpan.FromDays(1), " or null for no limit");
        }

        if (MaintenanceInterval != TimeSpan.Zero)
        {
            Duration(problems, nameof(MaintenanceInterval), MaintenanceInterval, TimeSpan.FromSeconds(1), TimeSpan.FromDays(7), ", or zero to turn maintenance off");
        }

        Range(problems, nameof(IncrementalVacuumPages), IncrementalVacuumPages, 0, 1_000_000, "pages");
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

        if (Archive is null)
        {
            problems.Add("Archive must not be null; leave Archive.Destinations empty for no archive.");
        }
        else
        {
            Archive.Validate(problems, "Archive.");
        }

        if (problems.Count > 0)
        {
            throw new WaldenConfigurationException(problems);
        }
    }

    private static void Duration(List<string> problems, string name, TimeSpan value, TimeSpan min, TimeSpan max, string alternative = "")
    {
        if (value < min || value > max)
        {
            problems.Add($"{name} must be between {min} and {max}{alternative} (currently {value}).");
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
