using System.Runtime.InteropServices;

namespace Walden.Native;

/// <summary>
/// Direct entry points into the native SQLite that SQLitePCLRaw 2.0.6 does not bind
/// (<c>sqlite3_busy_handler</c>, <c>sqlite3_wal_hook</c>; the recover extension later). "e_sqlite3" resolves to the same
/// libe_sqlite3.so the provider loaded, so the handles it gives us are valid here.
/// </summary>
internal static unsafe partial class SqliteNative
{
    internal const string Library = "e_sqlite3";

    [LibraryImport(Library, EntryPoint = "sqlite3_busy_handler")]
    internal static partial int BusyHandler(IntPtr db, delegate* unmanaged[Cdecl]<IntPtr, int, int> callback, IntPtr state);

    /// <summary><c>sqlite3_wal_hook</c>: called after each commit on the connection, once the write lock is released, with the frames now in the WAL.</summary>
    [LibraryImport(Library, EntryPoint = "sqlite3_wal_hook")]
    internal static partial IntPtr WalHook(IntPtr db, delegate* unmanaged[Cdecl]<IntPtr, IntPtr, IntPtr, int, int> callback, IntPtr state);
}
