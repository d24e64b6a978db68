using Walden.Native;

namespace Walden.Reading;

/// <summary>
/// Ends a read's snapshot from another thread while the read's own code may still be running or parked
/// between the rows of an open data reader. Three SQLite facts shape it: an interrupt stays raised until a
/// statement starts while none is active (so a ROLLBACK prepared afterwards fails with SQLITE_INTERRUPT in the
/// parser); a ROLLBACK leaves a busy statement's read of the WAL in place (the snapshot stays pinned until the
/// statement is reset); and a reset statement stepped again starts over and takes a new snapshot.
/// </summary>
internal static class SnapshotRelease
{
    /// <summary>
    /// Interrupts a running statement, then, holding the connection's mutex so the read's thread cannot step in
    /// between: resets every busy statement, steps the ROLLBACK prepared in advance (its step clears the interrupt,
    /// as no statement is active any more), steps the sentinel <c>SELECT 1</c> (it reads no table, so it holds no
    /// snapshot) to its row and leaves it there, and interrupts again. While the sentinel is active the interrupt stays
    /// raised, so every later step on the connection fails with SQLITE_INTERRUPT before it reads anything: the read's
    /// code cannot take a new snapshot. The connection is closed afterwards, never pooled again.
    /// </summary>
    /// <returns>True when the connection is out of its transaction (the snapshot is released).</returns>
    internal static bool Release(PooledReader reader)
    {
        var handle = reader.Opened.Connection.Handle!;
        var db = handle.DangerousGetHandle();
        SqliteNative.Interrupt(db); // a step holds the mutex for as long as it runs: make it return first
        var mutex = SqliteNative.DbMutex(db);
        SqliteNative.MutexEnter(mutex);
        try
        {
            for (var statement = SqliteNative.NextStatement(db, IntPtr.Zero); statement != IntPtr.Zero;
                 statement = SqliteNative.NextStatement(db, statement))
            {
                if (SqliteNative.StatementBusy(statement) != 0)
                {
                    SqliteNative.Reset(statement);
                }
            }

            SqliteNative.Step(reader.Rollback.Pointer);
            SqliteNative.Reset(reader.Rollback.Pointer);
            SqliteNative.Step(reader.Sentinel.Pointer);
            SqliteNative.Interrupt(db);
            return SQLitePCL.raw.sqlite3_get_autocommit(handle) != 0;
        }
        finally
        {
            SqliteNative.MutexLeave(mutex);
        }
    }
}
