using System.Diagnostics;
using Microsoft.Data.Sqlite;
using SQLitePCL;
using Walden.Configuration;
using Walden.Errors;

namespace Walden.Backup;

/// <summary>
/// Copies a database into a new file with SQLite itself, never by copying file bytes: the online
/// backup API in steps (<c>sqlite3_backup_step</c>), or <c>VACUUM INTO</c> for a compacted copy.
/// </summary>
internal static class BackupCopier
{
    private const int Done = 101;

    /// <summary>
    /// How much the copy writes between two fsyncs of its own file. Without it, the whole copy sits dirty
    /// in the page cache and its final fsync stalls the writer's WAL fsyncs for as long as the disk needs
    /// to write it all (the pause measured for 1 GB is in the README's backup section); in 64 MiB slices each stall is short.
    /// </summary>
    internal const long SyncEveryBytes = 64L * 1024 * 1024;

    /// <summary>
    /// Copies the snapshot pinned by <paramref name="source"/> page by page, <paramref name="pagesPerStep"/>
    /// pages per step, yielding between steps, and fsyncs the copy through <paramref name="destinationFile"/>
    /// (a descriptor Walden holds on its own new file, closed only after SQLite closed it) every
    /// <see cref="SyncEveryBytes"/>. Returns how many times SQLite restarted the copy.
    /// </summary>
    internal static int CopyWithBackupApi(BackupSource source, string destination, FileStream destinationFile, int pagesPerStep, long? maxBytesPerSecond,
        TimeSpan busyTimeout, CancellationToken cancellationToken)
    {
        long unsynced = 0;
        var pageSize = ConnectionFactory.Scalar<long>(source.Connection, "PRAGMA page_size");
        var started = Stopwatch.GetTimestamp();
        long copied = 0;
        using var target = OpenDestination(destination);
        var backup = raw.sqlite3_backup_init(target.Handle, "main", source.Connection.Handle, "main");
        if (backup is null || backup.IsInvalid)
        {
            throw new WaldenException($"Starting the backup of '{source.Path}' failed: {raw.sqlite3_errmsg(target.Handle).utf8_to_string()}");
        }

        var restarts = 0;
        var finished = false;
        try
        {
            var previousRemaining = int.MaxValue;
            long busySince = 0;
            while (true)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var rc = raw.sqlite3_backup_step(backup, pagesPerStep);
                if (rc == Done)
                {
                    break;
                }

                if (SqliteErrors.IsBusy(rc))
                {
                    // Only possible without a pinned snapshot (a rollback-journal writer holds the file): wait, bounded.
                    busySince = busySince == 0 ? Stopwatch.GetTimestamp() : busySince;
                    if (Stopwatch.GetElapsedTime(busySince) > busyTimeout)
                    {
                        throw new WaldenBusyException(
                            $"Backing up '{source.Path}' waited longer than the busy timeout ({busyTimeout.TotalSeconds:0.###} s) for a lock held by another process. " +
                            "Try again when that process is idle, or raise the busy timeout.", rc, rc);
                    }

                    Thread.Sleep(1);
                    continue;
                }

                if (rc != raw.SQLITE_OK)
                {
                    throw new WaldenException($"Copying '{source.Path}' failed: {raw.sqlite3_errstr(rc).utf8_to_string()}", rc, rc);
                }

                busySince = 0;
                var remaining = raw.sqlite3_backup_remaining(backup);
                if (remaining > previousRemaining)
                {
                    restarts++; // the source changed under a copy without a pinned snapshot: SQLite began again at page 1
                }

                previousRemaining = remaining;
                copied += pagesPerStep * pageSize;
                unsynced += pagesPerStep * pageSize;
                if (unsynced >= SyncEveryBytes)
                {
                    destinationFile.Flush(flushToDisk: true); // fsync(2): the pages SQLite wrote so far go to disk now, in a small slice
                    unsynced = 0;
                }

                if (maxBytesPerSecond is { } rate && TimeSpan.FromSeconds((double)copied / rate) - Stopwatch.GetElapsedTime(started) is { } ahead && ahead > TimeSpan.Zero)
                {
                    Thread.Sleep(ahead); // rate limit: this is the copy's own thread, sleeping hands CPU and disk to the writer
                }
                else
                {
                    Thread.Yield(); // let the writer and readers run between steps
                }
            }

            finished = true;
        }
        finally
        {
            var rc = raw.sqlite3_backup_finish(backup);
            if (finished && rc != raw.SQLITE_OK)
            {
                throw new WaldenException($"Finishing the backup of '{source.Path}' failed: {raw.sqlite3_errstr(rc).utf8_to_string()}", rc, rc);
            }
        }

        return restarts;
    }

    /// <summary>Writes a compacted copy of the current snapshot with one <c>VACUUM INTO</c> statement.</summary>
    internal static void CopyWithVacuumInto(BackupSource source, string destination)
    {
        // VACUUM INTO writes only the new file, but query_only forbids it too; lift it for this one statement.
        ConnectionFactory.Execute(source.Connection, "PRAGMA query_only=OFF");
        try
        {
            using var command = source.Connection.CreateCommand();
            command.CommandText = "VACUUM INTO $target";
            command.Parameters.AddWithValue("$target", destination);
            command.ExecuteNonQuery();
        }
        finally
        {
            ConnectionFactory.Execute(source.Connection, "PRAGMA query_only=ON");
        }
    }

    /// <summary>
    /// The copy's own connection: no journal and no fsync while pages stream in (a half-written copy
    /// has no manifest and is never used); the finished file is fsynced once before it is verified.
    /// </summary>
    private static SqliteConnection OpenDestination(string path)
    {
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWrite,
            Pooling = false,
        }.ToString());
        connection.Open();
        ConnectionFactory.Execute(connection, "PRAGMA journal_mode=OFF");
        ConnectionFactory.Execute(connection, "PRAGMA synchronous=OFF");
        return connection;
    }
}
