using Microsoft.Extensions.Logging;

namespace Walden.Diagnostics;

/// <summary>Every log line Walden writes, source-generated (Npgsql's LogMessages).</summary>
internal static partial class LogMessages
{
    [LoggerMessage(EventId = WaldenEventIds.Opened, Level = LogLevel.Information,
        Message = "Opened Walden database {Name} at {Path} (SQLite {SqliteVersion}, synchronous {Synchronous}, {Readers} readers)")]
    internal static partial void Opened(ILogger logger, string name, string path, string sqliteVersion, string synchronous, int readers);

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
        Message = "The writer loop stopped after an unexpected error; queued writes were failed")]
    internal static partial void WriterLoopFailed(ILogger logger, Exception exception);

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
    internal static partial void IntegrityChecked(ILogger logger, Integrity.WaldenIntegrityCheck kind, string trigger, string name, string result, double durationMs);

    [LoggerMessage(EventId = WaldenEventIds.RecoveredAtOpen, Level = LogLevel.Warning,
        Message = "Database {Name} was corrupt at open and was recovered in place: {Rows} rows recovered, {Lost} in lost_and_found, original kept in {Quarantine}")]
    internal static partial void RecoveredAtOpen(ILogger logger, string name, long rows, long lost, string quarantine);

    [LoggerMessage(EventId = WaldenEventIds.BackgroundCheckFailed, Level = LogLevel.Warning,
        Message = "The background integrity check of {Name} could not run")]
    internal static partial void BackgroundCheckFailed(ILogger logger, string name, Exception exception);
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
    internal const int BackupCompleted = 1500;
    internal const int BackupFailed = 1501;
    internal const int CorruptionDetected = 1200;
    internal const int IntegrityChecked = 1201;
    internal const int RecoveredAtOpen = 1202;
    internal const int BackgroundCheckFailed = 1203;
}
