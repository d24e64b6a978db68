using Microsoft.Extensions.Logging;

namespace Walden.Diagnostics;

/// <summary>The log lines of continuous archiving (kept apart from the shared list to keep merges small).</summary>
internal static partial class LogMessages
{
    [LoggerMessage(EventId = 1800, Level = LogLevel.Information,
        Message = "Database {Name}: archive base snapshot {BaseId} at transaction {Txid} ({Reason})")]
    internal static partial void ArchiveBaseTaken(ILogger logger, string name, long baseId, long txid, string reason);

    [LoggerMessage(EventId = 1801, Level = LogLevel.Warning,
        Message = "Database {Name}: archive destination {Destination} failed; it is retried and catches up without a gap: {Error}")]
    internal static partial void ArchiveDestinationFailed(ILogger logger, string name, string destination, string error);

    [LoggerMessage(EventId = 1802, Level = LogLevel.Information,
        Message = "Database {Name}: archive destination {Destination} is back and caught up")]
    internal static partial void ArchiveDestinationRecovered(ILogger logger, string name, string destination);

    [LoggerMessage(EventId = 1803, Level = LogLevel.Warning,
        Message = "Database {Name}: the archive could not take a commit from the WAL ({Reason}); a new base snapshot follows so the archive has no gap")]
    internal static partial void ArchiveCaptureLost(ILogger logger, string name, string reason);

    [LoggerMessage(EventId = 1804, Level = LogLevel.Error,
        Message = "Database {Name}: the archive restore drill failed: {Problem}")]
    internal static partial void ArchiveDrillFailed(ILogger logger, string name, string problem);

    [LoggerMessage(EventId = 1805, Level = LogLevel.Warning,
        Message = "Database {Name}: archive maintenance (compaction, retention or drill) failed: {Error}")]
    internal static partial void ArchiveMaintenanceFailed(ILogger logger, string name, string error);

    [LoggerMessage(EventId = 1806, Level = LogLevel.Warning,
        Message = "Database {Name}: the archive log {Log} could not be sealed into a segment (try {Attempts}; again in {RetrySeconds:0.#} s); " +
            "its records are safe in the log: {Reason}")]
    internal static partial void ArchiveLogSealFailed(ILogger logger, string name, string log, string reason, int attempts, double retrySeconds);

    [LoggerMessage(EventId = 1807, Level = LogLevel.Information,
        Message = "Database {Name}: the archive log is sealed again after failed tries")]
    internal static partial void ArchiveLogSealRecovered(ILogger logger, string name);

    [LoggerMessage(EventId = 1808, Level = LogLevel.Information,
        Message = "Database {Name}: archive continues base {BaseId} after transaction {Txid}: {Pages} pages changed since, shipped as transaction {Next}")]
    internal static partial void ArchiveContinued(ILogger logger, string name, long baseId, long txid, int pages, long next);

    [LoggerMessage(EventId = 1809, Level = LogLevel.Information,
        Message = "Database {Name}: archive takes a base snapshot at open: {Reason}")]
    internal static partial void ArchiveNotContinued(ILogger logger, string name, string reason);
}
