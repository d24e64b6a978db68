using Microsoft.Data.Sqlite;

namespace Walden.Errors;

/// <summary>
/// The one place that decides what an SQLite error means (as Microsoft.Data.Sqlite's IsBusyHelper does
/// for busy) and turns it into the matching <see cref="WaldenException"/>.
/// </summary>
internal static class SqliteErrors
{
    internal const int Busy = 5;
    internal const int Locked = 6;
    internal const int ReadOnly = 8;
    internal const int IoErr = 10;
    internal const int Corrupt = 11;
    internal const int Full = 13;
    internal const int CantOpen = 14;
    internal const int NotADb = 26;

    internal static bool IsBusy(int code) => (code & 0xFF) is Busy or Locked;

    internal static bool IsCorrupt(int code) => (code & 0xFF) is Corrupt or NotADb;

    internal static bool IsCorrupt(Exception exception) =>
        exception is WaldenCorruptException || (exception is SqliteException sqlite && IsCorrupt(sqlite.SqliteErrorCode));

    private static string Waited(SqliteException exception) =>
        exception.Data[Configuration.RawStatement.WaitedKey] is TimeSpan waited
            ? $"waited {waited.TotalSeconds:0.###} s"
            : "waited";

    /// <summary>Wraps an SQLite failure of Walden's own work (BEGIN, COMMIT, open) in the matching typed exception.</summary>
    internal static WaldenException Translate(SqliteException exception, string operation, WaldenOptions options)
    {
        var primary = exception.SqliteErrorCode;
        var extended = exception.SqliteExtendedErrorCode;
        return (primary & 0xFF) switch
        {
            Busy or Locked => new WaldenBusyException(
                $"{operation} {Waited(exception)} for a lock held by another connection or process and gave up " +
                $"(WaldenOptions.BusyTimeout is currently {options.BusyTimeout.TotalSeconds:0.###} s). " +
                "Raise BusyTimeout, or find the process that keeps the database locked. " + exception.Message,
                primary, extended, exception),
            Corrupt or NotADb => new WaldenCorruptException(
                $"{operation} failed: the database file is damaged or is not an SQLite database. " + exception.Message,
                primary, extended, exception),
            Full => new WaldenDiskFullException(
                $"{operation} failed: the disk is full. Nothing of the failed transaction was kept; free space and try again. " + exception.Message,
                primary, extended, exception),
            ReadOnly => new WaldenReadOnlyException(
                $"{operation} failed: the database cannot be written (file permissions or a read-only mount). " + exception.Message,
                primary, extended, exception),
            _ => new WaldenException($"{operation} failed. " + exception.Message, primary, extended, exception),
        };
    }
}
