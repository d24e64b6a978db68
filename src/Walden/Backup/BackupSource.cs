using Microsoft.Data.Sqlite;
using Walden.Configuration;
using Walden.Errors;

namespace Walden.Backup;

/// <summary>
/// A dedicated connection to the database being backed up (never the writer's): query_only, with a
/// busy handler. <see cref="BeginSnapshot"/> opens a read transaction and keeps it for the whole copy,
/// so the backup API copies that one snapshot: without it, every commit by another connection between
/// two steps makes SQLite restart the copy from page 1, which under constant writes never finishes.
/// In WAL mode a reader blocks no writer (checkpoints just cannot pass its snapshot until it ends);
/// in rollback-journal mode its SHARED lock makes writers wait until the copy ends.
/// </summary>
internal sealed class BackupSource : IDisposable
{
    private readonly SqliteConnection _connection;
    private readonly BusyHandler _busy;
    private string? _copyFolder;

    private BackupSource(string path, SqliteConnection connection, BusyHandler busy)
    {
        Path = path;
        _connection = connection;
        _busy = busy;
    }

    internal string Path { get; }

    internal SqliteConnection Connection => _connection;

    /// <summary>A connection configured like Walden's readers, from the database's own factory.</summary>
    internal static BackupSource FromFactory(string path, ConnectionFactory factory)
    {
        var opened = factory.Open(writer: false);
        return new BackupSource(path, opened.Connection, opened.Busy) { Configure = factory.ConfigureConnection };
    }

    /// <summary>
    /// A plain query_only connection to any SQLite file, which another process may have open. A file nobody has open
    /// that SQLite would change to read (a hot journal, a -wal or -shm a killed writer left) is backed up from a settled
    /// private copy instead (<see cref="Files.ForeignFile.SettledCopy"/>), so the user's files stay as they were.
    /// <paramref name="configure"/> registers the application's collations and functions (<c>VACUUM INTO</c> needs them).
    /// </summary>
    internal static BackupSource FromFile(string path, TimeSpan busyTimeout, Action<SqliteConnection>? configure)
    {
        Files.ForeignFile.EnsureExists(path);
        if (Integrity.IntegrityChecker.Unreadable(path) is { Empty: false } unreadable)
        {
            throw unreadable.NotADatabase
                ? new WaldenConfigurationException(unreadable.Message)
                : new WaldenCorruptException(
                    unreadable.Message + " There is nothing to back up.", SqliteErrors.Corrupt, SqliteErrors.Corrupt);
        }

        // SQLite's backup would copy only what it reads, without the committed transactions past a damaged -wal frame, and the
        // copy would pass every check: refused rather than called a verified backup of the database.
        if (Integrity.WalChainBreak.Find(path) is { } walBreak)
        {
            throw new WaldenCorruptException(
                $"No backup of '{path}' was written; nothing was changed: {walBreak.Facts}. A backup through SQLite would hold the " +
                $"database without them and pass its verification. {Integrity.WalChainBreak.WhatToDo}",
                SqliteErrors.Corrupt, SqliteErrors.Corrupt);
        }

        var settled = Files.ForeignFile.SettledCopy(Files.OpenErrors.RealPath(path) ?? path);
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = settled?.Database ?? path,
            Mode = SqliteOpenMode.ReadWrite, // read-write so a crashed WAL can be recovered; query_only forbids every write
            Pooling = false,
        }.ToString());
        BusyHandler? busy = null;
        try
        {
            connection.Open();
            configure?.Invoke(connection);
            busy = BusyHandler.Install(connection, busyTimeout);
            ConnectionFactory.Execute(connection, "PRAGMA query_only=ON");
            // A first read: a file that is not a database, or is damaged at page 1, fails here naming the user's file.
            ConnectionFactory.Scalar<long>(connection, "SELECT count(*) FROM sqlite_schema");
            return new BackupSource(path, connection, busy)
            {
                Notes = settled?.Notes ?? [], _copyFolder = settled?.Folder, Configure = configure, DefinitionsOption = Files.OpenErrors.BackupDefinitions,
            };
        }
        catch (SqliteException ex)
        {
            ConnectionFactory.Close(connection, busy);
            DeleteCopy(settled?.Folder);
            throw Translate(ex, path, busyTimeout, opening: true, Files.OpenErrors.BackupDefinitions);
        }
        catch
        {
            ConnectionFactory.Close(connection, busy);
            DeleteCopy(settled?.Folder);
            throw;
        }
    }

    /// <summary>What was done to read the source without changing it (a hot journal rolled back on a private copy...).</summary>
    internal IReadOnlyList<string> Notes { get; private init; } = [];

    internal string JournalMode() => ConnectionFactory.Scalar<string>(_connection, "PRAGMA journal_mode").ToLowerInvariant();

    /// <summary>
    /// The application's collations and functions (the database's <see cref="WaldenOptions.ConfigureConnection"/>, or the
    /// static API's <see cref="WaldenBackupOptions.ConfigureConnection"/>), for the connection that verifies the copy; null:
    /// stand-ins.
    /// </summary>
    internal Action<SqliteConnection>? Configure { get; private init; }

    /// <summary>The option that registers the app's collations and functions for this source's caller (named in errors).</summary>
    internal string DefinitionsOption { get; private init; } = Files.OpenErrors.DatabaseDefinitions;

    /// <summary>Opens the read transaction that pins the snapshot the copy is taken from.</summary>
    internal void BeginSnapshot()
    {
        ConnectionFactory.Execute(_connection, "BEGIN");
        ConnectionFactory.Scalar<long>(_connection, "SELECT count(*) FROM sqlite_schema"); // a read: the snapshot starts here
    }

    // opening: no connection of this process is open on the file, so its header may be read to find the cause.
    // definitionsOption: the option that registers the app's collations and functions for the caller (the static API's, for a file).
    internal static WaldenException Translate(SqliteException ex, string path, TimeSpan busyTimeout, bool opening = false,
        string definitionsOption = Files.OpenErrors.DatabaseDefinitions)
    {
        var code = ex.SqliteErrorCode & 0xFF;
        if (StandIns.IsMissing(ex, out _, out _) ||
            opening && code is SqliteErrors.CantOpen or SqliteErrors.ReadOnly && Files.OpenErrors.Causes(path, writing: false).Count > 0)
        {
            return Files.OpenErrors.Explain(ex, path, writing: false, new WaldenOptions { BusyTimeout = busyTimeout }, definitionsOption);
        }

        if (code == SqliteErrors.NotADb)
        {
            return new WaldenConfigurationException($"'{path}' is not an SQLite database (SQLITE_NOTADB). Check the path.", ex);
        }

        // The runner removes the partial copy of a failed backup, and the source is only read.
        var translated = SqliteErrors.Translate(ex, $"Backing up '{path}'", new WaldenOptions { BusyTimeout = busyTimeout },
            outcome: $"{SqliteErrors.NothingChanged[..^1]}, and no backup was written.");
        return Files.OpenErrors.NameHolder(translated, path);
    }

    public void Dispose()
    {
        if (_connection.State == System.Data.ConnectionState.Open && SQLitePCL.raw.sqlite3_get_autocommit(_connection.Handle) == 0)
        {
            ConnectionFactory.Execute(_connection, "COMMIT");
        }

        ConnectionFactory.Close(_connection, _busy);
        DeleteCopy(_copyFolder);
        _copyFolder = null;
    }

    private static void DeleteCopy(string? folder)
    {
        if (folder is not null && Directory.Exists(folder))
        {
            Directory.Delete(folder, recursive: true); // Walden's own private copy, never the user's file
        }
    }
}
