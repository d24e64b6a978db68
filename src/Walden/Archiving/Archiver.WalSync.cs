using Walden.Configuration;
using Walden.Native;
using Walden.Writing;

namespace Walden.Archiving;

/// <summary>
/// Sync mode with <see cref="WaldenDurability.Full"/>: the WAL's fsync and the archive's store run side by side. SQLite's
/// COMMIT would fsync the WAL before the WAL hook runs, and only after the hook can the archive read the commit's frames,
/// so the two fsyncs (the WAL's, then the segment's with its folder's) would run one after the other. Instead the writer
/// connection commits with <c>synchronous=NORMAL</c> (the COMMIT writes the frames and returns), the hook takes the frames,
/// and <see cref="AfterCommit"/> wakes the store's own thread (Archiver.SyncStore.cs), fsyncs the WAL itself through
/// SQLite's own open file (<c>xSync</c>, as <see cref="WaldenDurability.FullPipelined"/>'s sync threads do) and then waits
/// for the store: the batch is acknowledged only when both are done, so it is as durable as under <c>synchronous=FULL</c>
/// and archived.
/// A failed WAL fsync fails the batch and every later one (after a failed fsync nobody can say what reached the disk, so
/// nothing later may be acknowledged); the database must be reopened. A checkpoint is safe: SQLite fsyncs the WAL before
/// it copies frames into the database whatever <c>synchronous</c> says.
/// </summary>
internal sealed unsafe partial class Archiver
{
    private WaldenDurability _durability = WaldenDurability.Full;
    private IntPtr _walFile; // writer thread: the writer connection's sqlite3_file of the WAL
    private delegate* unmanaged[Cdecl]<IntPtr, int, int> _walSync;
    private WaldenArchiveException? _walSyncFault; // set once; every later batch fails with it

    /// <summary>The database's durability (set once, before <see cref="Open"/>).</summary>
    internal WaldenDurability Durability
    {
        init => _durability = value;
    }

    /// <summary>Failure injection for tests: <see cref="WriterFaults.WalSyncResult"/> replaces this WAL fsync too.</summary>
    internal WriterFaults? Faults { get; init; }

    /// <summary>True when this archive fsyncs the WAL beside each Sync store (Sync with Full durability).</summary>
    private bool SyncsWal => _options.Mode == WaldenArchiveMode.Sync && _durability == WaldenDurability.Full;

    /// <summary>At open, on the writer connection: the COMMIT leaves the WAL's fsync to <see cref="SyncWal"/>.</summary>
    private void TakeOverWalSync(Microsoft.Data.Sqlite.SqliteConnection writer)
    {
        if (SyncsWal)
        {
            ConnectionFactory.Execute(writer, "PRAGMA synchronous=NORMAL");
        }
    }

    /// <summary>Writer thread, while the batch's store runs: one fsync of the WAL; null when it succeeded. Must not throw.</summary>
    private WaldenArchiveException? SyncWal()
    {
        if (_walSyncFault is not null)
        {
            return _walSyncFault;
        }

        int rc;
        try
        {
            rc = Faults?.WalSyncResult?.Invoke() ?? SyncWalFile();
        }
#pragma warning disable CA1031 // Reported as the batch's failure, never thrown into the writer.
        catch (Exception)
#pragma warning restore CA1031
        {
            rc = -1;
        }

        if (rc == 0)
        {
            return null;
        }

        // Carried as SQLite's own SQLITE_IOERR_FSYNC, so the writer's health sees what it sees when a COMMIT's fsync fails:
        // Unhealthy, and every later write refused on this open database (HealthSignals.SyncFailure).
        var cause = new Microsoft.Data.Sqlite.SqliteException($"The fsync of the WAL failed (result code {rc}).",
            Errors.SqliteErrors.IoErr, Diagnostics.HealthSignals.IoErrFsync);
        _walSyncFault = new WaldenArchiveException(
            $"The fsync of the WAL of '{_name}' failed (SQLite result code {rc}). The batch was committed but may not be on disk; " +
            "it is not acknowledged, and no later write is: dispose the database, check the disk, open it again.",
            isTransient: false, destination: null, cause);
        NeedBase("the WAL could not be fsynced");
        return _walSyncFault;
    }

    private int SyncWalFile()
    {
        if (_walFile == IntPtr.Zero)
        {
            var file = SqliteNative.WalFileOf(_writer!.Handle!.DangerousGetHandle(), out var rc);
            if (file == IntPtr.Zero)
            {
                return rc != 0 ? rc : 1;
            }

            _walSync = SqliteNative.SyncMethodOf(file);
            _walFile = file;
        }

        return _walSync(_walFile, SqliteNative.SyncNormal);
    }
}
