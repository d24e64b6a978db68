using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Walden.Archiving;
using Walden.Checkpointing;
using Walden.Configuration;
using Walden.Diagnostics;
using Walden.Integrity;
using Walden.Native;
using Walden.Reading;
using Walden.Writing;

namespace Walden;

/// <summary>
/// One SQLite database file used safely by many threads: every write goes through one group-commit
/// writer and is acknowledged only once durable; reads run on a pool of read-only connections that
/// never block the writer. Hold one instance per file for the life of the application.
/// </summary>
public sealed partial class WaldenDatabase : IAsyncDisposable, IDatabaseGauges
{
    private readonly WaldenOptions _options;
    private readonly ILogger _logger;
    private readonly ConnectionFactory _factory;
    private readonly OpenedConnection? _writerConnection; // null, with the writer, checkpointer and WAL hook, for a read-only instance
    private readonly GroupCommitWriter? _writer;
    private readonly ReaderPool _readers;
    private readonly HealthSignals _health;
    private readonly DatabaseMetrics _metrics;
    private readonly CheckpointScheduler? _checkpointer;
    private readonly WalHook? _walHook;
    private readonly Archiver? _archiver;
    private readonly Files.CoordinationFile? _coordination;
    private readonly WriteTurn? _turn;
    private int _disposed;
    private Task? _disposal;

    private WaldenDatabase(string path, WaldenOptions options, ConnectionFactory factory, OpenedConnection? writerConnection, WaldenConnectionSettings settings)
    {
        Path = path;
        Name = options.Name ?? System.IO.Path.GetFileName(path);
        _options = options;
        _logger = options.LoggerFactory.CreateLogger("Walden");
        _factory = factory;
        _writerConnection = writerConnection;
        Settings = settings;
        _health = new HealthSignals(Name, options);
        _health.CorruptionDetected += OnCorruptionDetected;
        _metrics = new DatabaseMetrics(Name, options.TimeProvider, _logger);
        _readers = new ReaderPool(factory, options, _health, Name);
        if (writerConnection is null)
        {
            _metrics.Attach(this);
            return; // read-only: the reader pool only
        }

        _checkpointer = new CheckpointScheduler(factory, options, Name, path, settings.PageSize, _metrics, _health,
            _readers.OldestLeaseAge, () => _readers.ReadsStarted, StartScheduledMaintenance);
        _archiver = options.Archive.Enabled ? new Archiver(options.Archive, Name, path, options.TimeProvider, options.LoggerFactory)
            {
                Connections = factory,
                Durability = options.Durability,
                Faults = options.Faults,
            }
            : null;
        _checkpointer.Seam = _archiver?.Seam;
        // Only where a commit waits for an fdatasync of the WAL (Normal syncs it at checkpoints, long after the growth).
        var preallocation = options.Durability == WaldenDurability.Normal
            ? null
            : new WalPreallocation(writerConnection.Connection, settings.PageSize, factory.JournalSizeLimit);
        _writer = new GroupCommitWriter(writerConnection.Connection, options, Name, _health, _metrics, _checkpointer.Pause)
        {
            Archive = _archiver,
            Preallocation = preallocation,
        };
        _walHook = WalHook.Install(writerConnection.Connection, _checkpointer, _archiver?.Seam, preallocation);
        // Other Walden processes on the file: one write turn among their writers, one checkpointer (see Files.CoordinationFile).
        _coordination = Files.CoordinationFile.Open(path);
        if (_coordination is not null)
        {
            _turn = new WriteTurn(_coordination, Name);
            _writer.UseTurn(_turn, writerConnection.Busy);
        }

        var lease = new CheckpointLease(_coordination);
        lease.TryTake();
        _checkpointer.UseCoordination(lease, _turn);
        _metrics.Attach(this);
    }

    /// <summary>The archive of this database, or null when <see cref="WaldenOptions.Archive"/> has no destination (tests, bench).</summary>
    internal Archiver? Archiver => _archiver;

    /// <summary>The database file's identity in <see cref="Files.OpenDatabases"/>, registered before the first connection opened.</summary>
    private Files.FileId Registration { get; set; }

    /// <summary>The full path of the database file.</summary>
    public string Path { get; }

    /// <summary>The name used in logs and metric tags (<see cref="WaldenOptions.Name"/>, or the file name).</summary>
    public string Name { get; }

    /// <summary>The configuration in force, as SQLite reported it back when the database was opened.</summary>
    public WaldenConnectionSettings Settings { get; }

    /// <summary>The version of the native SQLite library in this process, e.g. "3.54.1".</summary>
    public static string SqliteVersion => SqliteLibrary.Version;

    /// <summary>
    /// Opens (or creates) the database at <paramref name="path"/> in WAL mode, checks the native SQLite
    /// and the options, and starts the writer. Throws <see cref="WaldenConfigurationException"/> saying
    /// what to change when the path, the file or the options are not usable.
    /// </summary>
    /// <param name="path">The database file. Its folder must exist and be writable.</param>
    /// <param name="options">How the database runs; null for the documented defaults.</param>
    /// <param name="cancellationToken">Cancels the open.</param>
    public static async Task<WaldenDatabase> OpenAsync(string path, WaldenOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        options = (options ?? new WaldenOptions()).Clone();
        options.Validate();
        SqliteLibrary.EnsureSupported();
        var fullPath = CheckPath(path, options.MustExist);
        EnsureSingleName(fullPath);
        SqliteNeighbours.Check(fullPath, options.LoggerFactory.CreateLogger("Walden"));
        cancellationToken.ThrowIfCancellationRequested();

        // Opening does file I/O and may wait on locks: keep it off the caller's thread.
        return await Task.Run(() => Open(fullPath, options), cancellationToken).ConfigureAwait(false);
    }

    private static WaldenDatabase Open(string path, WaldenOptions options, WaldenRecoveryReport? recovered = null)
    {
        var factory = new ConnectionFactory(path, options);
        // Registered (by device and inode) before the first connection opens, so no Walden file operation in this
        // process can open a descriptor on it from now on; released again on every path that does not open it.
        var registration = Files.OpenDatabases.Add(path);
        WaldenIntegrityReport? toRecover;
        try
        {
            var database = Open(path, options, factory, registration, recovered, out toRecover);
            if (database is not null)
            {
                return database;
            }
        }
        catch
        {
            Files.OpenDatabases.Remove(registration);
            throw;
        }

        Files.OpenDatabases.Remove(registration); // the recovery swaps the file: it must not be registered as open here
        return RecoverAndOpen(path, options, toRecover!);
    }

    /// <summary>Opens the checked database; null (with the failed check) when CorruptionPolicy.Recover should recover it first.</summary>
    private static WaldenDatabase? Open(string path, WaldenOptions options, ConnectionFactory factory, Files.FileId registration,
        WaldenRecoveryReport? recovered, out WaldenIntegrityReport? toRecover)
    {
        toRecover = null;
        var (writer, check) = OpenChecked(path, options, factory);
        if (!check.IsHealthy && options.CorruptionPolicy != WaldenCorruptionPolicy.ReadOnly)
        {
            writer?.Dispose();
            if (options.CorruptionPolicy == WaldenCorruptionPolicy.Recover && recovered is null)
            {
                toRecover = check;
                return null;
            }

            throw new WaldenCorruptException(
                $"The database '{path}' is corrupt: {string.Join(" | ", check.Findings)}. " +
                (recovered is null
                    ? "Nothing was changed. Set WaldenOptions.CorruptionPolicy = Recover to recover it at open (the damaged original is kept in quarantine), ReadOnly to serve what is readable, or run 'walden recover <db> --in-place'."
                    : "It is still corrupt after recovery; the damaged original is in quarantine. Inspect it with 'walden check'."),
                Errors.SqliteErrors.Corrupt, Errors.SqliteErrors.Corrupt);
        }

        if (writer is null)
        {
            throw new WaldenCorruptException(
                $"The database '{path}' is too damaged to open even read-only ({string.Join(" | ", check.Findings)}). Run 'walden recover <db> --in-place' or open it with CorruptionPolicy = Recover.",
                Errors.SqliteErrors.Corrupt, Errors.SqliteErrors.Corrupt);
        }

        WaldenDatabase? database = null;
        try
        {
            var settings = factory.ReadSettings(writer.Connection);
            factory.Verify(settings);
            database = new WaldenDatabase(path, options, factory, writer, settings)
            {
                Registration = registration,
                LastIntegrityCheck = options.IntegrityCheck == WaldenIntegrityCheck.None && check.IsHealthy ? null : check,
                RecoveryAtOpen = recovered,
            };
            if (!check.IsHealthy)
            {
                database._health.ReportCorruption("The integrity check at open", string.Join(" | ", check.Findings), null); // ReadOnly policy
            }

            database.CheckEnvironmentAtOpen();
            if (factory.LegacyStringObjects is { Count: > 0 } legacy)
            {
                LogMessages.LegacyStringLiterals(database._logger, database.Name, string.Join(", ", legacy));
            }

            database._archiver?.Open(writer.Connection); // the first base snapshot, before any write
            options.OpenFault?.Invoke("writer", database);
            database._writer!.Start();
            options.OpenFault?.Invoke("checkpointer", database);
            database._checkpointer!.Start();
            options.OpenFault?.Invoke("backups", database);
            database.StartBackups();
            database.StartBackgroundCheck();
            database.StartWalWatch();
            database.StartEnvironmentWatch();
            options.OpenFault?.Invoke("opened", database);
            LogMessages.Opened(database._logger, database.Name, path, settings.SqliteVersion, settings.Synchronous, options.ReaderPoolSize);
            return database;
        }
        catch (Exception ex)
        {
            // Undo everything the open started (threads, timers, metric registrations, the open-database entry, connections).
            if (database is not null)
            {
                database.Registration = default; // the caller releases the registration it made, once
                database.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
            else
            {
                writer.Dispose();
            }

            if (ex is SqliteException sqlite)
            {
                throw Errors.SqliteErrors.Translate(sqlite, $"Opening '{path}'", options);
            }

            throw;
        }
    }

    /// <summary>
    /// Refuses a database file with more than one name (hard links, st_nlink over 1), before any connection opens: SQLite
    /// names the -wal, the -shm and Walden's lock file after the path, so two programs opening the file by two names keep
    /// two WALs and two lock files for one database and overwrite each other's commits (sqlite.org/howtocorrupt.html 2.5).
    /// </summary>
    /// <exception cref="WaldenConfigurationException">The file has other names.</exception>
    private static void EnsureSingleName(string fullPath)
    {
        if (Diagnostics.Doctor.FileOwner.Of(fullPath)?.Links is > 1 and var names)
        {
            throw new WaldenConfigurationException(
                $"'{fullPath}' has {names} names (hard links): a program opening it by another name would use another -wal, -shm and " +
                "lock file for the same database, and the two would overwrite each other's commits. Nothing was opened. " +
                $"Find the other names with 'find / -xdev -samefile {fullPath}', remove them (or make every program use this one " +
                "name; a symbolic link is safe), then open it again.");
        }
    }

    private static string CheckPath(string path, bool mustExist)
    {
        if (path == ":memory:" || path.StartsWith("file:", StringComparison.OrdinalIgnoreCase))
        {
            throw new WaldenConfigurationException(
                $"'{path}' is not a file path. Walden needs a database file on a local disk (WAL does not work in memory); pass a path such as 'data/app.db'.");
        }

        var fullPath = System.IO.Path.GetFullPath(path);
        if (Directory.Exists(fullPath))
        {
            throw new WaldenConfigurationException(
                $"'{fullPath}' is a directory, not a database file. Pass the path of a file inside it, such as '{System.IO.Path.Combine(fullPath, "app.db")}'.");
        }

        // Before anything opens it: a named pipe blocks the open forever, and a device reads as an empty or endless file.
        Files.FileKind.EnsureDatabaseFile(fullPath);
        var folder = System.IO.Path.GetDirectoryName(fullPath)!;
        if (!Directory.Exists(folder))
        {
            // A file where a folder should be is named as one: "the folder does not exist" sent the user to create what is there.
            for (var parent = folder; parent is not null && !Directory.Exists(parent); parent = System.IO.Path.GetDirectoryName(parent))
            {
                if (File.Exists(parent))
                {
                    throw new WaldenConfigurationException(
                        $"'{fullPath}' cannot be opened or created: '{parent}' on its path is a file, not a folder. Check the path.");
                }
            }

            throw new WaldenConfigurationException(
                $"The folder '{folder}' does not exist. Create it before opening '{System.IO.Path.GetFileName(fullPath)}' in it.");
        }

        if (Files.OrphanedCompanions.Problem(Files.OpenErrors.RealPath(fullPath) ?? fullPath) is { } orphaned)
        {
            throw new WaldenConfigurationException(orphaned);
        }

        if (mustExist && !File.Exists(fullPath))
        {
            throw new WaldenConfigurationException(
                $"The database '{fullPath}' does not exist and WaldenOptions.MustExist is set, so Walden does not create it. " +
                "Check the path (a typo would otherwise create a second, empty database), or set MustExist = false to create it.");
        }

        return fullPath;
    }

    private WaldenClosedException Closed() =>
        new($"The Walden database '{Name}' has been disposed and accepts no more work. Open it again with WaldenDatabase.OpenAsync.");

    /// <summary>
    /// Stops accepting writes, commits everything already accepted, waits for running reads (up to
    /// <see cref="WaldenOptions.CloseReadTimeout"/>, then interrupts them), checkpoints
    /// the WAL into the database, runs <c>PRAGMA optimize</c> and closes every connection. Safe to call
    /// more than once; later calls wait for the first.
    /// </summary>
    public ValueTask DisposeAsync()
    {
        if (Interlocked.CompareExchange(ref _disposed, 1, 0) == 0)
        {
            _disposal = DisposeCoreAsync();
        }

        return new ValueTask(_disposal!);
    }

    private async Task DisposeCoreAsync()
    {
        await StopWalWatchAsync().ConfigureAwait(false);
        await StopEnvironmentWatchAsync().ConfigureAwait(false);
        await StopBackupsAsync().ConfigureAwait(false);
        await StopBackgroundCheckAsync().ConfigureAwait(false);
        _writer?.Complete();
        await (_writer?.Completion ?? Task.CompletedTask).ConfigureAwait(false);
        await (_checkpointer?.StopAsync(Closed()) ?? Task.CompletedTask).ConfigureAwait(false);
        await _readers.CloseAsync(_options.CloseReadTimeout).ConfigureAwait(false);
        await Task.Run(CloseWriter).ConfigureAwait(false);
        _turn?.Dispose();
        _coordination?.Dispose();
        Files.OpenDatabases.Remove(Registration);
        _metrics.Dispose();
        LogMessages.Closed(_logger, Name);
    }

    private void CloseWriter()
    {
        if (_writerConnection is null || _writer is null || _checkpointer is null)
        {
            return; // a read-only instance has no writer
        }

        var connection = _writerConnection.Connection;
        // No checkpoint and no optimize on a corrupt database, or after a failed fsync: nothing more is written into it.
        // Another Walden process holding the checkpoint lease checkpoints for this one; the holder closes with TRUNCATE, in its
        // turn among the writers of the other processes.
        // A write delegate that closed Walden's connection stopped the writer: there is nothing left to run the close steps on.
        var open = connection.State == System.Data.ConnectionState.Open;
        if (open && !_health.IsCorrupt && _health.SyncFailure is null && _checkpointer.IsCheckpointHolder)
        {
            RunCloseStep("The closing checkpoint", () =>
            {
                _turn?.Acquire(_options.BusyTimeout);
                try
                {
                    ConnectionFactory.Execute(connection, "PRAGMA wal_checkpoint(TRUNCATE)");
                }
                finally
                {
                    _turn?.Release();
                }
            });
        }

        if (open && !_health.IsCorrupt && _health.SyncFailure is null)
        {
            RunCloseStep("PRAGMA optimize", () => ConnectionFactory.Execute(connection, "PRAGMA optimize"));
        }

        _archiver?.Close(); // after the closing optimize: its commit was taken by the WAL hook too
        _writer.DisposeCommands();
        CommandCache.Release(connection);
        _writerConnection.Dispose();
        _walHook?.Dispose(); // after the connection: SQLite may call the hook until it is closed
    }

    private void RunCloseStep(string step, Action action)
    {
        try
        {
            action();
        }
        catch (SqliteException ex)
        {
            LogMessages.CloseStepFailed(_logger, step, ex);
        }
    }
}
