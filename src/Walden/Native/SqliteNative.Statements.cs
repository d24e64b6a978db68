using System.Runtime.InteropServices;

namespace Walden.Native;

/// <summary>
/// Statement-level entry points used to end a read's snapshot from another thread: walk the connection's
/// statements under its mutex and reset the busy ones (a statement parked between rows holds the snapshot).
/// </summary>
internal static unsafe partial class SqliteNative
{
    [LibraryImport(Library, EntryPoint = "sqlite3_db_mutex")]
    internal static partial IntPtr DbMutex(IntPtr db);

    [LibraryImport(Library, EntryPoint = "sqlite3_mutex_enter")]
    internal static partial void MutexEnter(IntPtr mutex);

    [LibraryImport(Library, EntryPoint = "sqlite3_mutex_leave")]
    internal static partial void MutexLeave(IntPtr mutex);

    [LibraryImport(Library, EntryPoint = "sqlite3_next_stmt")]
    internal static partial IntPtr NextStatement(IntPtr db, IntPtr statement);

    [LibraryImport(Library, EntryPoint = "sqlite3_stmt_busy")]
    internal static partial int StatementBusy(IntPtr statement);

    [LibraryImport(Library, EntryPoint = "sqlite3_sql")]
    internal static partial IntPtr StatementSql(IntPtr statement);

    [LibraryImport(Library, EntryPoint = "sqlite3_stmt_readonly")]
    internal static partial int StatementReadOnly(IntPtr statement);

    [LibraryImport(Library, EntryPoint = "sqlite3_reset")]
    internal static partial int Reset(IntPtr statement);

    [LibraryImport(Library, EntryPoint = "sqlite3_clear_bindings")]
    internal static partial int ClearBindings(IntPtr statement);

    [LibraryImport(Library, EntryPoint = "sqlite3_finalize")]
    internal static partial int FinalizeStatement(IntPtr statement);

    [LibraryImport(Library, EntryPoint = "sqlite3_step")]
    internal static partial int Step(IntPtr statement);

    [LibraryImport(Library, EntryPoint = "sqlite3_interrupt")]
    internal static partial void Interrupt(IntPtr db);
}
