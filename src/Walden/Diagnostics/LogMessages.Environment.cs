using Microsoft.Extensions.Logging;

namespace Walden.Diagnostics;

/// <summary>The log lines of the environment checks at open and while open (kept apart from the shared list to keep merges small).</summary>
internal static partial class LogMessages
{
    internal const int RiskyFileSystemEventId = 1720;
    internal const int ForeignOldSqliteEventId = 1721;
    internal const int LastWriterOldSqliteEventId = 1722;
    internal const int LegacyStringLiteralsEventId = 1724;

    [LoggerMessage(EventId = RiskyFileSystemEventId, Level = LogLevel.Warning,
        Message = "Database {Name} is on a {Type} file system ({MountPoint}): {Why}. Keep databases on a local disk")]
    internal static partial void RiskyFileSystem(ILogger logger, string name, string type, string mountPoint, string why);

    [LoggerMessage(EventId = ForeignOldSqliteEventId, Level = LogLevel.Warning,
        Message = "Database {Name}: process {ProcessId} ({Command}) has the file open with {Library}, which has the WAL-reset bug: " +
                  "with that process writing and checkpointing too, the database can be corrupted (sqlite.org/wal.html#walresetbug). " +
                  "Upgrade its SQLite to 3.51.3 or later, or keep it away from this file; 'walden doctor' says more")]
    internal static partial void ForeignOldSqlite(ILogger logger, string name, int processId, string command, string library);

    [LoggerMessage(EventId = LastWriterOldSqliteEventId, Level = LogLevel.Warning,
        Message = "Database {Name}: the file header says SQLite {Version} wrote it last (offset 96), a version with the WAL-reset bug: " +
                  "a program on that SQLite writes this WAL database and can corrupt it (sqlite.org/wal.html#walresetbug). " +
                  "Find it and upgrade its SQLite to 3.51.3 or later; 'walden doctor' names the processes holding the file")]
    internal static partial void LastWriterOldSqlite(ILogger logger, string name, string version);

    [LoggerMessage(EventId = LegacyStringLiteralsEventId, Level = LogLevel.Warning,
        Message = "Database {Name}: {Objects} use double-quoted string literals, which Walden's SQLite refuses in queries; this " +
                  "database's connections accept them, as the program that made its schema did, so its writes fire those triggers. " +
                  "In its queries a double-quoted name that matches no column is then a string, not an error " +
                  "(sqlite.org/quirks.html#dblquote). Rewrite them with single quotes to keep queries strict")]
    internal static partial void LegacyStringLiterals(ILogger logger, string name, string objects);
}
