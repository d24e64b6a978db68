using System.Runtime.InteropServices;

namespace Walden.Native;

/// <summary>
/// Direct entry points into the native SQLite that SQLitePCLRaw does not bind. SQLitePCLRaw 3.0.5's <c>raw</c> has
/// <c>sqlite3_busy_timeout</c> and the commit, rollback and update hooks, but neither <c>sqlite3_busy_handler</c> nor
/// <c>sqlite3_wal_hook</c>; and the recover extension (<c>sqlite3_recover_*</c>, <c>sqlite3_dbdata_init</c>) exists only in
/// Walden's own build of the library, so no binding package can offer it. Everything SQLitePCLRaw does bind goes through it.
/// "e_sqlite3" resolves, through <see cref="NativeLoader"/>'s resolver, to the very library the provider loaded, so the
/// handles it gives us are valid here. Recovery checks <see cref="SqliteLibrary.RequireWaldenBuild"/> before calling the recover entries.
/// </summary>
internal static unsafe partial class SqliteNative
{
    internal const string Library = "e_sqlite3";

    /// <summary>SQLITE_RECOVER_LOST_AND_FOUND: the name of the table for rows no schema entry claims.</summary>
    internal const int RecoverLostAndFound = 1;

    /// <summary>SQLITE_RECOVER_FREELIST_CORRUPT: also read pages on the freelist (brings back deleted rows; Walden keeps it off).</summary>
    internal const int RecoverFreelistCorrupt = 2;

    /// <summary>SQLITE_RECOVER_ROWIDS: keep rowids that are not INTEGER PRIMARY KEY values.</summary>
    internal const int RecoverRowids = 3;

    /// <summary>SQLITE_RECOVER_SLOWINDEXES: create non-unique indexes before inserting data.</summary>
    internal const int RecoverSlowIndexes = 4;

    [LibraryImport(Library, EntryPoint = "sqlite3_busy_handler")]
    internal static partial int BusyHandler(IntPtr db, delegate* unmanaged[Cdecl]<IntPtr, int, int> callback, IntPtr state);

    /// <summary><c>sqlite3_exec</c> with no callback: for a handle Walden did not open through Microsoft.Data.Sqlite (the recover extension's output).</summary>
    [LibraryImport(Library, EntryPoint = "sqlite3_exec", StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Exec(IntPtr db, string sql, IntPtr callback, IntPtr state, IntPtr errorMessage);

    internal static int Exec(IntPtr db, string sql) => Exec(db, sql, IntPtr.Zero, IntPtr.Zero, IntPtr.Zero);

    [LibraryImport(Library, EntryPoint = "sqlite3_recover_init", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial IntPtr RecoverInit(IntPtr db, string schema, string outputUri);

    [LibraryImport(Library, EntryPoint = "sqlite3_recover_config")]
    internal static partial int RecoverConfig(IntPtr recover, int op, IntPtr argument);

    [LibraryImport(Library, EntryPoint = "sqlite3_recover_step")]
    internal static partial int RecoverStep(IntPtr recover);

    [LibraryImport(Library, EntryPoint = "sqlite3_recover_errcode")]
    internal static partial int RecoverErrorCode(IntPtr recover);

    [LibraryImport(Library, EntryPoint = "sqlite3_recover_errmsg")]
    internal static partial IntPtr RecoverErrorMessage(IntPtr recover);

    [LibraryImport(Library, EntryPoint = "sqlite3_recover_finish")]
    internal static partial int RecoverFinish(IntPtr recover);

    /// <summary>Registers the sqlite_dbdata and sqlite_dbptr virtual tables (from the recover extension) on a connection.</summary>
    [LibraryImport(Library, EntryPoint = "sqlite3_dbdata_init")]
    internal static partial int DbdataInit(IntPtr db, IntPtr errorMessage, IntPtr api);
    /// <summary>
    /// <c>sqlite3_drop_modules</c>: removes from the connection every virtual-table module not named in <paramref name="keep"/>
    /// (a null-terminated array of UTF-8 names); tables of a removed module are then left out of <c>integrity_check</c>.
    /// </summary>
    [LibraryImport(Library, EntryPoint = "sqlite3_drop_modules")]
    internal static partial int DropModules(IntPtr db, IntPtr* keep);

    /// <summary><c>sqlite3_wal_hook</c>: called after each commit on the connection, once the write lock is released, with the frames now in the WAL.</summary>
    /// <summary>sqlite3_commit_hook, to clear it (a null callback) on a connection SQLitePCLRaw no longer tracks.</summary>
    [LibraryImport(Library, EntryPoint = "sqlite3_commit_hook")]
    internal static partial IntPtr CommitHook(IntPtr db, IntPtr callback, IntPtr state);

    /// <summary>sqlite3_rollback_hook, to clear it (a null callback) on a connection SQLitePCLRaw no longer tracks.</summary>
    [LibraryImport(Library, EntryPoint = "sqlite3_rollback_hook")]
    internal static partial IntPtr RollbackHook(IntPtr db, IntPtr callback, IntPtr state);

    [LibraryImport(Library, EntryPoint = "sqlite3_wal_hook")]
    internal static partial IntPtr WalHook(IntPtr db, delegate* unmanaged[Cdecl]<IntPtr, IntPtr, IntPtr, int, int> callback, IntPtr state);
}
