using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Walden.Files;

/// <summary>
/// What the WAL index (the -shm) says of the -wal, as SQLite reads it at the start of a read transaction: how many frames
/// are committed in it, its salts (new at every restart of the WAL), the page size. Read through SQLite
/// (sqlite3_snapshot_get copies the index header, WalIndexHdr in wal.c); no file is opened.
/// </summary>
/// <param name="Frames">mxFrame: the frames committed in the -wal.</param>
/// <param name="Salt1">aSalt[0]: changes whenever the WAL restarts.</param>
/// <param name="Salt2">aSalt[1].</param>
/// <param name="PageSize">The page size in bytes.</param>
internal readonly record struct WalIndexHeader(uint Frames, uint Salt1, uint Salt2, int PageSize)
{
    /// <summary>The bytes the committed frames take in the -wal: its 32-byte header, then 24 bytes and a page per frame.</summary>
    internal long CommittedBytes => Frames == 0 ? 0 : 32 + (long)Frames * (24 + PageSize);

    /// <summary>Reads the header in a short read transaction on <paramref name="connection"/> (idle, in WAL mode); null when SQLite does not give it (busy, not WAL).</summary>
    internal static unsafe WalIndexHeader? Read(SqliteConnection connection)
    {
        try
        {
            using var transaction = connection.BeginTransaction(deferred: true);
            using (var start = connection.CreateCommand())
            {
                start.Transaction = transaction;
                start.CommandText = "SELECT count(*) FROM sqlite_schema"; // starts the read transaction
                start.ExecuteScalar();
            }

            if (raw.sqlite3_snapshot_get(connection.Handle, "main", out var snapshot) != raw.SQLITE_OK)
            {
                return null;
            }

            using (snapshot)
            {
                var header = (byte*)snapshot.DangerousGetHandle(); // WalIndexHdr, in the machine's byte order
                var pageSize = *(ushort*)(header + 14);
                return new WalIndexHeader(*(uint*)(header + 16), *(uint*)(header + 32), *(uint*)(header + 36), pageSize == 1 ? 65536 : pageSize);
            }
        }
        catch (SqliteException)
        {
            return null; // busy or locked for a moment: the next check reads it
        }
    }
}
