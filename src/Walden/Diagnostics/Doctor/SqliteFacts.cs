using System.Buffers.Binary;
using System.Globalization;
using Microsoft.Data.Sqlite;
using SQLitePCL;
using Walden.Configuration;
using Walden.Files;
using Walden.Integrity;

namespace Walden.Diagnostics.Doctor;

/// <summary>
/// What SQLite itself says about the database, read on one connection of the doctor's own: read-only (or, for a closed
/// database with no -wal, -shm or holder, read-write with <c>query_only</c>, so SQLite removes the -wal and -shm it must create
/// to read a WAL file when it closes, as the last connection), or on a private copy when nobody holds the file and reading
/// it in place would change it or leave files beside it (<see cref="ForeignFile.SettledCopy"/>). Never used on a hot journal:
/// a read-write connection would roll it back, a read-only one cannot read past it.
/// </summary>
internal sealed class SqliteFacts
{
    /// <summary>Why SQLite could not read the file; null when it could.</summary>
    internal string? Error { get; private init; }

    /// <summary>SQLite's primary result code for <see cref="Error"/>.</summary>
    internal int ErrorCode { get; private init; }

    internal string? JournalMode { get; private set; }

    internal long PageSize { get; private set; }

    internal long PageCount { get; private set; }

    internal long FreelistCount { get; private set; }

    internal string AutoVacuum { get; private set; } = "none";

    /// <summary>Header offset 96: the SQLite version number that last wrote the header; null when page 1 could not be read.</summary>
    internal int? LastWriterVersion { get; private set; }

    /// <summary>Why <see cref="LastWriterVersion"/> is null.</summary>
    internal string? LastWriterUnknown { get; private set; }

    /// <summary>The WAL-index header (frames, checkpointed frames, read marks); null outside WAL mode or when not readable.</summary>
    internal WalIndexState? WalIndex { get; private set; }

    /// <summary>The rows <c>PRAGMA quick_check</c> returned ("ok" alone when sound); null when it did not finish.</summary>
    internal IReadOnlyList<string>? QuickCheck { get; private set; }

    /// <summary>What quick_check could not verify (indexes on the application's collations or functions); empty when nothing.</summary>
    internal IReadOnlyList<string> QuickCheckNotes { get; private set; } = [];

    /// <summary>Why quick_check gave no answer.</summary>
    internal string? QuickCheckMissing { get; private set; }

    internal static SqliteFacts Read(string database, bool alone, TimeSpan quickCheckBudget)
    {
        // Nobody has the file open, and SQLite would change it to read it in place (rebuild a -shm a killed writer left), could
        // not remove the empty -wal and -shm a read creates (a WAL file or folder this user may not write), or could not create
        // the -shm at all: read on a private copy, as walden check does. The -shm's WAL-index is still read from the user's file.
        var settled = alone ? ForeignFile.SettledCopy(database) : null;
        try
        {
            var facts = ReadFile(settled?.Database ?? database, database + "-shm",
                readWrite: settled is not null || alone && !File.Exists(database + "-wal") && !File.Exists(database + "-shm") &&
                    OpenErrors.IsWritable(Path.GetDirectoryName(database)!), quickCheckBudget);
            if (settled is { Notes: var notes })
            {
                facts.QuickCheckNotes = [.. notes, .. facts.QuickCheckNotes];
            }

            return facts;
        }
        finally
        {
            if (settled is { Folder: var folder })
            {
                Directory.Delete(folder, recursive: true); // the private copy, never the user's file
            }
        }
    }

    private static SqliteFacts ReadFile(string database, string shm, bool readWrite, TimeSpan quickCheckBudget)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = database,
            Mode = readWrite ? SqliteOpenMode.ReadWrite : SqliteOpenMode.ReadOnly,
            Pooling = false,
            DefaultTimeout = 5,
        }.ToString());
        var facts = new SqliteFacts();
        BusyHandler? busy = null;
        try
        {
            connection.Open();
            // A writer's lock is waited for up to 5 s, as walden check waits (without a busy handler SQLite gives up at once:
            // beside a Python program writing in rollback mode, most runs said "could not read the database: database is locked").
            busy = BusyHandler.Install(connection, ReadBusyTimeout);
            ConnectionFactory.Execute(connection, "PRAGMA query_only=ON");
            facts.JournalMode = ConnectionFactory.Scalar<string>(connection, "PRAGMA journal_mode");
            facts.PageSize = ConnectionFactory.Scalar<long>(connection, "PRAGMA page_size");
            facts.PageCount = ConnectionFactory.Scalar<long>(connection, "PRAGMA page_count");
            facts.FreelistCount = ConnectionFactory.Scalar<long>(connection, "PRAGMA freelist_count");
            facts.AutoVacuum = ConnectionFactory.Scalar<long>(connection, "PRAGMA auto_vacuum") switch
            {
                1 => "full",
                2 => "incremental",
                _ => "none",
            };
            facts.ReadLastWriter(connection);
            if (facts.JournalMode == "wal")
            {
                facts.WalIndex = WalIndexView.Read(OpenErrors.RealPath(shm) ?? shm);
            }

            facts.RunQuickCheck(connection, quickCheckBudget);
        }
        catch (SqliteException ex) when (facts.JournalMode is null)
        {
            return new SqliteFacts { Error = ex.Message, ErrorCode = ex.SqliteErrorCode & 0xff };
        }
        catch (SqliteException ex) when ((ex.SqliteErrorCode & 0xff) is Errors.SqliteErrors.Busy or Errors.SqliteErrors.Locked)
        {
            // Another process kept its write lock past the wait: that says nothing about the file's pages.
            facts.QuickCheck = null;
            facts.QuickCheckMissing = Busy();
        }
        catch (SqliteException ex)
        {
            facts.QuickCheck ??= [ex.Message]; // a later read failed: what SQLite said is the finding
        }
        finally
        {
            busy?.Dispose();
        }

        return facts;
    }

    /// <summary>How long a read waits for another process's lock: as long as <c>walden check</c> waits.</summary>
    private static TimeSpan ReadBusyTimeout => WaldenIntegrity.ForeignFileBusyTimeout;

    private static string Busy() => string.Create(CultureInfo.InvariantCulture,
        $"another process held the database's lock for more than {ReadBusyTimeout.TotalSeconds:0} s, so quick_check did not run (busy is not damage); run the doctor again when it is idle, or 'walden check'");

    /// <summary>Bytes 92 to 99 of page 1 through sqlite_dbpage, so a page 1 still in the -wal is read as SQLite sees it.</summary>
    private void ReadLastWriter(SqliteConnection connection)
    {
        try
        {
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT substr(data, 93, 8) FROM sqlite_dbpage WHERE pgno = 1";
            if (command.ExecuteScalar() is byte[] { Length: 8 } bytes)
            {
                LastWriterVersion = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(4));
            }
            else
            {
                LastWriterUnknown = "page 1 is empty";
            }
        }
        catch (SqliteException ex)
        {
            // The stock SQLite has no sqlite_dbpage; the header is never read outside SQLite.
            LastWriterUnknown = $"the header could not be read through SQLite ({ex.Message}); it needs Walden's own SQLite build";
        }
    }

    private void RunQuickCheck(SqliteConnection connection, TimeSpan budget)
    {
        var gate = new object();
        var done = false;
        using var timer = new Timer(_ =>
        {
            lock (gate)
            {
                if (!done)
                {
                    raw.sqlite3_interrupt(connection.Handle);
                }
            }
        }, null, budget, Timeout.InfiniteTimeSpan);
        try
        {
            // The application's collations and functions (a custom "UNICODE" collation, CHECK(valid_email(...))) get the
            // stand-ins `walden check` uses: without them quick_check fails with "no such collation sequence", which is
            // not damage, and the doctor called a healthy file damaged and sent the user to recover --in-place.
            var standIns = new Configuration.StandIns();
            var (findings, notes) = Integrity.IntegrityChecker.RunSettingAsideStandIns(connection, standIns, WaldenIntegrityCheck.Quick, 20);
            QuickCheck = findings.Count == 0 ? ["ok"] : findings;
            QuickCheckNotes = [.. standIns.Notes, .. notes];
        }
        catch (SqliteException ex) when ((ex.SqliteErrorCode & 0xff) is Errors.SqliteErrors.Busy or Errors.SqliteErrors.Locked)
        {
            QuickCheckMissing = Busy();
        }
        catch (SqliteException ex) when (ex.SqliteErrorCode == 9)
        {
            QuickCheckMissing = string.Create(CultureInfo.InvariantCulture,
                $"quick_check did not finish within {budget.TotalSeconds:0} s (it reads every page); run 'walden check' for the full check");
        }
        catch (SqliteException ex)
        {
            QuickCheck = [ex.Message];
        }
        finally
        {
            lock (gate)
            {
                done = true;
            }
        }
    }
}
