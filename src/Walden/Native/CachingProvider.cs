using SQLitePCL;

namespace Walden.Native;

/// <summary>
/// The SQLitePCLRaw provider Walden installs: the real e_sqlite3 provider, with a prepared-statement cache on the
/// connections Walden opens for itself (<see cref="StatementCache"/>). Microsoft.Data.Sqlite prepares a new native
/// statement for every new <c>SqliteCommand</c> and finalizes it when the command is disposed (it has no statement
/// cache: dotnet/efcore#14044), so code that creates a command per write parses its SQL at every write. On a cached
/// connection a finalized statement is reset and kept instead, and the next prepare of the very same text with the
/// same flags gets it back. Every other connection, and every other call, goes to the real provider unchanged.
/// </summary>
internal sealed partial class CachingProvider : ISQLite3Provider
{
    private readonly ISQLite3Provider _inner;

    internal CachingProvider(ISQLite3Provider inner) => _inner = inner;

    int ISQLite3Provider.sqlite3_prepare_v2(sqlite3 db, ReadOnlySpan<byte> sql, out IntPtr stmt, out ReadOnlySpan<byte> remain)
    {
        if (StatementCache.Of(db) is not { } cache)
        {
            return _inner.sqlite3_prepare_v2(db, sql, out stmt, out remain);
        }

        var rc = cache.Prepare(_inner, db, sql, 0, out stmt, out var consumed);
        remain = sql[consumed..];
        return rc;
    }

    int ISQLite3Provider.sqlite3_prepare_v3(sqlite3 db, ReadOnlySpan<byte> sql, uint flags, out IntPtr stmt, out ReadOnlySpan<byte> remain)
    {
        if (StatementCache.Of(db) is not { } cache)
        {
            return _inner.sqlite3_prepare_v3(db, sql, flags, out stmt, out remain);
        }

        var rc = cache.Prepare(_inner, db, sql, flags, out stmt, out var consumed);
        remain = sql[consumed..];
        return rc;
    }

#pragma warning disable CS0612 // the zero-terminated overloads are obsolete in SQLitePCLRaw 3; still part of the interface
    int ISQLite3Provider.sqlite3_prepare_v2(sqlite3 db, utf8z sql, out IntPtr stmt, out utf8z remain)
    {
        if (StatementCache.Of(db) is not { } cache)
        {
            return _inner.sqlite3_prepare_v2(db, sql, out stmt, out remain);
        }

        return PrepareZeroTerminated(cache, db, sql, 0, out stmt, out remain);
    }

    int ISQLite3Provider.sqlite3_prepare_v3(sqlite3 db, utf8z sql, uint flags, out IntPtr stmt, out utf8z remain)
    {
        if (StatementCache.Of(db) is not { } cache)
        {
            return _inner.sqlite3_prepare_v3(db, sql, flags, out stmt, out remain);
        }

        return PrepareZeroTerminated(cache, db, sql, flags, out stmt, out remain);
    }

    int ISQLite3Provider.sqlite3_finalize(IntPtr stmt) => StatementCache.TryKeep(stmt, out var rc) ? rc : _inner.sqlite3_finalize(stmt);

    int ISQLite3Provider.sqlite3_close_v2(IntPtr db)
    {
        StatementCache.Disable(db, _inner); // statements kept for it would otherwise hold the connection open as a zombie
        return _inner.sqlite3_close_v2(db);
    }

    int ISQLite3Provider.sqlite3_close(IntPtr db)
    {
        StatementCache.Disable(db, _inner);
        return _inner.sqlite3_close(db);
    }

    IntPtr ISQLite3Provider.sqlite3_next_stmt(sqlite3 db, IntPtr stmt)
    {
        // Kept statements are nobody's: a walk over the connection's statements (SQLitePCLRaw maps each to its
        // handle, which a kept one no longer has) does not see them.
        var next = _inner.sqlite3_next_stmt(db, stmt);
        while (next != IntPtr.Zero && StatementCache.IsKept(db, next))
        {
            next = _inner.sqlite3_next_stmt(db, next);
        }

        return next;
    }

    private unsafe int PrepareZeroTerminated(StatementCache cache, sqlite3 db, utf8z sql, uint flags, out IntPtr stmt, out utf8z remain)
    {
        fixed (byte* start = sql)
        {
            if (start == null)
            {
                return _inner.sqlite3_prepare_v3(db, sql, flags, out stmt, out remain);
            }

            var text = System.Runtime.InteropServices.MemoryMarshal.CreateReadOnlySpanFromNullTerminated(start);
            var rc = cache.Prepare(_inner, db, text, flags, out stmt, out var consumed);
            remain = utf8z.FromPtr(start + consumed); // as the real provider does: the rest of the caller's text
            return rc;
        }
    }
#pragma warning restore CS0612
}
