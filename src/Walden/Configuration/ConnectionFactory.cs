using Microsoft.Data.Sqlite;
using Walden.Errors;

namespace Walden.Configuration;

/// <summary>
/// Opens the connections of one database, every one configured the same way and checked by reading
/// the settings back ("verified, not hoped for").
/// </summary>
internal sealed class ConnectionFactory
{
    private readonly string _path;
    private readonly WaldenOptions _options;
    private readonly string _connectionString;

    internal ConnectionFactory(string path, WaldenOptions options)
    {
        _path = path;
        _options = options;
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = options.Vfs is null ? path : $"file:{path}?vfs={options.Vfs}",
            // MustExist: SQLite itself refuses to create the file, so a typo in the path cannot make a new, empty database.
            Mode = options.MustExist ? SqliteOpenMode.ReadWrite : SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            // Walden owns its connections; Microsoft.Data.Sqlite's pool would keep files open after dispose.
            Pooling = false,
            // Microsoft.Data.Sqlite retries busy statements itself with 150 ms sleeps until CommandTimeout (whole
            // seconds; 0 means forever). Walden's own statements bypass that loop (RawStatement); for the
            // application's statements the shortest loop is 1 s, after which it gives up at the first busy error.
            DefaultTimeout = 1,
        }.ToString();
    }

    private List<string>? _legacyStringObjects;

    /// <summary>
    /// The views and triggers whose bodies need double-quoted string literals, for which every connection of this database
    /// accepts them (<see cref="LegacyStringLiterals"/>); empty when none do or no connection was opened yet.
    /// </summary>
    internal IReadOnlyList<string> LegacyStringObjects => _legacyStringObjects ?? [];

    /// <summary>Busy retries of every connection this factory opened.</summary>
    internal BusyRetryCounter BusyRetries { get; } = new();

    // FullPipelined commits with NORMAL: its fsync of the WAL runs on another thread (Writing/WalSyncPipeline).
    internal string SynchronousPragma => _options.Durability == WaldenDurability.Full ? "FULL" : "NORMAL";

    /// <summary>Opens a configured connection. The writer also switches the file to WAL; readers only check it.</summary>
    internal OpenedConnection Open(bool writer) => Open(writer ? ConnectionRole.Writer : ConnectionRole.Reader);

    /// <summary>
    /// Opens a configured connection for <paramref name="role"/>. Every role has SQLite's auto-checkpoint
    /// off: Walden's checkpoint scheduler is the single owner of checkpoints (mixing auto-checkpoints with
    /// manual ones makes them fight over the checkpoint lock).
    /// </summary>
    /// <param name="role">What the connection is for.</param>
    /// <param name="busyTimeout">The busy timeout; null for <see cref="WaldenOptions.BusyTimeout"/>.</param>
    /// <param name="switchToWal">
    /// For the writer: false leaves the journal mode as the file has it (call <see cref="SwitchToWal"/> once the
    /// file passed its check), so that a file refused at open is never changed.
    /// </param>
    internal OpenedConnection Open(ConnectionRole role, TimeSpan? busyTimeout = null, bool switchToWal = true)
    {
        var writer = role == ConnectionRole.Writer;
        var connection = new SqliteConnection(_connectionString);
        BusyHandler? busy = null;
        try
        {
            connection.Open();
            _options.ConfigureConnection?.Invoke(connection);
            if (role != ConnectionRole.Reader && SQLitePCL.raw.sqlite3_db_readonly(connection.Handle, "main") == 1)
            {
                // SQLite opens a file it may not write read-only without a word; every write would then fail.
                throw ReadOnlyFile(null);
            }

            busy = BusyHandler.Install(connection, busyTimeout ?? _options.BusyTimeout, BusyRetries);
            Execute(connection, $"PRAGMA synchronous={SynchronousPragma}");
            Execute(connection, $"PRAGMA foreign_keys={(_options.ForeignKeys ? "ON" : "OFF")}");
            Execute(connection, "PRAGMA temp_store=MEMORY");
            Execute(connection, $"PRAGMA cache_size=-{_options.CacheSize / 1024}");
            Execute(connection, $"PRAGMA mmap_size={_options.MmapSize}");
            // The first statement that reads the file: a non-database fails here with SQLITE_NOTADB.
            var journalMode = writer && switchToWal ? SetWalMode(connection) : Scalar<string>(connection, "PRAGMA journal_mode");
            if (writer && !switchToWal)
            {
                Execute(connection, "PRAGMA query_only=ON"); // nothing is written before the check passed
            }
            else
            {
                EnsureWal(journalMode);
            }

            Execute(connection, "PRAGMA wal_autocheckpoint=0");
            Execute(connection, $"PRAGMA journal_size_limit={JournalSizeLimit}");
            if (role == ConnectionRole.Reader)
            {
                Execute(connection, "PRAGMA query_only=ON");
            }

            // Found once, on the first connection (the writer), after the application's collations and functions are in place.
            _legacyStringObjects ??= LegacyStringLiterals.NeededBy(connection);
            if (_legacyStringObjects is { Count: > 0 })
            {
                LegacyStringLiterals.Enable(connection);
            }

            // Application code that makes a new SqliteCommand per write or read reuses the statement prepared the first time.
            Native.StatementCache.Enable(connection.Handle!);
            return new OpenedConnection(connection, busy);
        }
        catch (SqliteException ex)
        {
            Close(connection, busy);
            throw TranslateOpenError(ex, writer);
        }
        catch
        {
            Close(connection, busy);
            throw;
        }
    }

    /// <summary>
    /// Switches a writer opened with <c>switchToWal: false</c> to WAL, once the file passed its check. A file in
    /// rollback-journal mode stays in WAL mode from then on (the mode is stored in the file's header).
    /// </summary>
    internal void SwitchToWal(SqliteConnection connection)
    {
        try
        {
            Execute(connection, "PRAGMA query_only=OFF");
            EnsureWal(SetWalMode(connection));
        }
        catch (SqliteException ex)
        {
            throw TranslateOpenError(ex, writer: true); // the writer is the only connection of this open so far
        }
    }

    /// <summary>
    /// Runs <c>PRAGMA journal_mode=WAL</c>, trying again until <see cref="WaldenOptions.BusyTimeout"/> while another connection
    /// holds the file: switching a rollback-journal file writes its header in a transaction of its own, and SQLite answers
    /// SQLITE_BUSY there without calling the busy handler when another process has a write transaction open (seen with a
    /// Python program in BEGIN IMMEDIATE), so the open gave up at once. A busy error that ends it carries the whole wait.
    /// Polls every millisecond, as <see cref="BusyHandler"/> does.
    /// </summary>
    private string SetWalMode(SqliteConnection connection)
    {
        var started = System.Diagnostics.Stopwatch.GetTimestamp();
        while (true)
        {
            try
            {
                return Scalar<string>(connection, "PRAGMA journal_mode=WAL");
            }
            catch (SqliteException ex) when (SqliteErrors.IsBusy(ex.SqliteErrorCode))
            {
                var waited = System.Diagnostics.Stopwatch.GetElapsedTime(started);
                if (waited >= _options.BusyTimeout)
                {
                    ex.Data[RawStatement.WaitedKey] = waited;
                    throw;
                }

                BusyRetries.Increment();
                _options.WalSwitchBusy?.Invoke();
                Thread.Sleep(1);
            }
        }
    }

    /// <summary>The application's collations and functions (<see cref="WaldenOptions.ConfigureConnection"/>), or null.</summary>
    internal Action<SqliteConnection>? ConfigureConnection => _options.ConfigureConnection;

    /// <summary>
    /// A read-only connection for the check at open, before the writer exists: it cannot change the file (no
    /// journal-mode switch, no checkpoint when it closes).
    /// </summary>
    internal SqliteConnection OpenForCheck()
    {
        var builder = new SqliteConnectionStringBuilder(_connectionString) { Mode = SqliteOpenMode.ReadOnly };
        var connection = new SqliteConnection(builder.ToString());
        connection.Open();
        _options.ConfigureConnection?.Invoke(connection); // the application's collations and functions, as on every connection
        return connection;
    }

    private void EnsureWal(string journalMode)
    {
        if (!string.Equals(journalMode, "wal", StringComparison.OrdinalIgnoreCase))
        {
            throw new WaldenConfigurationException(
                $"The database '{_path}' could not be put in WAL mode: SQLite reports journal mode '{journalMode}'. " +
                "WAL needs a local file system with shared memory (not a network mount, not a read-only folder). " +
                "Move the database to a local disk; Walden does not run in any other journal mode.");
        }
    }

    /// <summary>What a WAL is truncated to when a checkpoint resets it: half the limit, so a reset WAL sits well under it.</summary>
    internal long JournalSizeLimit => _options.WalSizeLimit / 2;

    /// <summary>Reads back what is in force on a connection.</summary>
    internal WaldenConnectionSettings ReadSettings(SqliteConnection connection)
    {
        var synchronous = Scalar<long>(connection, "PRAGMA synchronous") switch
        {
            0 => "off",
            1 => "normal",
            2 => "full",
            3 => "extra",
            var other => other.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        var pageSize = Scalar<long>(connection, "PRAGMA page_size");
        var cachePages = Scalar<long>(connection, "PRAGMA cache_size");
        return new WaldenConnectionSettings(
            Native.SqliteLibrary.Version,
            Scalar<string>(connection, "PRAGMA journal_mode"),
            synchronous,
            Scalar<long>(connection, "PRAGMA foreign_keys") == 1,
            _options.BusyTimeout,
            Scalar<long>(connection, "PRAGMA temp_store") == 2 ? "memory" : "default",
            cachePages < 0 ? -cachePages * 1024 : cachePages * pageSize,
            Scalar<long>(connection, "PRAGMA mmap_size"),
            (int)pageSize);
    }

    /// <summary>Checks that what SQLite reports is what the options asked for.</summary>
    internal void Verify(WaldenConnectionSettings settings)
    {
        var problems = new List<string>();
        if (settings.JournalMode != "wal")
        {
            problems.Add($"journal_mode is '{settings.JournalMode}', expected 'wal'.");
        }

        if (settings.Synchronous != SynchronousPragma.ToLowerInvariant())
        {
            problems.Add($"synchronous is '{settings.Synchronous}', expected '{SynchronousPragma.ToLowerInvariant()}'.");
        }

        if (settings.ForeignKeys != _options.ForeignKeys)
        {
            problems.Add($"foreign_keys is {settings.ForeignKeys}, expected {_options.ForeignKeys}.");
        }

        if (settings.TempStore != "memory")
        {
            problems.Add($"temp_store is '{settings.TempStore}', expected 'memory'.");
        }

        if (problems.Count > 0)
        {
            throw new WaldenConfigurationException(
                $"SQLite did not keep the configuration Walden set on '{_path}': " + string.Join(" ", problems));
        }
    }

    /// <summary>
    /// Runs one or more statements; the one helper for this in the engine and the tool. Stepped directly
    /// (<see cref="RawStatement"/>): a statement that waits for a lock waits BusyTimeout, not longer.
    /// </summary>
    internal static int Execute(SqliteConnection connection, string sql) => RawStatement.Run(connection, sql);

    internal static T Scalar<T>(SqliteConnection connection, string sql) =>
        (T)Convert.ChangeType(RawStatement.QueryRow(connection, sql)?[0]!, typeof(T), System.Globalization.CultureInfo.InvariantCulture);

    private WaldenException TranslateOpenError(SqliteException ex, bool writer)
    {
        var code = ex.SqliteErrorCode & 0xFF;
        // Only for the writer, the first connection: looking for the cause reads the file's header, which must never
        // happen while another connection of this process has the file open (closing a descriptor drops its locks).
        if (Configuration.StandIns.IsMissing(ex, out _, out _) ||
            writer && code is SqliteErrors.CantOpen or SqliteErrors.ReadOnly && Files.OpenErrors.Causes(_path, writing: true).Count > 0)
        {
            return Files.OpenErrors.Explain(ex, _path, writing: true, _options);
        }

        if (code == SqliteErrors.NotADb)
        {
            return new WaldenConfigurationException(
                $"The file '{_path}' is not an SQLite database (SQLITE_NOTADB). Check the path; " +
                "if it should be a database, run 'walden check' on it.", ex);
        }

        if (code == SqliteErrors.CantOpen)
        {
            return new WaldenConfigurationException(
                $"The database '{_path}' cannot be opened or created (SQLITE_CANTOPEN). " +
                $"Check that the folder '{Path.GetDirectoryName(_path)}' exists and that this user may write to it.", ex);
        }

        if (code == SqliteErrors.ReadOnly)
        {
            return ReadOnlyFile(ex);
        }

        if (code == SqliteErrors.CantOpen && _options.MustExist && !File.Exists(_path))
        {
            return new WaldenConfigurationException(
                $"The database '{_path}' does not exist and WaldenOptions.MustExist is set, so Walden does not create it. " +
                "Check the path (a typo would otherwise create a second, empty database), or set MustExist = false to create it.", ex);
        }

        return SqliteErrors.Translate(ex, $"Opening '{_path}'", _options);
    }

    private WaldenReadOnlyException ReadOnlyFile(SqliteException? ex)
    {
        // What can be seen without opening anything (a missing -shm in a read-only folder, a symbolic link, permissions).
        var causes = Files.OpenErrors.Causes(_path, writing: true);
        return new WaldenReadOnlyException(
            $"The database '{_path}' is read-only for this process (file permissions, an immutable attribute, or a read-only mount), " +
            $"but Walden needs to write it and its -wal and -shm files. Give this user write access to the file and to the folder " +
            $"'{Path.GetDirectoryName(_path)}' (e.g. chmod u+w, chattr -i, or remount the volume read-write). Walden has no read-only mode: " +
            "to only read the file, open it with a plain SQLite connection in read-only mode." +
            (causes.Count > 0 ? " What Walden sees: " + string.Join(" ", causes) : string.Empty),
            ex?.SqliteErrorCode ?? SqliteErrors.ReadOnly, ex?.SqliteExtendedErrorCode ?? SqliteErrors.ReadOnly, ex);
    }

    internal static void Close(SqliteConnection connection, BusyHandler? busy)
    {
        connection.Dispose();
        busy?.Dispose();
    }
}

/// <summary>What a connection is for.</summary>
internal enum ConnectionRole
{
    /// <summary>The single writer: switches the file to WAL.</summary>
    Writer,

    /// <summary>A pooled reader: query_only.</summary>
    Reader,

    /// <summary>The checkpointer: may checkpoint (so not query_only) but never writes rows.</summary>
    Checkpointer,
}

/// <summary>A configured connection and the busy handler that must outlive it.</summary>
internal sealed record OpenedConnection(SqliteConnection Connection, BusyHandler Busy) : IDisposable
{
    public void Dispose() => ConnectionFactory.Close(Connection, Busy);
}
