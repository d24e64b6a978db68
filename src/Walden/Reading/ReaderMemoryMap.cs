using Walden.Configuration;
using Walden.Native;

namespace Walden.Reading;

/// <summary>
/// Turns a reader connection's memory map (<see cref="WaldenOptions.MmapSize"/>) off as soon as one of its reads finds the
/// database changed since the read before, and on again once its reads have found no change for <see cref="QuietPeriod"/>.
/// Why: at the start of every read transaction that finds the WAL changed by another connection, SQLite drops the
/// connection's page cache and unmaps its whole memory map (pager.c, <c>pagerBeginReadTransaction</c>:
/// <c>pager_reset</c>, then <c>sqlite3OsUnfetch(fd, 0, 0)</c>). The reads after it then map the file again and take a
/// page fault for every page they touch, and the unmap itself is a TLB shootdown across the process's cores; while the
/// writer commits every few milliseconds, that costs readers more than <c>pread</c> into the page cache does (the
/// readers' loss under load in <c>walden bench</c>; figures in the README). Reads of a database that does not change keep
/// the map. Nothing here changes what a read sees: only how SQLite fetches pages.
/// The signal is SQLite's own: <c>SQLITE_FCNTL_DATA_VERSION</c>, the pager's counter that <c>pager_reset</c> increments.
/// </summary>
internal sealed class ReaderMemoryMap
{
    /// <summary>How long a reader's reads must find no change before it maps the file again.</summary>
    internal static readonly TimeSpan QuietPeriod = TimeSpan.FromSeconds(1);

    private readonly OpenedConnection _opened;
    private readonly long _mmapSize;
    private readonly TimeProvider _time;
    private uint _dataVersion;
    private long _lastChange;
    private bool _mapped;

    internal ReaderMemoryMap(OpenedConnection opened, long mmapSize, TimeProvider time)
    {
        _opened = opened;
        _mmapSize = mmapSize;
        _time = time;
        _mapped = mmapSize > 0;
        _dataVersion = DataVersion();
        _lastChange = time.GetTimestamp();
    }

    /// <summary>After a read ended (no transaction open): notes whether it found a change, and switches the map if due.</summary>
    internal void AfterRead()
    {
        if (_mmapSize <= 0)
        {
            return;
        }

        var version = DataVersion();
        if (version != _dataVersion)
        {
            _dataVersion = version;
            _lastChange = _time.GetTimestamp();
            if (_mapped)
            {
                _mapped = !TrySetMmapSize(0);
            }
        }
        else if (!_mapped && _time.GetElapsedTime(_lastChange) >= QuietPeriod)
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
