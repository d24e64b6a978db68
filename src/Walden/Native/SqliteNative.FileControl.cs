using System.Runtime.InteropServices;

namespace Walden.Native;

/// <summary>The file-control entry point and the one piece of <c>sqlite3_file</c> Walden calls through.</summary>
internal static unsafe partial class SqliteNative
{
    /// <summary>SQLITE_FCNTL_JOURNAL_POINTER: the <c>sqlite3_file*</c> of the rollback journal or, in WAL mode, of the WAL.</summary>
    internal const int FileControlJournalPointer = 28;

    /// <summary>SQLITE_FCNTL_DATA_VERSION: the pager's data version (an unsigned int), which moves whenever the connection's page cache was dropped because another connection changed the file.</summary>
    internal const int FileControlDataVersion = 35;

    /// <summary>SQLITE_FCNTL_SIZE_HINT: the file will grow to at least this many bytes (an <c>sqlite3_int64</c>); the unix VFS
    /// extends it then, in whole chunks of SQLITE_FCNTL_CHUNK_SIZE, by writing a byte into each new block (os_unix.c,
    /// <c>fcntlSizeHint</c>, in a build without <c>HAVE_POSIX_FALLOCATE</c> such as Walden's).</summary>
    internal const int FileControlSizeHint = 5;

    /// <summary>SQLITE_FCNTL_CHUNK_SIZE: the file grows and shrinks in multiples of this many bytes (an int).</summary>
    internal const int FileControlChunkSize = 6;

    /// <summary>SQLITE_FCNTL_RESERVE_BYTES: the bytes reserved at the end of every page (header offset 20), for a checksum
    /// VFS (cksumvfs needs 8) or an encryption extension. Takes an int: a value from 0 to 255 is wanted from the next VACUUM
    /// (or, on an empty file, its first page) on; -1 changes nothing; either way SQLite writes back the current value.</summary>
    internal const int FileControlReserveBytes = 38;

    /// <summary>SQLITE_SYNC_NORMAL: an fsync (fdatasync where the build has it), no F_FULLFSYNC.</summary>
    internal const int SyncNormal = 0x00002;

    [LibraryImport(Library, EntryPoint = "sqlite3_file_control", StringMarshalling = StringMarshalling.Utf8)]
    internal static partial int FileControl(IntPtr db, string schema, int op, IntPtr argument);

    /// <summary>
    /// The open <c>-wal</c> of the connection <paramref name="db"/>: SQLite's own <c>sqlite3_file*</c>
    /// (<see cref="FileControlJournalPointer"/>), so Walden never opens a descriptor of its own on a file in use
    /// (sqlite.org/howtocorrupt.html). Zero while SQLite has not opened the WAL (its <c>pMethods</c> is null until then), or
    /// when the file control failed (<paramref name="rc"/>, SQLite's result code, then says why). Call it on the thread that
    /// owns the connection at that moment.
    /// </summary>
    internal static IntPtr WalFileOf(IntPtr db, out int rc)
    {
        IntPtr file = IntPtr.Zero;
        rc = FileControl(db, "main", FileControlJournalPointer, (IntPtr)(&file));
        return rc != 0 || file == IntPtr.Zero || *(IntPtr*)file == IntPtr.Zero ? IntPtr.Zero : file;
    }

    /// <summary>
    /// The bytes reserved per page of <paramref name="schema"/> on <paramref name="db"/> (<see cref="FileControlReserveBytes"/>):
    /// the file's value, or the value asked for with <paramref name="wanted"/> (0 to 255; -1 asks nothing) when larger.
    /// </summary>
    /// <exception cref="InvalidOperationException">SQLite refused the file control (its result code is in the message).</exception>
    internal static int ReserveBytes(IntPtr db, int wanted = -1, string schema = "main")
    {
        var value = wanted;
        var rc = FileControl(db, schema, FileControlReserveBytes, (IntPtr)(&value));
        return rc == 0 ? value : throw new InvalidOperationException($"SQLITE_FCNTL_RESERVE_BYTES failed with code {rc}.");
    }

    /// <summary>
    /// The <c>xSync</c> method of a <c>sqlite3_file</c>. The layouts are SQLite's public, stable ABI (sqlite3.h):
    /// <c>sqlite3_file</c> starts with its <c>pMethods</c> pointer; <c>sqlite3_io_methods</c> is an int (padded to a
    /// pointer) followed by xClose, xRead, xWrite, xTruncate, xSync. Calling the VFS's own method, not fsync on a
    /// descriptor, keeps whatever the VFS does on a sync (the unix VFS also syncs the folder of a new file once).
    /// </summary>
    internal static delegate* unmanaged[Cdecl]<IntPtr, int, int> SyncMethodOf(IntPtr file)
    {
        var methods = *(IntPtr*)file;
        return (delegate* unmanaged[Cdecl]<IntPtr, int, int>)((IntPtr*)methods)[5];
    }

    /// <summary>The <c>xRead</c> method of a <c>sqlite3_file</c> (third slot of <c>sqlite3_io_methods</c>, as above).</summary>
    internal static delegate* unmanaged[Cdecl]<IntPtr, byte*, int, long, int> ReadMethodOf(IntPtr file)
    {
        var methods = *(IntPtr*)file;
        return (delegate* unmanaged[Cdecl]<IntPtr, byte*, int, long, int>)((IntPtr*)methods)[2];
    }

    /// <summary>The <c>xFileSize</c> method of a <c>sqlite3_file</c> (seventh slot of <c>sqlite3_io_methods</c>, as above).</summary>
    internal static delegate* unmanaged[Cdecl]<IntPtr, long*, int> FileSizeMethodOf(IntPtr file)
    {
        var methods = *(IntPtr*)file;
        return (delegate* unmanaged[Cdecl]<IntPtr, long*, int>)((IntPtr*)methods)[6];
    }

    /// <summary>The <c>xFileControl</c> method of a <c>sqlite3_file</c> (eleventh slot of <c>sqlite3_io_methods</c>, as above).</summary>
    internal static delegate* unmanaged[Cdecl]<IntPtr, int, void*, int> FileControlMethodOf(IntPtr file)
    {
        var methods = *(IntPtr*)file;
        return (delegate* unmanaged[Cdecl]<IntPtr, int, void*, int>)((IntPtr*)methods)[10];
    }
}
