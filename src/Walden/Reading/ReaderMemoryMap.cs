using System.Numerics;
using Walden.Configuration;
using Walden.Native;

namespace Walden.Reading;

/// <summary>
/// Turns a reader connection's memory map (<see cref="WaldenOptions.MmapSize"/>) off while most of its reads find the
/// database changed since the read before, and on again once they stop finding that.
/// Why: at the start of every read transaction that finds the WAL changed by another connection, SQLite drops the
/// connection's page cache and unmaps its whole memory map (pager.c, <c>pagerBeginReadTransaction</c>:
/// <c>pager_reset</c>, then <c>sqlite3OsUnfetch(fd, 0, 0)</c>). In a process whose writer commits between most reads,
/// every read then pays an munmap (a TLB shootdown across the process's cores), an mmap and a page fault for each page
/// it touches, where <c>pread</c> into the page cache costs less. Reads of a database that does not change keep the map,
/// which is faster for them. Nothing here changes what a read sees: only how SQLite fetches pages.
/// The signal is SQLite's own: <c>SQLITE_FCNTL_DATA_VERSION</c>, the pager's counter that <c>pager_reset</c> increments.
/// </summary>
internal sealed class ReaderMemoryMap
{
    /// <summary>The reads remembered: the last 16.</summary>
    private const int Window = 16;

    /// <summary>Of the remembered reads, this many or more found a change: the map goes off.</summary>
    internal const int OffAt = Window / 2;

    private readonly OpenedConnection _opened;
    private readonly long _mmapSize;
    private uint _dataVersion;
    private int _changes; // bit i: the read i reads ago found the database changed
    private bool _mapped;

    internal ReaderMemoryMap(OpenedConnection opened, long mmapSize)
    {
        _opened = opened;
        _mmapSize = mmapSize;
        _mapped = mmapSize > 0;
        _dataVersion = DataVersion();
    }

    /// <summary>Whether the connection reads through its memory map now.</summary>
    internal bool Mapped => _mapped;

    /// <summary>After a read ended (no transaction open): notes whether it found a change, and switches the map if due.</summary>
    internal void AfterRead()
    {
        if (_mmapSize <= 0)
        {
            return;
        }

        var version = DataVersion();
        var changed = version != _dataVersion;
        _dataVersion = version;
        _changes = ((_changes << 1) | (changed ? 1 : 0)) & ((1 << Window) - 1);
        if (_mapped && BitOperations.PopCount((uint)_changes) >= OffAt)
        {
            _mapped = !TrySetMmapSize(0);
        }
        else if (!_mapped && _changes == 0)
        {
            _mapped = TrySetMmapSize(_mmapSize);
        }
    }

    private bool TrySetMmapSize(long bytes)
    {
        try
        {
            ConnectionFactory.Execute(_opened.Connection, $"PRAGMA mmap_size={bytes}");
            return true;
        }
        catch (Microsoft.Data.Sqlite.SqliteException)
        {
            return false; // the map only steers speed; the read that ended is not affected, the next one tries again
        }
    }

    private unsafe uint DataVersion()
    {
        uint version = 0;
        var rc = SqliteNative.FileControl(_opened.Connection.Handle!.DangerousGetHandle(), "main", SqliteNative.FileControlDataVersion,
            (IntPtr)(&version));
        return rc == 0 ? version : _dataVersion; // an error leaves the history as it was: it only steers the map
    }
}
