using Microsoft.Extensions.Logging;

namespace Walden.Diagnostics;

/// <summary>The log lines about the database's files (kept apart from the shared list to keep merges small).</summary>
internal static partial class LogMessages
{
    internal const int WalFileLostEventId = 1710;
    internal const int WalRescueFailedEventId = 1711;

    [LoggerMessage(EventId = WalFileLostEventId, Level = LogLevel.Critical,
        Message = "Database {Name} at {DatabasePath}: {What}; writes are refused. " +
                  "Every committed write was saved to {RescuePath}: stop every program using the database, " +
                  "then put that file in its place")]
    internal static partial void WalFileLost(ILogger logger, string name, string databasePath, string what, string rescuePath);

    [LoggerMessage(EventId = WalRescueFailedEventId, Level = LogLevel.Critical,
        Message = "Database {Name} at {DatabasePath}: {What}; writes are refused, " +
                  "and saving the committed writes to {RescuePath} failed. " +
                  "Do not close the application before copying what it can still read")]
    internal static partial void WalRescueFailed(ILogger logger, string name, string databasePath, string what, string rescuePath,
        Exception exception);
}
