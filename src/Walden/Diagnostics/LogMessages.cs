using Microsoft.Extensions.Logging;

namespace Walden.Diagnostics;

/// <summary>Every log line Walden writes, source-generated (Npgsql's LogMessages).</summary>
internal static partial class LogMessages
{
    [LoggerMessage(EventId = WaldenEventIds.Opened, Level = LogLevel.Information,
        Message = "Opened Walden database {Name} at {Path} (SQLite {SqliteVersion}, synchronous {Synchronous}, {Readers} readers)")]
    internal static partial void Opened(ILogger logger, string name, string path, string sqliteVersion, string synchronous, int readers);

    [LoggerMessage(EventId = WaldenEventIds.OtherSqliteLoaded, Level = LogLevel.Warning,
        Message = "Two SQLite libraries are loaded in this process: Walden runs on {Ours}; also loaded: {Theirs}. If both open the same " +
            "database file they break each other's POSIX locks (sqlite.org/howtocorrupt.html 2.2.1): let the application use one SQLite " +
            "(Microsoft.Data.Sqlite.Core instead of Microsoft.Data.Sqlite or a bundle) and never open a Walden database with the other one")]
    internal static partial void OtherSqliteLoaded(ILogger logger, string ours, string theirs);

    [LoggerMessage(EventId = WaldenEventIds.Closed, Level = LogLevel.Information,
        Message = "Closed Walden database {Name}")]
    internal static partial void Closed(ILogger logger, string name);

    [LoggerMessage(EventId = WaldenEventIds.CommitFailed, Level = LogLevel.Error,
        Message = "A COMMIT of {Count} writes failed; every waiter of that batch gets the error")]
    internal static partial void CommitFailed(ILogger logger, int count, Exception exception);

    [LoggerMessage(EventId = WaldenEventIds.RollbackFailed, Level = LogLevel.Error,
        Message = "ROLLBACK after a failed batch failed")]
    internal static partial void RollbackFailed(ILogger logger, Exception exception);

    [LoggerMessage(EventId = WaldenEventIds.WriterLoopFailed, Level = LogLevel.Critical,
        Message = "The writer of {Name} stopped after an unexpected error: every queued and later write fails, " +
            "and the database reports Unhealthy. Dispose it and open it again")]
    internal static partial void WriterLoopFailed(ILogger logger, string name, Exception exception);

    [LoggerMessage(EventId = WaldenEventIds.MeasurementListenerFailed, Level = LogLevel.Warning,
        Message = "A MeterListener threw while Walden recorded {Instrument} for {Name}; Walden ignores it and reports " +
            "every write's outcome as it was. Fix the listener; further listener failures on {Name} are counted, not logged")]
    internal static partial void MeasurementListenerFailed(ILogger logger, string instrument, string name, Exception exception);

    [LoggerMessage(EventId = WaldenEventIds.ForeignCommitRefused, Level = LogLevel.Error,
        Message = "A statement tried to commit on the writer connection of {Name} outside Walden's transaction " +
            "(on thread {ThreadId}); SQLite refused it (SQLITE_CONSTRAINT_COMMITHOOK) and rolled it back. A write delegate " +
            "must not keep the connection it is given: do the work inside the delegate, and call WriteAsync again for later work")]
    internal static partial void ForeignCommitRefused(ILogger logger, string name, int threadId);

    [LoggerMessage(EventId = WaldenEventIds.CloseStepFailed, Level = LogLevel.Warning,
        Message = "{Step} at close failed; the database is still consistent")]
    internal static partial void CloseStepFailed(ILogger logger, string step, Exception exception);

    [LoggerMessage(EventId = WaldenEventIds.BackupCompleted, Level = LogLevel.Information,
        Message = "Backed up {Name} to {BackupPath}: {Pages} pages verified in {CopySeconds:0.###} s copy + {VerifySeconds:0.###} s verification; pruned {Pruned} older backups")]
    internal static partial void BackupCompleted(ILogger logger, string name, string backupPath, long pages, double copySeconds, double verifySeconds, int pruned);

    [LoggerMessage(EventId = WaldenEventIds.BackupFailed, Level = LogLevel.Error,
        Message = "Backing up {Name} failed; no backup was recorded")]
    internal static partial void BackupFailed(ILogger logger, string name, Exception exception);

    [LoggerMessage(EventId = WaldenEventIds.CorruptionDetected, Level = LogLevel.Critical,
        Message = "Database {Name} is corrupt ({Operation}: {Message}); writes are refused from now on")]
    internal static partial void CorruptionDetected(ILogger logger, string name, string operation, string message);

    [LoggerMessage(EventId = WaldenEventIds.IntegrityChecked, Level = LogLevel.Information,
        Message = "Integrity check ({Kind}, {Trigger}) of {Name}: {Result} in {DurationMs:0.0} ms")]
    internal static partial void IntegrityChecked(ILogger logger, WaldenIntegrityCheck kind, string trigger, string name, string result, double durationMs);

    [LoggerMessage(EventId = WaldenEventIds.RecoveredAtOpen, Level = LogLevel.Warning,
        Message = "Database {Name} was corrupt at open and was recovered in place: {Rows} rows recovered, {Lost} in lost_and_found, original kept in {Quarantine}")]
    internal static partial void RecoveredAtOpen(ILogger logger, string name, long rows, long lost, string quarantine);

    [LoggerMessage(EventId = WaldenEventIds.BackgroundCheckFailed, Level = LogLevel.Warning,
        Message = "The background integrity check of {Name} could not run")]
    internal static partial void BackgroundCheckFailed(ILogger logger, string name, Exception exception);
    [LoggerMessage(EventId = WaldenEventIds.Checkpointed, Level = LogLevel.Debug,
        Message = "Checkpoint {Mode} of {Name}: busy {Busy}, {Log} frames in the WAL, {Checkpointed} checkpointed, {Milliseconds:0.###} ms")]
    internal static partial void Checkpointed(ILogger logger, string name, WaldenCheckpointMode mode, bool busy, int log, int checkpointed, double milliseconds);

    [LoggerMessage(EventId = WaldenEventIds.CheckpointFailed, Level = LogLevel.Warning,
        Message = "A scheduled checkpoint of {Name} failed; it is tried again at the next opportunity")]
    internal static partial void CheckpointFailed(ILogger logger, string name, Exception exception);

    [LoggerMessage(EventId = WaldenEventIds.CheckpointStarved, Level = LogLevel.Warning,
        Message = "Checkpoint starvation on {Name}: the -wal file is {WalBytes} bytes, over WaldenOptions.WalSizeLimit ({Limit} bytes), and has not been reset for {Seconds:0.#} s. " +
            "A read that holds an old snapshot stops checkpoints from resetting the WAL. {SnapshotHolders}")]
    internal static partial void CheckpointStarved(ILogger logger, string name, long walBytes, long limit, double seconds, string snapshotHolders);

    [LoggerMessage(EventId = WaldenEventIds.RecoveryAtOpenRefused, Level = LogLevel.Critical, Message = "The recovery of {Name} at open was not swapped in: {Reason}")]
    internal static partial void RecoveryAtOpenRefused(ILogger logger, string name, string reason);

    [LoggerMessage(EventId = WaldenEventIds.WalLimitReached, Level = LogLevel.Error, Message = "Writes to {Name} are refused: {Reason}")]
    internal static partial void WalLimitReached(ILogger logger, string name, string reason);

    [LoggerMessage(EventId = WaldenEventIds.CheckpointStarvationEnded, Level = LogLevel.Information,
        Message = "Checkpoint starvation on {Name} ended: the WAL was reset")]
    internal static partial void CheckpointStarvationEnded(ILogger logger, string name);

    [LoggerMessage(EventId = WaldenEventIds.ReadLeaseExpired, Level = LogLevel.Warning,
        Message = "A read on {Name} held its snapshot longer than WaldenOptions.MaxReadLeaseDuration ({Seconds:0.###} s); it was interrupted and its snapshot released")]
    internal static partial void ReadLeaseExpired(ILogger logger, string name, double seconds);

    [LoggerMessage(EventId = WaldenEventIds.FailureRepeated, Level = LogLevel.Error,
        Message = "{What} failed again {Count} times within {Seconds:0} s, each time with: {Message}")]
    internal static partial void FailureRepeated(ILogger logger, string what, int count, double seconds, string message);

    [LoggerMessage(EventId = WaldenEventIds.MaintenanceFailed, Level = LogLevel.Warning,
        Message = "Scheduled maintenance of {Name} failed; it runs again at the next interval")]
    internal static partial void MaintenanceFailed(ILogger logger, string name, Exception exception);
}

/// <summary>Event ids of Walden's log lines, stable across versions.</summary>
internal static class WaldenEventIds
{
    internal const int Opened = 1000;
    internal const int Closed = 1001;
    internal const int CloseStepFailed = 1002;
    internal const int CommitFailed = 1100;
    internal const int RollbackFailed = 1101;
    internal const int WriterLoopFailed = 1102;
    internal const int MeasurementListenerFailed = 1103;
    internal const int ForeignCommitRefused = 1104;
    internal const int FailureRepeated = 1105;
    internal const int BackupCompleted = 1500;
    internal const int BackupFailed = 1501;
    internal const int CorruptionDetected = 1600;
    internal const int IntegrityChecked = 1601;
    internal const int RecoveredAtOpen = 1602;
    internal const int BackgroundCheckFailed = 1603;
    internal const int RecoveryAtOpenRefused = 1610;
    internal const int Checkpointed = 1200;
    internal const int CheckpointFailed = 1201;
    internal const int CheckpointStarved = 1202;
    internal const int CheckpointStarvationEnded = 1203;
    internal const int WalLimitReached = 1204;
    internal const int ReadLeaseExpired = 1300;
    internal const int MaintenanceFailed = 1400;
    internal const int OtherSqliteLoaded = 1700;
}
