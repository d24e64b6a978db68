namespace Walden;

/// <summary>
/// The base of every error Walden raises. Keeps SQLite's primary and extended result codes when
/// the error came from SQLite (https://www.sqlite.org/rescode.html).
/// </summary>
public class WaldenException : Exception
{
    private readonly bool _isTransient;

    /// <summary>Creates an exception with a message.</summary>
    public WaldenException(string message)
        : base(message)
    {
    }

    /// <summary>Creates an exception with a message and the error that caused it.</summary>
    public WaldenException(string message, Exception? innerException)
        : base(message, innerException)
    {
    }

    /// <summary>A failure that says itself whether trying again may succeed (a write undone because of another write).</summary>
    internal WaldenException(string message, bool isTransient, Exception? innerException = null)
        : base(message, innerException)
    {
        _isTransient = isTransient;
    }

    /// <summary>Creates an exception that carries SQLite's result codes.</summary>
    public WaldenException(string message, int sqliteErrorCode, int sqliteExtendedErrorCode, Exception? innerException = null)
        : base(message, innerException)
    {
        SqliteErrorCode = sqliteErrorCode;
        SqliteExtendedErrorCode = sqliteExtendedErrorCode;
    }

    /// <summary>SQLite's primary result code (e.g. 5 for SQLITE_BUSY), or null when SQLite did not raise it.</summary>
    public int? SqliteErrorCode { get; }

    /// <summary>SQLite's extended result code (e.g. 517 for SQLITE_BUSY_SNAPSHOT), or null.</summary>
    public int? SqliteExtendedErrorCode { get; }

    /// <summary>True when the same operation may succeed if tried again later (busy, locked).</summary>
    public virtual bool IsTransient => _isTransient;
}

/// <summary>
/// Another connection or process held a lock for longer than <see cref="WaldenOptions.BusyTimeout"/>.
/// Transient: the operation can be tried again.
/// </summary>
public sealed class WaldenBusyException : WaldenException
{
    /// <summary>Creates the exception.</summary>
    public WaldenBusyException(string message, int sqliteErrorCode, int sqliteExtendedErrorCode, Exception? innerException = null)
        : base(message, sqliteErrorCode, sqliteExtendedErrorCode, innerException)
    {
    }

    /// <inheritdoc />
    public override bool IsTransient => true;
}

/// <summary>SQLite reported that the database file is damaged (SQLITE_CORRUPT) or is not a database (SQLITE_NOTADB).</summary>
public class WaldenCorruptException : WaldenException
{
    /// <summary>Creates the exception.</summary>
    public WaldenCorruptException(string message, int sqliteErrorCode, int sqliteExtendedErrorCode, Exception? innerException = null)
        : base(message, sqliteErrorCode, sqliteExtendedErrorCode, innerException)
    {
    }
}

/// <summary>
/// The disk (or a quota, or <c>PRAGMA max_page_count</c>) is full (SQLITE_FULL). The message says what became of the
/// writes: not committed when SQLite rolled their transaction back, not acknowledged (may or may not be on disk) when
/// it was the COMMIT itself that failed.
/// </summary>
public sealed class WaldenDiskFullException : WaldenException
{
    /// <summary>Creates the exception.</summary>
    public WaldenDiskFullException(string message, int sqliteErrorCode, int sqliteExtendedErrorCode, Exception? innerException = null)
        : base(message, sqliteErrorCode, sqliteExtendedErrorCode, innerException)
    {
    }
}

/// <summary>The database cannot be written (SQLITE_READONLY: file permissions, a read-only mount, or a read-only policy).</summary>
public sealed class WaldenReadOnlyException : WaldenException
{
    /// <summary>Creates the exception.</summary>
    public WaldenReadOnlyException(string message, int sqliteErrorCode, int sqliteExtendedErrorCode, Exception? innerException = null)
        : base(message, sqliteErrorCode, sqliteExtendedErrorCode, innerException)
    {
    }

    /// <summary>Creates the exception for a refusal that did not come from SQLite.</summary>
    public WaldenReadOnlyException(string message)
        : base(message)
    {
    }
}

/// <summary>The database has been disposed (or is being disposed) and accepts no more work.</summary>
public sealed class WaldenClosedException : WaldenException
{
    /// <summary>Creates the exception.</summary>
    public WaldenClosedException(string message)
        : base(message)
    {
    }
}

/// <summary>
/// The database cannot be opened as configured: options out of range, a bad path, a file that is
/// not a database, a file system without WAL support, or a native SQLite with the WAL-reset bug.
/// </summary>
public sealed class WaldenConfigurationException : WaldenException
{
    /// <summary>Creates the exception with one problem.</summary>
    public WaldenConfigurationException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
        Problems = [message];
    }

    /// <summary>Creates the exception listing every problem found.</summary>
    public WaldenConfigurationException(IReadOnlyList<string> problems)
        : base(FormatProblems(problems))
    {
        Problems = problems;
    }

    /// <summary>Each problem found, as a sentence that says what to change.</summary>
    public IReadOnlyList<string> Problems { get; }

    private static string FormatProblems(IReadOnlyList<string> problems) =>
        problems.Count == 1
            ? problems[0]
            : $"The Walden options have {problems.Count} problems:{Environment.NewLine}- " + string.Join(Environment.NewLine + "- ", problems);
}

/// <summary>
/// An operation that needs the database to itself (recovery in place, restore over it, quarantine)
/// found it open in another process, or in this one.
/// </summary>
public sealed class WaldenDatabaseInUseException : WaldenException
{
    /// <summary>Creates the exception.</summary>
    public WaldenDatabaseInUseException(string message, int processId, string lockDescription)
        : base(message)
    {
        ProcessId = processId;
        LockDescription = lockDescription;
    }

    /// <summary>The process holding the lock that was found; 0 when it is this process.</summary>
    public int ProcessId { get; }

    /// <summary>Which lock was found, in words.</summary>
    public string LockDescription { get; }

    /// <inheritdoc />
    public override bool IsTransient => true;
}

/// <summary>
/// A <see cref="WaldenDatabase.ReadAsync{T}"/> held its snapshot longer than <see cref="WaldenOptions.MaxReadLeaseDuration"/>;
/// Walden interrupted it and released the snapshot so checkpoints can reset the WAL. Its result was discarded.
/// </summary>
public sealed class WaldenReadLeaseExpiredException : WaldenException
{
    /// <summary>Creates the exception.</summary>
    public WaldenReadLeaseExpiredException(string message, Exception? innerException = null)
        : base(message, innerException)
    {
    }
}
