using Microsoft.Data.Sqlite;

namespace Walden.Errors;

/// <summary>
/// The one place that decides what an SQLite error means (as Microsoft.Data.Sqlite's IsBusyHelper does
/// for busy) and turns it into the matching <see cref="WaldenException"/>.
/// </summary>
internal static partial class SqliteErrors
{
    internal const int Busy = 5;
    internal const int Locked = 6;
    internal const int NoMem = 7;
    internal const int ReadOnly = 8;
    internal const int Interrupt = 9;
    internal const int IoErr = 10;
    internal const int Corrupt = 11;
    internal const int Full = 13;
    internal const int CantOpen = 14;
    internal const int Protocol = 15;
    internal const int NotADb = 26;

    /// <summary>
    /// SQLITE_IOERR_SHMSIZE: the -shm could not be grown to map SQLite's shared memory (os_unix.c unixShmMap), which on Linux
    /// is a full file system (ENOSPC from the write that extends it), not a failing disk.
    /// </summary>
    internal const int IoErrShmSize = IoErr | (19 << 8);

    internal static bool IsBusy(int code) => (code & 0xFF) is Busy or Locked;

    /// <summary>
    /// Whether the file system under the connection's database has too little room to grow a -shm (one 32 KiB region),
    /// or no inode left; false when it is not known (no path, not Linux).
    /// </summary>
    private static bool ShmRoomMissing(SqliteConnection? connection) =>
        !string.IsNullOrEmpty(connection?.DataSource) &&
        (Files.Mounts.FreeBytes(connection.DataSource) is < 64 * 1024 || Files.Mounts.FreeFiles(connection.DataSource) is 0);

    /// <summary>
    /// Errors caused by the environment or the file, not by the application's SQL: busy, out of memory,
    /// read-only, I/O error, corrupt, disk full, cannot open, locking protocol, not a database.
    /// </summary>
    internal static bool IsEnvironment(int code) =>
        (code & 0xFF) is Busy or Locked or NoMem or ReadOnly or IoErr or Corrupt or Full or CantOpen or Protocol or NotADb;

    /// <summary>
    /// What the caller of a write or read gets for <paramref name="exception"/>: an environment failure raised by the
    /// application's own statement becomes the matching <see cref="WaldenException"/> (SQLite's exception inside), so
    /// catching <see cref="WaldenException"/> catches every failure the environment caused; anything else is the
    /// application's own and passes unchanged.
    /// </summary>
    internal static Exception ForCaller(Exception exception, string operation, WaldenOptions options, SqliteConnection? connection = null) =>
        exception is SqliteException sqlite && IsEnvironment(sqlite.SqliteErrorCode) ? Translate(sqlite, operation, options, connection) : exception;

    internal static bool IsCorrupt(int code) => (code & 0xFF) is Corrupt or NotADb;

    /// <summary>
    /// A failing disk (I/O error on read, write or fsync; a full disk), never the content of the file: work that tolerates a
    /// damaged file (recovery, checks) must not take this for damage and go on, since what it reads or wrote is then unknown.
    /// </summary>
    internal static bool IsDiskFault(int code) => (code & 0xFF) is IoErr or Full;

    /// <summary><see cref="IsDiskFault(int)"/> for an exception.</summary>
    internal static bool IsDiskFault(SqliteException exception) => IsDiskFault(exception.SqliteErrorCode);

    /// <summary>
    /// The errors after which SQLite may have rolled back the whole transaction, not only the statement
    /// (https://www.sqlite.org/lang_transaction.html, "Response To Errors Within A Transaction").
    /// </summary>
    internal static bool MayEndTransaction(int code) => (code & 0xFF) is Full or IoErr or NoMem or Busy or Interrupt or Corrupt or NotADb;

    internal static bool IsCorrupt(Exception exception) =>
        exception is WaldenCorruptException || (exception is SqliteException sqlite && IsCorrupt(sqlite.SqliteErrorCode));

    /// <summary>
    /// Which of the database's files or its folder this user may not write (the -wal or -shm can be read-only while the database
    /// file is not), each with what to change; empty when the connection's file is not known or nothing is seen.
    /// </summary>
    private static string ReadOnlyCauses(SqliteConnection? connection)
    {
        try
        {
            var path = connection?.DataSource;
            return string.IsNullOrEmpty(path) || !File.Exists(path) ? "" : string.Concat(Files.OpenErrors.Causes(path, writing: true).Select(c => c + " "));
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return ""; // the advice is a courtesy; the failure itself is reported either way
        }
    }

    /// <summary>
    /// The outcome of a failure that wrote nothing (a read, a backup whose partial copy is removed), for <see cref="Translate"/>:
    /// a busy error that does not say it leaves the user wondering whether a half-done write needs undoing.
    /// </summary>
    internal const string NothingChanged = "Nothing was changed.";

    /// <summary>What a busy error advises a program that sets <see cref="WaldenOptions.BusyTimeout"/>.</summary>
    internal const string BusyAdvice = "Raise BusyTimeout, or find the process that keeps the database locked.";

    /// <summary>
    /// A busy message without its advice to raise BusyTimeout, for a caller that gives its own (a lock no wait outlasts, or the
    /// command-line tool, where the option does not exist).
    /// </summary>
    internal static string WithoutBusyAdvice(string message) => WithBusyAdvice(message, "");

    /// <summary>A busy message with <paramref name="advice"/> (a sentence, or empty) in place of its advice to raise BusyTimeout.</summary>
    internal static string WithBusyAdvice(string message, string advice) =>
        BusyTimeoutPart().Replace(message.Replace(" " + BusyAdvice, advice.Length == 0 ? "" : " " + advice, StringComparison.Ordinal), "");

    [System.Text.RegularExpressions.GeneratedRegex(@" \(WaldenOptions\.BusyTimeout is currently ([0-9.]+) s\)")]
    private static partial System.Text.RegularExpressions.Regex BusyTimeoutPart();

    private static string Waited(SqliteException exception) =>
        exception.Data[Configuration.RawStatement.WaitedKey] is TimeSpan waited
            ? $"waited {waited.TotalSeconds:0.###} s"
            : "waited";

    /// <summary>
    /// Wraps an SQLite failure of Walden's own work (BEGIN, COMMIT, open) in the matching typed exception. With the writer's
    /// <paramref name="connection"/>, a full disk also says how much space writes need. <paramref name="outcome"/>, when given,
    /// says what became of the writes concerned (it replaces the default "nothing was kept" of a full disk or an I/O error).
    /// </summary>
    internal static WaldenException Translate(SqliteException exception, string operation, WaldenOptions options,
        SqliteConnection? connection = null, string? outcome = null)
    {
        var told = outcome is null ? "" : outcome + " ";
        var primary = exception.SqliteErrorCode;
        var extended = exception.SqliteExtendedErrorCode;
        return (primary & 0xFF) switch
        {
            Busy or Locked => new WaldenBusyException(
                $"{operation} {Waited(exception)} for a lock held by another connection or process and gave up " +
                $"(WaldenOptions.BusyTimeout is currently {options.BusyTimeout.TotalSeconds:0.###} s). {told}" +
                BusyAdvice + " " + exception.Message,
                primary, extended, exception),
            Corrupt or NotADb => new WaldenCorruptException(
                $"{operation} failed: the database file is damaged or is not an SQLite database. {told}" + exception.Message,
                primary, extended, exception),
            Full => new WaldenDiskFullException(
                $"{operation} failed: the disk is full. {outcome ?? "Nothing of the failed transaction was kept."} Free space and try again. " +
                (connection is null ? "" : DiskSpace.Describe(connection)) + exception.Message,
                primary, extended, exception),
            ReadOnly => new WaldenReadOnlyException(
                $"{operation} failed: the database cannot be written (file permissions or a read-only mount). {told}" +
                ReadOnlyCauses(connection) + exception.Message,
                primary, extended, exception),
            // Only when the file system is in fact (nearly) full: the same code also comes from an fstat or write that failed
            // for another reason (EIO). The codes stay what SQLite said.
            IoErr when extended == IoErrShmSize && ShmRoomMissing(connection) => new WaldenDiskFullException(
                $"{operation} failed: the disk is full: SQLite could not make room for the -shm (the shared memory beside a WAL " +
                $"database){(string.IsNullOrEmpty(connection?.DataSource) ? "" : $", {Files.Mounts.DescribeFree(connection.DataSource)}")}. " +
                $"{outcome ?? "Nothing of the failed transaction was kept."} Free space there and try again. " + exception.Message,
                primary, extended, exception),
            IoErr => new WaldenException(
                $"{operation} failed with an I/O error (the disk, the file system or the mount under the database failed). " +
                $"{outcome ?? "Nothing of the failed transaction was kept."} Check the disk and the system log. " + exception.Message,
                primary, extended, exception),
            _ => new WaldenException($"{operation} failed. {told}" + exception.Message, primary, extended, exception),
        };
    }
}
