using System.Collections.Concurrent;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace Walden.Diagnostics;

/// <summary>
/// The one owner of a database's health inside the engine. The writer, the readers, the checkpointer and
/// the integrity features report what they saw here; <see cref="WaldenDatabase.GetHealth"/> reads it.
/// Corruption is sticky (until the database is recovered and reopened): from then on every write is
/// refused before it reaches SQLite, so a damaged file takes no further damage. A read-only file and a
/// full disk clear at the next successful commit; a stopped writer stays stopped; checkpoint failures
/// clear at the next checkpoint that succeeds.
/// </summary>
internal sealed class HealthSignals
{
    /// <summary>Consecutive failed checkpoints from which the database is Degraded.</summary>
    internal const int CheckpointFailuresForDegraded = 3;

    private readonly string _name;
    private readonly ILogger _logger;
    private readonly TimeProvider _clock;
    private readonly WaldenCorruptionPolicy _policy;
    private WaldenCorruption? _corruption;
    private string? _readOnly;
    private string? _diskFull;
    private string? _writerStopped;
    private string? _lastCheckpointFailure;
    private int _checkpointFailures;
    private string? _walLimit;
    private string? _syncFailed;
    private readonly ConcurrentDictionary<string, string> _environment = new(StringComparer.Ordinal);

    internal HealthSignals(string name, WaldenOptions options)
    {
        _name = name;
        _logger = options.LoggerFactory.CreateLogger("Walden.Integrity");
        _clock = options.TimeProvider;
        _policy = options.CorruptionPolicy;
    }

    /// <summary>Raised once, on the thread that found the corruption.</summary>
    internal event Action<WaldenCorruption>? CorruptionDetected;

    internal WaldenCorruption? Corruption => Volatile.Read(ref _corruption);

    internal bool IsCorrupt => Corruption is not null;

    internal string? ReadOnly => Volatile.Read(ref _readOnly);

    internal string? DiskFull => Volatile.Read(ref _diskFull);

    internal string? WriterStoppedReason => Volatile.Read(ref _writerStopped);

    internal int CheckpointFailures => Volatile.Read(ref _checkpointFailures);

    internal string? LastCheckpointFailure => Volatile.Read(ref _lastCheckpointFailure);

    /// <summary>Marks the database corrupt: from an exception SQLite raised.</summary>
    internal void ReportCorruption(string operation, Exception exception)
    {
        var sqlite = exception as SqliteException ?? exception.InnerException as SqliteException;
        ReportCorruption(operation, exception.Message, sqlite?.SqliteExtendedErrorCode);
    }

    /// <summary>Marks the database corrupt until it is reopened. For the integrity check and recovery features.</summary>
    internal void ReportCorruption(string reason) => ReportCorruption("An integrity check", reason, null);

    internal void ReportCorruption(string operation, string message, int? code)
    {
        var corruption = new WaldenCorruption(operation, message, _clock.GetUtcNow(), code);
        if (Interlocked.CompareExchange(ref _corruption, corruption, null) is not null)
        {
            return; // already known; the first report stands
        }

        LogMessages.CorruptionDetected(_logger, _name, operation, message);
        CorruptionDetected?.Invoke(corruption);
    }

    /// <summary>
    /// The error every write gets once the database is known to be corrupt (<see cref="WaldenCorruptException"/>), or once
    /// one of its files was deleted, moved or replaced under it (<see cref="WaldenException"/>: the file is not damaged).
    /// </summary>
    internal WaldenException RefuseWrite()
    {
        var corruption = Corruption!;
        if (IsFileLoss)
        {
            var rescue = Volatile.Read(ref _rescuePath);
            return new WaldenException(
                $"The database '{_name}' refuses writes: {corruption.Message}. A write acknowledged from now on would be lost, " +
                "so none is taken until the database is reopened. " +
                (rescue is null
                    ? "Saving the committed writes to a rescue file failed (see the critical log line): copy what the application can still read before closing it."
                    : $"Every committed write was saved to '{rescue}': stop every program using the database, then put that file in its place " +
                      "(or restore it like a backup) and reopen."),
                Errors.SqliteErrors.IoErr, Errors.SqliteErrors.IoErr);
        }

        var code = corruption.SqliteErrorCode ?? Errors.SqliteErrors.Corrupt;
        var advice = _policy == WaldenCorruptionPolicy.ReadOnly
            ? "CorruptionPolicy is ReadOnly: reads are still served."
            : "Reads may still work.";
        return new WaldenCorruptException(
            $"The database '{_name}' is corrupt ({corruption.Operation}: {corruption.Message}); Walden refuses writes so that it takes no further damage. {advice} " +
            "Recover it with 'walden recover <db> --in-place' (the damaged original is kept in quarantine) or open it with CorruptionPolicy = Recover.",
            code & 0xFF, code);
    }

    /// <summary>Why writes are refused at <see cref="WaldenOptions.MaxWalSize"/>; null once a commit went through again.</summary>
    internal string? WalLimit => Volatile.Read(ref _walLimit);

    /// <summary>
    /// Why Walden stopped writing after the disk failed an fsync (SQLITE_IOERR_FSYNC or _DIR_FSYNC); null while none failed.
    /// Sticky until the database is reopened: after a failed fsync the kernel may have dropped the pages it had accepted,
    /// and a second fsync then reports success without them ("fsyncgate", PostgreSQL 2018), so Walden never tries again
    /// on the same open database: it refuses every write and reports Unhealthy.
    /// </summary>
    internal string? SyncFailure => Volatile.Read(ref _syncFailed);

    /// <summary>Whether SQLite's extended result code is a failed fsync of a file or of its directory.</summary>
    internal static bool IsSyncFailure(int extendedCode) => extendedCode is IoErrFsync or IoErrDirFsync;

    internal const int IoErrFsync = Errors.SqliteErrors.IoErr | (4 << 8);    // SQLITE_IOERR_FSYNC
    private const int IoErrDirFsync = Errors.SqliteErrors.IoErr | (5 << 8); // SQLITE_IOERR_DIR_FSYNC

    /// <summary>The error every write gets after a failed fsync.</summary>
    internal WaldenException RefuseAfterSyncFailure() => new(
        $"The database '{_name}' stopped taking writes after the disk failed an fsync ({SyncFailure}). After a failed fsync the " +
        "operating system may have dropped data it had accepted, so Walden does not retry it; nothing acknowledged before is affected " +
        "(each acknowledged commit had its own successful fsync). Check the disk and the system log (dmesg), then reopen the database: " +
        "SQLite recovers from the -wal what reached the disk.",
        Errors.SqliteErrors.IoErr, IoErrFsync);

    private void NoteSyncFailure(Exception failure)
    {
        var sqlite = failure as SqliteException ?? failure.InnerException as SqliteException;
        if (sqlite is not null && IsSyncFailure(sqlite.SqliteExtendedErrorCode))
        {
            Interlocked.CompareExchange(ref _syncFailed, $"SQLite error {sqlite.SqliteExtendedErrorCode}: {sqlite.Message}", null);
        }
    }

    /// <summary>Records what a failure of a write says about the database (called with Walden's translated exceptions).</summary>
    internal void Observe(Exception failure)
    {
        NoteSyncFailure(failure);
        switch (failure)
        {
            case WaldenCorruptException:
                ReportCorruption("A write", failure);
                break;
            case WaldenReadOnlyException:
                Volatile.Write(ref _readOnly, failure.Message);
                break;
            case WaldenDiskFullException:
                Volatile.Write(ref _diskFull, failure.Message);
                break;
            case WaldenWalLimitException:
                Volatile.Write(ref _walLimit, failure.Message);
                break;
            default:
                break;
        }
    }

    /// <summary>
    /// Records what an error raised inside a write delegate says about the database: SQLite's corrupt,
    /// read-only and disk-full codes mean the same there as in Walden's own statements.
    /// </summary>
    internal void ObserveDelegateFailure(Exception failure)
    {
        NoteSyncFailure(failure);
        var sqlite = failure as SqliteException ?? failure.InnerException as SqliteException;
        if (sqlite is not null &&
            (sqlite.SqliteErrorCode & 0xFF) is Errors.SqliteErrors.Corrupt or Errors.SqliteErrors.NotADb or Errors.SqliteErrors.ReadOnly or Errors.SqliteErrors.Full)
        {
            Observe(failure is WaldenException ? failure : Errors.SqliteErrors.Translate(sqlite, "A write", new WaldenOptions()));
        }
    }

    /// <summary>
    /// A file of the database was deleted, moved, replaced or truncated under it: sticky like corruption, so writes are
    /// refused and health is Unhealthy until the database is reopened, but named as what happened, not as corruption.
    /// </summary>
    internal void ReportFileLoss(string reason)
    {
        // No corruption line and no CorruptionDetected: the watch logs its own critical line, and the file is not damaged.
        Interlocked.CompareExchange(ref _corruption, new WaldenCorruption(FileCheck, reason, _clock.GetUtcNow(), null), null);
    }

    /// <summary>Where the watch saved the committed writes after a file loss; shown in the refusal of every later write.</summary>
    internal void NoteRescue(string path) => Volatile.Write(ref _rescuePath, path);

    /// <summary>Whether writes stopped because a file was deleted, moved or replaced (not because the content is damaged).</summary>
    internal bool IsFileLoss => Corruption?.Operation == FileCheck;

    private const string FileCheck = "The file check";
    private string? _rescuePath;

    /// <summary>A commit went through: the disk has room and the file is writable again.</summary>
    internal void CommitSucceeded()
    {
        if (_readOnly is not null || _diskFull is not null || _walLimit is not null)
        {
            Volatile.Write(ref _readOnly, null);
            Volatile.Write(ref _diskFull, null);
            Volatile.Write(ref _walLimit, null);
        }
    }

    /// <summary>The writer's loop ended after an unexpected error: no write will be committed until the database is reopened.</summary>
    internal void WriterStopped(Exception cause) =>
        Interlocked.CompareExchange(ref _writerStopped, $"{cause.GetType().Name}: {cause.Message}", null);

    /// <summary>A scheduled or requested checkpoint failed.</summary>
    internal void CheckpointFailed(Exception failure)
    {
        NoteSyncFailure(failure);
        Volatile.Write(ref _lastCheckpointFailure, failure.Message);
        Interlocked.Increment(ref _checkpointFailures);
    }

    /// <summary>A checkpoint ran (busy or not): the checkpointer works.</summary>
    internal void CheckpointSucceeded()
    {
        if (Volatile.Read(ref _checkpointFailures) != 0)
        {
            Volatile.Write(ref _checkpointFailures, 0);
            Volatile.Write(ref _lastCheckpointFailure, null);
        }
    }

    /// <summary>
    /// Hazards around the file found by the environment checks (a network file system, another SQLite in this process, a
    /// process with an SQLite that has the WAL-reset bug): each makes the database Degraded while it lasts. Keyed by what was
    /// checked, so a re-check replaces or clears its own entry.
    /// </summary>
    internal IReadOnlyList<string> EnvironmentHazards => _environment.OrderBy(e => e.Key, StringComparer.Ordinal).Select(e => e.Value).ToList();

    /// <summary>Records (or, with null, clears) the hazard of one environment check.</summary>
    internal void SetEnvironmentHazard(string key, string? reason)
    {
        if (reason is null)
        {
            _environment.TryRemove(key, out _);
        }
        else
        {
            _environment[key] = reason;
        }
    }

    /// <summary>The keys of the recorded hazards that start with <paramref name="prefix"/> (for a re-check to clear what is gone).</summary>
    internal IReadOnlyList<string> EnvironmentHazardKeys(string prefix) =>
        _environment.Keys.Where(k => k.StartsWith(prefix, StringComparison.Ordinal)).ToList();
}
