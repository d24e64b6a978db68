using Microsoft.Data.Sqlite;
using Walden.Configuration;

namespace Walden.Files;

/// <summary>
/// A read-only view of any program's SQLite file, for the commands that only look at it (check, info,
/// stats). It leaves the user's folder as it found it and never changes the user's files:
/// <list type="bullet">
/// <item>When no process holds the file (<see cref="LockProbe"/>) and SQLite would have to write to read
/// it (a hot rollback journal to roll back; a WAL database with committed frames but no -shm to rebuild,
/// or without its companions in a folder it cannot write), the database and its journal or -wal are
/// copied into a private folder and SQLite opens the copy: it rolls back or recovers there, and the copy
/// is deleted at the end. The copy is checked against the original afterwards (size, time stamp, no new
/// lock holder), so a program that opened the file meanwhile is reported.</item>
/// <item>A closed WAL database (no -wal, no -shm, nobody holding it) is opened in place read-write but
/// query_only: SQLite has to create an empty -wal and -shm to read it, and, being the last connection
/// to close, removes them again under its own exclusive lock (a read-only connection would leave them).</item>
/// <item>Otherwise (a live database, or one needing nothing) SQLite opens the file itself, read-only.</item>
/// </list>
/// Every read runs through <see cref="Read{T}"/>, which registers <see cref="StandIns"/> for the
/// application's collations and functions the schema needs.
/// </summary>
internal sealed class ForeignFile : IDisposable
{
    private static readonly byte[] JournalMagic = [0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7];
    private readonly string? _copyFolder;

    private ForeignFile(string path, SqliteConnection connection, string? copyFolder, List<string> notes)
    {
        Path = path;
        Connection = connection;
        _copyFolder = copyFolder;
        FileNotes = notes;
    }

    /// <summary>The user's file (never the private copy: messages name this one).</summary>
    internal string Path { get; }

    internal SqliteConnection Connection { get; }

    internal StandIns StandIns { get; } = new();

    /// <summary>True when SQLite reads a private, rolled-back or recovered copy rather than the file itself.</summary>
    internal bool OnCopy => _copyFolder is not null;

    /// <summary>What was done to read the file and what the user should know; includes the stand-in notes.</summary>
    internal IReadOnlyList<string> Notes => [.. FileNotes, .. StandIns.Notes];

    private List<string> FileNotes { get; }

    /// <summary>Runs a read on the connection, with stand-ins for the application's collations and functions.</summary>
    internal T Read<T>(Func<SqliteConnection, T> read) => StandIns.Retry(Connection, () => read(Connection));

    /// <summary>
    /// Opens <paramref name="path"/> for reading. Throws <see cref="WaldenConfigurationException"/> (missing,
    /// a folder, cannot be opened, with the cause), <see cref="WaldenDatabaseInUseException"/> (changed while
    /// it was being copied) or the translated SQLite error.
    /// </summary>
    internal static ForeignFile Open(string path, TimeSpan busyTimeout)
    {
        var fullPath = System.IO.Path.GetFullPath(path);
        EnsureExists(fullPath);
        // SQLite follows symbolic links and keeps the companions beside the target: so must the inspection and the copy.
        var real = OpenErrors.RealPath(fullPath) ?? fullPath;
        var state = Inspect(real);
        var notes = new List<string>();
        string? folder = null;
        var openPath = fullPath;
        if (state.NeedsCopy)
        {
            folder = Directory.CreateTempSubdirectory("walden-inspect-").FullName;
            try
            {
                openPath = CopyQuietFile(real, folder, state);
            }
            catch
            {
                Directory.Delete(folder, recursive: true);
                throw;
            }

            notes.AddRange(state.Notes(fullPath));
        }

        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = openPath,
            // The private copy is opened read-write so that SQLite rolls back or recovers it there. A closed WAL database
            // is opened read-write but query_only, so that SQLite itself, as the last connection to close, removes the
            // empty -wal and -shm it had to create (under its own exclusive lock; a read-only connection leaves them).
            Mode = folder is null && !state.ClosedWal ? SqliteOpenMode.ReadOnly : SqliteOpenMode.ReadWrite,
            Pooling = false,
            DefaultTimeout = Math.Max(1, (int)Math.Ceiling(busyTimeout.TotalSeconds)),
        }.ToString());
        try
        {
            connection.Open();
            if (folder is null)
            {
                ConnectionFactory.Execute(connection, "PRAGMA query_only=ON");
            }

            var file = new ForeignFile(fullPath, connection, folder, notes);
            // The first read parses the schema (and, on a copy, rolls back or recovers it); then nothing more is written.
            file.Read(c => ConnectionFactory.Scalar<long>(c, "SELECT count(*) FROM sqlite_schema"));
            ConnectionFactory.Execute(connection, "PRAGMA query_only=ON");
            return file;
        }
        catch (SqliteException ex)
        {
            connection.Dispose();
            DeleteCopy(folder);
            throw OpenErrors.Explain(ex, fullPath, writing: false);
        }
        catch
        {
            connection.Dispose();
            DeleteCopy(folder);
            throw;
        }
    }

    /// <summary>
    /// For recovery: a private copy of the database as SQLite would see it after rolling back a hot
    /// journal or recovering a WAL without -shm, or null when the file needs none. The caller owns
    /// the returned folder and deletes it. The caller has checked that no process holds the file.
    /// </summary>
    internal static (string Folder, string Database, IReadOnlyList<string> Notes)? SettledCopy(string path)
    {
        var state = Inspect(path);
        if (!state.HotJournal)
        {
            return null;
        }

        var folder = Directory.CreateTempSubdirectory("walden-settle-").FullName;
        try
        {
            var copy = CopyQuietFile(path, folder, state);
            using (var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = copy, Pooling = false }.ToString()))
            {
                connection.Open();
                ConnectionFactory.Scalar<long>(connection, "PRAGMA page_count"); // the first read rolls the journal back
            }

            return (folder, copy, state.Notes(path));
        }
        catch
        {
            DeleteCopy(folder);
            throw;
        }
    }

    /// <summary>Whether <paramref name="path"/> has a hot rollback journal (a transaction cut off by a crash or a kill).</summary>
    internal static bool HasHotJournal(string path)
    {
        var journal = path + "-journal";
        if (DatabaseFiles.SizeOf(journal) is not > 0 || DatabaseFiles.SizeOf(path) is not > 0)
        {
            return false;
        }

        // SQLite's own test (pager.c hasHotJournal): a journal whose first byte is zero was finished, not cut off.
        var first = new byte[8];
        using (var stream = new FileStream(journal, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
        {
            stream.ReadAtLeast(first, first.Length, throwOnEndOfStream: false);
        }

        return first[0] != 0;
    }

    public void Dispose()
    {
        Connection.Dispose();
        DeleteCopy(_copyFolder);
    }

    private static void EnsureExists(string fullPath)
    {
        if (Directory.Exists(fullPath))
        {
            throw new WaldenConfigurationException($"'{fullPath}' is a directory; pass the database file inside it.");
        }

        if (!File.Exists(fullPath))
        {
            throw new WaldenConfigurationException(
                new FileInfo(fullPath).LinkTarget is { } target
                    ? $"'{fullPath}' is a symbolic link to '{target}', which does not exist. Check the link."
                    : $"'{fullPath}' does not exist. Check the path.");
        }
    }

    private static FileState Inspect(string path)
    {
        // A file this process (or another) has open is read in place: copying it could tear it.
        if (LockProbe.FindHolder(path) is not null || DatabaseFiles.SizeOf(path) is not >= 100)
        {
            return FileState.InPlace;
        }

        var header = new byte[100];
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
        {
            stream.ReadAtLeast(header, header.Length, throwOnEndOfStream: false);
        }

        var wal = header[18] == 2 || header[19] == 2;
        var walBytes = DatabaseFiles.SizeOf(path + "-wal");
        var shm = File.Exists(path + "-shm");
        var hot = HasHotJournal(path);
        var closedWal = wal && walBytes is null && !shm && !hot && OpenErrors.IsWritable(System.IO.Path.GetDirectoryName(path)!);
        return new FileState(hot, wal && (walBytes is null || !shm) && !closedWal, wal && walBytes > 32 && !shm, walBytes ?? 0,
            DatabaseFiles.SizeOf(path + "-journal") ?? 0, closedWal);
    }

    /// <summary>Copies the database and the companion SQLite needs (never the -shm), then checks nobody touched them meanwhile.</summary>
    private static string CopyQuietFile(string path, string folder, FileState state)
    {
        var copy = System.IO.Path.Combine(folder, System.IO.Path.GetFileName(path));
        var companions = new List<string>();
        if (state.HotJournal)
        {
            companions.Add("-journal");
        }

        if (File.Exists(path + "-wal"))
        {
            companions.Add("-wal");
        }

        var before = Stamp(path, companions);
        File.Copy(path, copy);
        foreach (var suffix in companions)
        {
            File.Copy(path + suffix, copy + suffix);
        }

        if (Stamp(path, companions) != before || LockProbe.FindHolder(path) is { } holder && holder.ProcessId != 0)
        {
            throw new WaldenDatabaseInUseException(
                $"'{path}' changed while Walden copied it to read it without touching it: another program opened it meanwhile. Try again.",
                LockProbe.FindHolder(path)?.ProcessId ?? 0, "changed during the copy");
        }

        return copy;
    }

    private static string Stamp(string path, List<string> companions) =>
        string.Join('|', new[] { path }.Concat(companions.Select(suffix => path + suffix))
            .Select(file => new FileInfo(file))
            .Select(info => info.Exists ? $"{info.Length}@{info.LastWriteTimeUtc.Ticks}" : "-"));

    private static void DeleteCopy(string? folder)
    {
        if (folder is not null && Directory.Exists(folder))
        {
            Directory.Delete(folder, recursive: true); // our own private copy, never the user's file
        }
    }

    private sealed record FileState(bool HotJournal, bool WalWithoutCompanions, bool WalFramesWithoutShm, long WalBytes, long JournalBytes,
        bool ClosedWal = false)
    {
        internal static readonly FileState InPlace = new(false, false, false, 0, 0);

        internal bool NeedsCopy => HotJournal || WalWithoutCompanions;

        internal List<string> Notes(string path)
        {
            var notes = new List<string>();
            if (HotJournal)
            {
                notes.Add($"'{path}' has a hot rollback journal ('{System.IO.Path.GetFileName(path)}-journal', {JournalBytes:N0} bytes): a program " +
                    "stopped in the middle of a transaction. Walden rolled it back on a private copy and read the last committed state; " +
                    "your files were not changed. The next program that opens the database read-write rolls the journal back in place.");
            }

            if (WalFramesWithoutShm)
            {
                notes.Add($"'{path}' has a -wal of {WalBytes:N0} bytes and no -shm (its writer stopped without closing): Walden read the committed " +
                    "transactions in it on a private copy; your files were not changed.");
            }

            return notes;
        }
    }
}
