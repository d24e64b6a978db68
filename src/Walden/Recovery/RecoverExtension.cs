using System.Runtime.InteropServices;
using Microsoft.Data.Sqlite;
using Walden.Native;

namespace Walden.Recovery;

/// <summary>
/// Runs SQLite's recover extension (compiled into Walden's own libwalden_sqlite3.so; absent from stock builds) from a damaged database into
/// a new file: the same engine as the shell's <c>.recover</c>, called in-process through its C API.
/// Unlike the shell's default, pages on the freelist are not read: they hold deleted rows, and
/// bringing those back would invent data the application removed.
/// </summary>
internal static class RecoverExtension
{
    private const int SqliteOk = 0;
    private const int SqliteDone = 101;

    internal static void Run(string inputPath, string outputPath, RecoveryContext context)
    {
        // Read-only: the input stays untouched, and a read-only connection never checkpoints or deletes a -wal on close.
        var builder = new SqliteConnectionStringBuilder { DataSource = inputPath, Mode = SqliteOpenMode.ReadOnly, Pooling = false };
        using var input = new SqliteConnection(builder.ToString());
        input.Open();
        context.StandIns.Register(input);
        var recover = SqliteNative.RecoverInit(input.Handle!.DangerousGetHandle(), "main", outputPath);
        if (recover == IntPtr.Zero)
        {
            throw new OutOfMemoryException("sqlite3_recover_init returned no handle (out of memory).");
        }

        var lostAndFound = Marshal.StringToCoTaskMemUTF8(context.LostAndFound);
        try
        {
            Config(recover, SqliteNative.RecoverLostAndFound, lostAndFound); // copied by the extension
            SetFlag(recover, SqliteNative.RecoverRowids, 1);
            SetFlag(recover, SqliteNative.RecoverFreelistCorrupt, 0);
            int rc;
            // The extension opens its output connection itself, inside the first step: the stand-ins, and foreign keys
            // turned off (Walden's SQLite enforces them by default), reach it through this thread's scope.
            var output = IntPtr.Zero;
            using (context.StandIns.OnConnectionsOpenedByThisThread(db => output = output == IntPtr.Zero ? db : output))
            {
                // The first step opens the output (the first connection opened in the scope) and creates the tables; rows follow.
                if ((rc = SqliteNative.RecoverStep(recover)) == SqliteOk && output != IntPtr.Zero)
                {
                    foreach (var sql in RefusedRows.Watch(context.RefusedTable, context.Tables))
                    {
                        _ = SqliteNative.Exec(output, sql); // a table the extension could not create has no trigger
                    }
                }

                while (rc == SqliteOk && (rc = SqliteNative.RecoverStep(recover)) == SqliteOk)
                {
                }
            }

            if (rc != SqliteDone)
            {
                var message = Marshal.PtrToStringUTF8(SqliteNative.RecoverErrorMessage(recover)) ?? "no message";
                if (Errors.SqliteErrors.IsDiskFault(rc))
                {
                    // A failing disk under the input or the output, not damage: the caller names what failed (RecoveryInput).
                    throw new SqliteException($"SQLite's recover extension stopped: {message} (code {rc}).", rc & 0xFF, rc);
                }

                throw new WaldenException($"SQLite's recover extension failed on '{inputPath}': {message} (code {rc}).", rc & 0xFF, rc, null);
            }
        }
        finally
        {
            SqliteNative.RecoverFinish(recover);
            Marshal.FreeCoTaskMem(lostAndFound);
        }
    }

    private static unsafe void SetFlag(IntPtr recover, int op, int value) => Config(recover, op, (IntPtr)(&value));

    private static void Config(IntPtr recover, int op, IntPtr argument)
    {
        var rc = SqliteNative.RecoverConfig(recover, op, argument);
        if (rc != SqliteOk)
        {
            throw new WaldenException($"sqlite3_recover_config({op}) failed with code {rc}.", rc & 0xFF, rc, null);
        }
    }
}
