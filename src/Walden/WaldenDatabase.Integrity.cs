using Microsoft.Data.Sqlite;
using Walden.Configuration;
using Walden.Diagnostics;
using Walden.Integrity;
using Walden.Recovery;

namespace Walden;

public sealed partial class WaldenDatabase
{
    private ITimer? _backgroundTimer;
    private Task _backgroundCheck = Task.CompletedTask;
    private int _backgroundRunning;
    private WaldenIntegrityReport? _lastIntegrityCheck;

    /// <summary>
    /// The status of <see cref="GetHealth"/> with the default thresholds: Unhealthy once corruption was seen (at open,
    /// by an integrity check, or as SQLITE_CORRUPT/SQLITE_NOTADB from any read or write; writes are then refused with
    /// <see cref="WaldenCorruptException"/> and reads still attempted), while the file is read-only or the disk full, or
    /// when the writer stopped; Degraded or Healthy otherwise. <see cref="GetHealth"/> gives the reasons.
    /// </summary>
    public WaldenHealthStatus HealthState => GetHealth().Status;

    /// <summary>How the corruption was found (what, when, SQLite's code); null while healthy, and after a file of the database was lost (see <see cref="GetHealth"/>).</summary>
    public WaldenCorruption? Corruption => _health.IsFileLoss ? null : _health.Corruption;

    /// <summary>The last integrity check (at open, in the background, or on demand) with its result and duration; null when none ran.</summary>
    public WaldenIntegrityReport? LastIntegrityCheck
    {
        get => Volatile.Read(ref _lastIntegrityCheck);
        private init => _lastIntegrityCheck = value;
    }

    /// <summary>When the database was corrupt at open and <see cref="WaldenCorruptionPolicy.Recover"/> recovered it: the recovery's report.</summary>
    public WaldenRecoveryReport? RecoveryAtOpen { get; private init; }

    /// <summary>Raised once when corruption is first detected, on the thread that found it; keep handlers short.</summary>
    public event EventHandler<WaldenCorruption>? CorruptionDetected;

    /// <summary>Test seam: raised after each background check.</summary>
    internal event Action<WaldenIntegrityReport>? BackgroundCheckCompleted;

    /// <summary>
    /// Runs an integrity check now, table by table on reader connections (each table in its own read
    /// transaction, so checkpoints are not held back), and records it in <see cref="LastIntegrityCheck"/>.
    /// Corruption found makes <see cref="HealthState"/> Unhealthy.
    /// </summary>
    public Task<WaldenIntegrityReport> CheckIntegrityAsync(WaldenIntegrityCheck kind = WaldenIntegrityCheck.Full, CancellationToken cancellationToken = default) =>
        CheckCoreAsync(kind == WaldenIntegrityCheck.None ? WaldenIntegrityCheck.Quick : kind, "on demand", cancellationToken);

    private async Task<WaldenIntegrityReport> CheckCoreAsync(WaldenIntegrityCheck kind, string trigger, CancellationToken cancellationToken)
    {
        var clock = _options.TimeProvider;
        var started = clock.GetTimestamp();
        var findings = new List<string>();
        try
        {
            var tables = await ReadAsync(ListTables, cancellationToken).ConfigureAwait(false);
            foreach (var table in tables)
            {
                findings.AddRange(await ReadAsync(c => IntegrityChecker.Run(c, kind, table), cancellationToken).ConfigureAwait(false));
            }
        }
        catch (WaldenCorruptException ex)
        {
            findings.Add(ex.Message);
        }

        var report = new WaldenIntegrityReport(kind, findings.Count == 0, findings, clock.GetElapsedTime(started), clock.GetUtcNow(), trigger);
        Volatile.Write(ref _lastIntegrityCheck, report);
        LogMessages.IntegrityChecked(_logger, kind, trigger, Name, findings.Count == 0 ? "ok" : $"{findings.Count} finding(s)", report.Duration.TotalMilliseconds);
        if (findings.Count > 0)
        {
            _health.ReportCorruption($"The {trigger} integrity check", string.Join(" | ", findings), null);
        }

        return report;
    }

    private static List<string> ListTables(SqliteConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND sql IS NOT NULL ORDER BY rootpage";
        using var reader = command.ExecuteReader();
        var names = new List<string>();
        while (reader.Read())
        {
            if (!Integrity.VirtualTableSql.IsVirtualTable(reader.GetString(1)))
            {
                names.Add(reader.GetString(0));
            }
        }

        return names;
    }

    private void StartBackgroundCheck()
    {
        if (_options.BackgroundIntegrityCheckInterval is not { } interval)
        {
            return;
        }

        using (ExecutionContext.SuppressFlow())
        {
            _backgroundTimer = _options.TimeProvider.CreateTimer(_ => OnBackgroundTick(), null, interval, interval);
        }
    }

    private void OnBackgroundTick()
    {
        // One check at a time, none after disposal, none once the database is known corrupt.
        if (Volatile.Read(ref _disposed) != 0 || _health.IsCorrupt || Interlocked.CompareExchange(ref _backgroundRunning, 1, 0) != 0)
        {
            return;
        }

        _backgroundCheck = RunBackgroundCheckAsync();
    }

    private async Task RunBackgroundCheckAsync()
    {
        try
        {
            var report = await CheckCoreAsync(WaldenIntegrityCheck.Full, "background", CancellationToken.None).ConfigureAwait(false);
            BackgroundCheckCompleted?.Invoke(report);
        }
        catch (Exception ex) when (ex is WaldenException or SqliteException)
        {
            LogMessages.BackgroundCheckFailed(_logger, Name, ex);
        }
        finally
        {
            Volatile.Write(ref _backgroundRunning, 0);
        }
    }

    private async Task StopBackgroundCheckAsync()
    {
        if (_backgroundTimer is { } timer)
        {
            await timer.DisposeAsync().ConfigureAwait(false);
        }

        await _backgroundCheck.ConfigureAwait(false);
    }

    private void OnCorruptionDetected(WaldenCorruption corruption) => CorruptionDetected?.Invoke(this, corruption);

    /// <summary>
    /// Checks the file, then opens the writer. Nothing changes the file before the check passed: the header is read
    /// while no connection of this process has the file open, the SQLite check runs on a read-only connection (or,
    /// when a hot journal must first be rolled back, on the writer with query_only set and the journal mode left as
    /// it is), and only a healthy file (or one opened under <see cref="WaldenCorruptionPolicy.ReadOnly"/>) is switched to WAL.
    /// </summary>
    private static (OpenedConnection? Writer, WaldenIntegrityReport Check) OpenChecked(string path, WaldenOptions options, ConnectionFactory factory)
    {
        var clock = options.TimeProvider;
        var started = clock.GetTimestamp();
        // The header is read outside SQLite only while no descriptor of this process is on the file (see IntegrityChecker).
        var header = IntegrityChecker.InspectHeader(path, options.BusyTimeout);
        if (header.Busy is { } waited)
        {
            // Another process is writing the file (a new database's first transaction has pages but no header yet): busy, not damaged.
            throw Files.OpenErrors.StillWriting(path, waited, options, openingHere: true);
        }

        if (header.NotADatabase)
        {
            // The finding already says "Check the path." (it is also walden check's finding): only what Walden opens is added.
            throw new WaldenConfigurationException(header.Findings[0] + " Walden opens only SQLite databases.");
        }

        var findings = header.Findings.ToList();
        // Before any connection: SQLite's open would ignore the committed transactions past a damaged -wal frame, and the
        // writer's first checkpoint would destroy them. Refused as a damaged file (CorruptionPolicy decides what follows).
        if (findings.Count == 0 && WalChainBreak.Find(path, openingHere: true) is { } walBreak)
        {
            findings.Add(walBreak.Finding);
        }

        OpenedConnection? writer = null;
        if (findings.Count == 0)
        {
            var checkedReadOnly = options.IntegrityCheck == WaldenIntegrityCheck.None
                || CheckReadOnly(factory, options.IntegrityCheck, findings);
            if (findings.Count == 0 || options.CorruptionPolicy == WaldenCorruptionPolicy.ReadOnly)
            {
                writer = OpenWriter(path, factory, options, checkedReadOnly, findings);
            }
        }

        var kind = options.IntegrityCheck == WaldenIntegrityCheck.None ? WaldenIntegrityCheck.Quick : options.IntegrityCheck;
        var report = new WaldenIntegrityReport(kind, findings.Count == 0, findings, clock.GetElapsedTime(started), clock.GetUtcNow(), "open");
        if (options.IntegrityCheck != WaldenIntegrityCheck.None || findings.Count > 0)
        {
            // With IntegrityCheck = None no check ran: say nothing rather than "ok" (only a damaged header is reported).
            LogMessages.IntegrityChecked(options.LoggerFactory.CreateLogger("Walden.Integrity"), kind, "open", options.Name ?? System.IO.Path.GetFileName(path), findings.Count == 0 ? "ok" : $"{findings.Count} finding(s)", report.Duration.TotalMilliseconds);
        }
        return (writer, report);
    }

    /// <summary>
    /// Runs the check at open on a read-only connection. False when a read-only connection cannot check the file
    /// (a hot journal that SQLite must roll back first, or a lock in the way): the writer then checks it.
    /// </summary>
    private static bool CheckReadOnly(ConnectionFactory factory, WaldenIntegrityCheck kind, List<string> findings)
    {
        try
        {
            using var connection = factory.OpenForCheck();
            findings.AddRange(IntegrityChecker.Run(connection, kind));
            return true;
        }
        catch (SqliteException ex) when (Errors.SqliteErrors.IsCorrupt(ex.SqliteErrorCode))
        {
            findings.Add(ex.Message);
            return true;
        }
        catch (SqliteException)
        {
            return false;
        }
    }

    /// <summary>Opens the writer; when the file was not checked yet, checks it first and switches it to WAL only if healthy.</summary>
    private static OpenedConnection? OpenWriter(string path, ConnectionFactory factory, WaldenOptions options, bool alreadyChecked,
        List<string> findings)
    {
        OpenedConnection? writer = null;
        try
        {
            if (alreadyChecked)
            {
                return factory.Open(writer: true);
            }

            writer = factory.Open(ConnectionRole.Writer, switchToWal: false);
            findings.AddRange(IntegrityChecker.Run(writer.Connection, options.IntegrityCheck));
            if (findings.Count == 0 || options.CorruptionPolicy == WaldenCorruptionPolicy.ReadOnly)
            {
                factory.SwitchToWal(writer.Connection);
            }

            return writer;
        }
        catch (WaldenCorruptException ex)
        {
            writer?.Dispose();
            findings.Add(ex.Message);
            return null;
        }
        catch (SqliteException ex)
        {
            // e.g. a schema that needs the application's own collation or full-text tokenizer: say which, and how to register it
            var tokenizers = writer is null ? null : Integrity.ApplicationTokenizers.MissingForWriting(writer.Connection, path);
            writer?.Dispose();
            throw tokenizers is null ? Files.OpenErrors.Explain(ex, path, writing: true, options) : new WaldenConfigurationException(tokenizers, ex);
        }
        catch
        {
            writer?.Dispose();
            throw;
        }
    }

    private static WaldenDatabase RecoverAndOpen(string path, WaldenOptions options, WaldenIntegrityReport check)
    {
        var logger = options.LoggerFactory.CreateLogger("Walden.Integrity");
        var name = options.Name ?? System.IO.Path.GetFileName(path);
        WaldenRecoveryReport recovery;
        SchemaSource? source = null;
        try
        {
            source = Recovery.RecoveryAtOpen.FindSchemaSource(path, options);
            var schema = source is null ? null : KnownSchema.Load(new WaldenRecoveryOptions { SchemaFrom = source.Path });
            recovery = WaldenRecovery.RecoverInPlace(path, new WaldenRecoveryOptions
            {
                SchemaFrom = source?.Path,
                TimeProvider = options.TimeProvider,
                ConfigureConnection = options.ConfigureConnection, // the application's own collations and functions rebuild what stand-ins computed
                RefuseSwap = report => Recovery.RecoveryAtOpen.Judge(report, schema, source),
            });
        }
        catch (WaldenRecoveryIncompleteException ex)
        {
            var refusal = Incomplete(path, check, ex);
            LogMessages.RecoveryAtOpenRefused(logger, name, refusal.Message);
            return options.OpenIncompleteRecoveryReadOnly ? OpenRecoveredReadOnly(options, refusal) : throw refusal;
        }
        catch (WaldenException ex)
        {
            throw new WaldenCorruptException(
                $"The database '{path}' is corrupt ({string.Join(" | ", check.Findings)}) and CorruptionPolicy = Recover could not recover it: {ex.Message}",
                Errors.SqliteErrors.Corrupt, Errors.SqliteErrors.Corrupt, ex);
        }
        finally
        {
            if (source is { Temporary: true })
            {
                File.Delete(source.Path);
            }
        }

        LogMessages.RecoveredAtOpen(logger, name, recovery.RowsRecovered, recovery.LostAndFoundRows, recovery.Quarantine?.Folder ?? "(nothing to keep)");
        return Open(path, options, recovery);
    }

    private static WaldenRecoveryIncompleteException Incomplete(string path, WaldenIntegrityReport check, WaldenRecoveryIncompleteException ex) => new(
        $"The database '{path}' is corrupt ({string.Join(" | ", check.Findings)}) and CorruptionPolicy = Recover could not give its rows back to the " +
        $"application's tables: {ex.Message}. Walden did not open the result, so the application cannot start over from empty tables. " +
        $"Nothing was changed at '{path}': the damaged original is still there. What was recovered ({ex.Report.RowsRecovered:N0} rows in tables, " +
        $"{ex.Report.LostAndFoundRows:N0} in lost_and_found) is kept in '{ex.RecoveredPath}'. To go on: restore a backup ('walden restore <backup> {path}'), " +
        "or set WaldenOptions.RecoverySchemaFrom to a healthy copy, a backup or the .sql schema of this database and open again, " +
        "or set WaldenOptions.OpenIncompleteRecoveryReadOnly = true to read what was recovered.",
        ex.DatabasePath, ex.RecoveredPath, ex.Report);

    /// <summary>
    /// Opens the kept recovered file instead of the database, with every write refused (health Corrupt, with the
    /// refusal as the reason) and no scheduled backups, so neither the application nor retention takes it for the database.
    /// </summary>
    private static WaldenDatabase OpenRecoveredReadOnly(WaldenOptions options, WaldenRecoveryIncompleteException refusal)
    {
        var readOnly = options.Clone();
        readOnly.CorruptionPolicy = WaldenCorruptionPolicy.ReadOnly;
        readOnly.Backup = new WaldenBackupOptions();
        readOnly.BackgroundIntegrityCheckInterval = null;
        var database = Open(refusal.RecoveredPath, readOnly, refusal.Report);
        database._health.ReportCorruption("The recovery at open", refusal.Message, null);
        return database;
    }
}
