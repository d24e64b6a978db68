using Walden.Errors;

namespace Walden.Files;

/// <summary>
/// Turns a file-system failure of Walden's own file work (copying, extracting, renaming) into the typed
/// exception that names the cause and what to do: a full disk, a read-only mount, a permission, a file
/// that vanished. The one place that reads errno out of .NET's exceptions (on Unix an IOException's
/// HResult is the errno).
/// </summary>
internal static class IoErrors
{
    private const int InputOutput = 5;
    private const int NoSpace = 28;
    private const int QuotaExceeded = 122;
    private const int ReadOnlyFileSystem = 30;

    /// <summary>
    /// True for a failure only writing can meet: a full disk, an exceeded quota, a read-only file system. Reading never
    /// fails this way, so when a task both reads a source and writes an output, such a failure is the output's.
    /// </summary>
    internal static bool IsWriteSide(Exception exception) => exception is IOException io &&
        (io.HResult is NoSpace or QuotaExceeded or ReadOnlyFileSystem
            || io.Message.Contains("No space left", StringComparison.Ordinal) || io.Message.Contains("Read-only file system", StringComparison.Ordinal));

    /// <summary>True for the exceptions <see cref="Translate"/> understands.</summary>
    internal static bool IsFileSystem(Exception exception) => exception is IOException or UnauthorizedAccessException;

    /// <summary>
    /// The typed exception for <paramref name="exception"/> met while doing <paramref name="operation"/>
    /// (a sentence start such as "Restoring 'a.db'") in <paramref name="folder"/>.
    /// </summary>
    internal static WaldenException Translate(Exception exception, string operation, string? folder) => exception switch
    {
        IOException io when io.HResult is NoSpace or QuotaExceeded || io.Message.Contains("No space left", StringComparison.Ordinal) =>
            new WaldenDiskFullException(
                $"{operation} failed: {(folder is null ? "the disk" : $"the disk holding '{folder}'")} is full ({io.Message.TrimEnd('.')}). Nothing was left half-written; free space there and try again.",
                SqliteErrors.Full, SqliteErrors.Full, io),
        IOException io when io.HResult == ReadOnlyFileSystem || io.Message.Contains("Read-only file system", StringComparison.Ordinal) =>
            new WaldenReadOnlyException(
                $"{operation} failed: {(folder is null ? "the target" : $"'{folder}'")} is on a read-only file system ({io.Message.TrimEnd('.')}). Choose a writable folder, or remount it read-write.",
                SqliteErrors.ReadOnly, SqliteErrors.ReadOnly, io),
        IOException io when io.HResult == InputOutput =>
            new WaldenException(
                $"{operation} failed: the disk reported an I/O error{(folder is null ? "" : $" under '{folder}'")} " +
                $"({io.Message.TrimEnd('.')}). " +
                "Nothing was left half-written. Check the disk and the system log (dmesg) before trying again.",
                SqliteErrors.IoErr, SqliteErrors.IoErr, io),
        UnauthorizedAccessException denied =>
            new WaldenReadOnlyException(
                $"{operation} failed: permission denied ({denied.Message.TrimEnd('.')}). Run as a user who may read and write the files involved, or choose another folder.",
                SqliteErrors.ReadOnly, SqliteErrors.ReadOnly, denied),
        FileNotFoundException or DirectoryNotFoundException =>
            new WaldenConfigurationException(
                $"{operation} failed: a file vanished while Walden was using it ({exception.Message.TrimEnd('.')}). Another program may have moved or deleted it; check and try again.",
                exception),
        _ => new WaldenException($"{operation} failed: {exception.Message.TrimEnd('.')}. Check the files involved and try again.", exception),
    };
}
