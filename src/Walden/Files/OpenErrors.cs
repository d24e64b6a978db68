using System.Runtime.InteropServices;
using Microsoft.Data.Sqlite;
using Walden.Configuration;
using Walden.Errors;

namespace Walden.Files;

/// <summary>
/// Turns SQLite's "unable to open database file" and "attempt to write a readonly database" into the
/// cause Walden can see from outside (a missing -shm in a read-only folder, a -wal or database this
/// user may not read or write, a symbolic link whose target folder is elsewhere) and what to do.
/// Also names the application collation or function a schema needs.
/// </summary>
internal static partial class OpenErrors
{
    private const int ReadAccess = 4;
    private const int WriteAccess = 2;

    /// <summary>The typed exception for an SQLite error met while opening or first reading <paramref name="path"/>.</summary>
    /// <param name="exception">The error.</param>
    /// <param name="path">The file.</param>
    /// <param name="writing">Whether it was opened to write.</param>
    /// <param name="options">The database's options (the busy timeout), or null.</param>
    /// <param name="definitionsOption">The option that registers the application's collations and functions for this caller.</param>
    internal static WaldenException Explain(SqliteException exception, string path, bool writing, WaldenOptions? options = null,
        string definitionsOption = DatabaseDefinitions)
    {
        if (StandIns.IsMissing(exception, out var collation, out var name))
        {
            return new WaldenConfigurationException(MissingDefinition(path, collation, name, option: definitionsOption), exception);
        }

        var code = exception.SqliteErrorCode & 0xFF;
        if (code == SqliteErrors.NotADb)
        {
            return new WaldenConfigurationException(
                $"'{path}' is not an SQLite database (SQLITE_NOTADB). Check the path; if it should be a database, run 'walden check' on it.", exception);
        }

        if (exception.SqliteExtendedErrorCode == SqliteErrors.IoErrShmSize)
        {
            return new WaldenDiskFullException(
                $"'{path}' cannot be opened: the disk is full ({Mounts.DescribeFree(path)}): SQLite could not make room for the " +
                $"-shm it must create beside a WAL database to open it. Free space on '{Mounts.MountOf(path)}' and try again. " +
                exception.Message, SqliteErrors.Full, exception.SqliteExtendedErrorCode, exception);
        }

        if (code is SqliteErrors.CantOpen or SqliteErrors.ReadOnly or SqliteErrors.IoErr && Causes(path, writing) is { Count: > 0 } causes)
        {
            var message = $"'{path}' cannot be opened{(writing ? " for writing" : string.Empty)} ({exception.Message.TrimEnd('.')}): {string.Join(" ", causes)}";
            return code == SqliteErrors.ReadOnly
                ? new WaldenReadOnlyException(message, exception.SqliteErrorCode, exception.SqliteExtendedErrorCode, exception)
                : new WaldenConfigurationException(message, exception);
        }

        // An open to read changes nothing, whatever failed: said as every command that writes says it of its own failures.
        return NameHolder(SqliteErrors.Translate(exception, $"Opening '{path}'", options ?? new WaldenOptions(),
            outcome: writing ? null : SqliteErrors.NothingChanged), path);
    }

    /// <summary>
    /// The busy error for a file another process kept writing (its PENDING or EXCLUSIVE lock) while the open waited
    /// <paramref name="waited"/> to read its header (<see cref="Integrity.IntegrityChecker.InspectHeader"/>): the same error,
    /// and advice, as SQLite's own busy error at open, naming the holder.
    /// </summary>
    internal static WaldenException StillWriting(string path, TimeSpan waited, WaldenOptions options, bool openingHere = false)
    {
        var busy = new SqliteException("database is locked", SqliteErrors.Busy, SqliteErrors.Busy);
        busy.Data[RawStatement.WaitedKey] = waited;
        // Nothing has been opened yet, let alone written.
        return NameHolder(SqliteErrors.Translate(busy, $"Opening '{path}'", options, outcome: SqliteErrors.NothingChanged), path, openingHere);
    }

    /// <summary>
    /// A busy error that also says which process holds the lock and what kind of lock it is. Probed only when this
    /// process has no descriptor on the file (the probe would drop its locks); otherwise <paramref name="translated"/> as it is.
    /// </summary>
    internal static WaldenException NameHolder(WaldenException translated, string path, bool openingHere = false)
    {
        if (translated is WaldenBusyException && DatabaseFiles.For(path).OpenInThisProcess() is null &&
            LockProbe.FindHolder(path, openingHere) is { ProcessId: > 0 } holder)
        {
            if (holder.ExclusiveWal)
            {
                // No timeout is long enough: the advice to raise it would send the user waiting for nothing.
                return new WaldenBusyException(
                    $"{SqliteErrors.WithoutBusyAdvice(translated.Message).TrimEnd('.')}. Now process {holder.ProcessId} holds '{path}' exclusively: " +
                    $"{holder.Lock}. Close that program (or have it use PRAGMA locking_mode=NORMAL) and try again.",
                    translated.SqliteErrorCode ?? SqliteErrors.Busy, translated.SqliteExtendedErrorCode ?? SqliteErrors.Busy, translated.InnerException);
            }

            return new WaldenBusyException($"{translated.Message.TrimEnd('.')}. Now {holder}.", translated.SqliteErrorCode ?? SqliteErrors.Busy,
                translated.SqliteExtendedErrorCode ?? SqliteErrors.Busy, translated.InnerException);
        }

        return translated;
    }

    /// <summary>
    /// The message for a schema that needs a collation or function the application registers itself. <paramref name="tool"/>:
    /// for the walden command-line tool, which cannot register an application's definitions, so the advice names what
    /// it can do instead of an option only code can set.
    /// </summary>
    /// <param name="path">The file.</param>
    /// <param name="collation">A collation (else an SQL function).</param>
    /// <param name="name">Its name.</param>
    /// <param name="tool">For the command-line tool.</param>
    /// <param name="option">The option that registers it for the caller: the database's, or the static backup API's.</param>
    internal static string MissingDefinition(string path, bool collation, string name, bool tool = false, string option = DatabaseDefinitions) =>
        $"The schema of '{path}' uses the {(collation ? "collation" : "SQL function")} '{name}', which the program that wrote it registers on " +
        "its own connections; SQLite cannot use the tables, indexes, views or triggers that need it without it. " + (tool
            ? "The walden tool cannot register an application's definitions, so it cannot write this file: give this command a database " +
              "of its own (a new path). 'walden check', 'info', 'backup', 'restore', 'archive' and 'recover' read such a file with " +
              "stand-ins; from code, register it with WaldenOptions.ConfigureConnection."
            : $"Register it on Walden's connections with {option} (e.g. connection.{(collation ? "CreateCollation" : "CreateFunction")}(\"{name}\", ...)).");

    /// <summary>The option that registers an open database's collations and functions.</summary>
    internal const string DatabaseDefinitions = "WaldenOptions.ConfigureConnection";

    /// <summary>The option that registers them for the static backup API (<see cref="Backup.WaldenBackups"/>).</summary>
    internal const string BackupDefinitions = "WaldenBackupOptions.ConfigureConnection";

    /// <summary>What Walden can see that keeps SQLite from opening <paramref name="path"/>, each as a sentence that says what to do.</summary>
    internal static List<string> Causes(string path, bool writing)
    {
        var causes = new List<string>();
        var real = RealPath(path) ?? path;
        if (!string.Equals(real, path, StringComparison.Ordinal))
        {
            causes.Add($"The path leads through a symbolic link to '{real}'; SQLite opens that file and keeps its -wal, -shm and -journal " +
                $"beside it, in '{Path.GetDirectoryName(real)}', so that folder is the one that must allow what follows.");
        }

        var folder = Path.GetDirectoryName(real)!;
        var folderWritable = Access(folder, WriteAccess);
        var wal = IsWalDatabase(real);
        var shm = real + "-shm";
        if (!Access(real, ReadAccess))
        {
            causes.Add($"This user ({Environment.UserName}) may not read '{real}' ({Mode(real)}): it belongs to another user or its permissions deny it. " +
                "Run as the owner, or give this user read access.");
        }
        else if (Mounts.IsReadOnlyMount(real) && (writing || wal && !File.Exists(shm)))
        {
            // Permissions are not the cause: the mount refuses every user, root included; the file, its companions and its folder
            // all follow from this one cause, said once.
            causes.Add(Mounts.WhyUnwritable(real) + (writing
                ? " SQLite must write the database and its -wal, -shm or -journal to open it for writing."
                : " It is a WAL database without its -shm file, which SQLite cannot create there to read it in place; 'walden check', " +
                  "'info' and 'stats' read such a file on a private copy when no program has it open."));
            return causes;
        }
        else if (writing && !Access(real, WriteAccess))
        {
            causes.Add(Mounts.WhyUnwritable(real) ??
                $"This user ({Environment.UserName}) may not write '{real}' ({Mode(real)}). Give this user write access, or run as its owner.");
        }

        foreach (var companion in new[] { real + "-wal", shm })
        {
            if (File.Exists(companion) && Access(companion, ReadAccess) && !Access(companion, WriteAccess) &&
                (writing || companion == shm) && Mounts.WhyUnwritable(companion) is { } unwritable)
            {
                causes.Add($"{unwritable} SQLite must write it to use the database.");
            }
            else if (File.Exists(companion) && !(Access(companion, ReadAccess) && (Access(companion, WriteAccess) || !writing && companion == real + "-wal")))
            {
                causes.Add($"This user ({Environment.UserName}) may not {(writing ? "read and write" : "read")} '{companion}' ({Mode(companion)}); " +
                    "SQLite needs it to read the database. Give this user the same access to it as to the database (it belongs with the database's owner).");
            }
        }

        if (wal && !File.Exists(shm) && !folderWritable)
        {
            causes.Add($"It is a WAL database without its -shm file, and the folder '{folder}' is not writable (a read-only mount or its permissions), " +
                $"so SQLite cannot create '{Path.GetFileName(shm)}' to read it. Make the folder writable, or copy the database (with its -wal) " +
                "to a writable folder; 'walden check', 'info' and 'stats' read such a file on a private copy when no program has it open.");
        }
        else if (writing && !folderWritable)
        {
            causes.Add($"The folder '{folder}' is not writable (a read-only mount or its permissions), and SQLite must create the -wal, -shm " +
                "or -journal file there. Make the folder writable for this user, or move the database to a writable folder.");
        }

        return causes;
    }

    /// <summary>Whether the header of <paramref name="path"/> says WAL (bytes 18 and 19); false when it cannot be read here.</summary>
    internal static bool IsWalDatabase(string path)
    {
        if (OpenDatabases.Contains(path) || !Access(path, ReadAccess) || DatabaseFiles.SizeOf(path) is not >= 100)
        {
            return false;
        }

        var header = new byte[20];
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        stream.ReadAtLeast(header, header.Length, throwOnEndOfStream: false);
        return header[18] == 2 || header[19] == 2;
    }

    private static string Mode(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            return "mode unknown";
        }

        try
        {
            return "mode " + File.GetUnixFileMode(path).ToString().Replace(", ", "|", StringComparison.Ordinal);
        }
        catch (IOException)
        {
            return "mode unknown";
        }
        catch (UnauthorizedAccessException)
        {
            return "mode unknown";
        }
    }

    /// <summary>
    /// Why <paramref name="doing"/> (a sentence start such as "Backing up 'a.db'") cannot write its new file into
    /// <paramref name="folder"/>: this user may not create files there (permissions, a read-only mount, an immutable
    /// attribute). Asked before the first file is created, so the error names the folder, not the first internal file
    /// (an owner lock, a .partial copy) that could not be created; null when the folder can be written.
    /// </summary>
    internal static string? FolderNotWritable(string folder, string doing) => !Directory.Exists(folder) || IsWritable(folder)
        ? null
        : Mounts.WhyUnwritable(folder) is { } unwritable
        ? $"{doing} writes its new file into '{folder}', and nothing can be created there: {unwritable} Nothing was changed. " +
          "Choose a folder on a writable file system."
        : $"{doing} writes its new file into '{folder}', and this user ({Environment.UserName}) may not create files there (the " +
          "folder's permissions, a read-only mount or an immutable attribute). Nothing was changed. Make the folder writable for " +
          "this user, or choose another folder.";

    /// <summary>The file a path names once every symbolic link on the way is followed (as SQLite does), or null when it cannot be resolved.</summary>
    internal static string? RealPath(string path)
    {
        try
        {
            var folder = new DirectoryInfo(Path.GetDirectoryName(path)!);
            var resolvedFolder = ResolveFolder(folder);
            var file = new FileInfo(Path.Combine(resolvedFolder, Path.GetFileName(path)));
            return file.LinkTarget is null ? file.FullName : file.ResolveLinkTarget(returnFinalTarget: true)?.FullName;
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static string ResolveFolder(DirectoryInfo folder)
    {
        if (folder.Parent is null)
        {
            return folder.FullName;
        }

        var parent = ResolveFolder(folder.Parent);
        var here = new DirectoryInfo(Path.Combine(parent, folder.Name));
        return here.LinkTarget is null ? here.FullName : here.ResolveLinkTarget(returnFinalTarget: true)?.FullName ?? here.FullName;
    }

    /// <summary>True when this process may create files in <paramref name="folder"/> (false on a read-only mount, even for root).</summary>
    internal static bool IsWritable(string folder) => Access(folder, WriteAccess);

    /// <summary>access(2): true when this process may read or write the file; a read-only mount denies writing even to root.</summary>
    private static bool Access(string path, int mode) => AccessNative(path, mode) == 0;

    [LibraryImport("libc", EntryPoint = "access", StringMarshalling = StringMarshalling.Utf8, SetLastError = true)]
    private static partial int AccessNative(string path, int mode);
}
