using System.Collections.Concurrent;
using SQLitePCL;

namespace Walden.Native;

/// <summary>
/// Prepared statements kept for one connection of Walden's (its writer, its readers), so that application code which
/// creates a new <c>SqliteCommand</c> for every write or read reuses the statement SQLite compiled the first time
/// (see <see cref="CachingProvider"/>). Why this is safe:
/// <list type="bullet">
/// <item>A statement is handed out only for the very same bytes of SQL and the same prepare flags, and only while no
/// command holds it; otherwise SQLite prepares a new one, as it would without the cache.</item>
/// <item>A statement given back is reset (it holds no snapshot and no lock) and its bindings cleared, which is the
/// state of a new one; SQLite itself compiles it again when the schema changed since (SQLITE_SCHEMA, as for any
/// statement kept by a command).</item>
/// <item>Kept statements are finalized before their connection closes, are not seen by <c>sqlite3_next_stmt</c>
/// walks through the provider, and a statement whose connection closed while a command held it is finalized when that
/// command lets it go.</item>
/// <item>Connections Walden did not open (the application's own) are never cached.</item>
/// </list>
/// </summary>
internal sealed class StatementCache
{
    /// <summary>Statements kept per connection at most; the least recently used one is finalized beyond it.</summary>
    internal const int Capacity = 32;

    /// <summary>Longer SQL is not kept: text that long is rarely the same twice.</summary>
    internal const int MaxSqlBytes = 4096;

    private const int PreparePersistent = 0x01; // SQLITE_PREPARE_PERSISTENT: a hint that the statement lives long

    private static readonly ConcurrentDictionary<IntPtr, StatementCache> Caches = new();
    private static readonly ConcurrentDictionary<IntPtr, Entry> Lent = new();

    private readonly object _lock = new();
    private readonly List<Entry> _kept = new(); // least recently used first
    private readonly HashSet<IntPtr> _keptStatements = [];
    private bool _closed;

    /// <summary>Caches the statements of <paramref name="connection"/> until it closes.</summary>
    internal static void Enable(sqlite3 connection) => Caches.TryAdd(connection.DangerousGetHandle(), new StatementCache());

    /// <summary>The cache of <paramref name="db"/>, or null when it has none.</summary>
    internal static StatementCache? Of(sqlite3 db) => Caches.GetValueOrDefault(db.DangerousGetHandle()); // a lock-free read

    /// <summary>Whether <paramref name="stmt"/> is a statement kept (not in use) for <paramref name="db"/>.</summary>
    internal static bool IsKept(sqlite3 db, IntPtr stmt)
    {
        if (Of(db) is not { } cache)
        {
            return false;
        }

        lock (cache._lock)
        {
            return cache._keptStatements.Contains(stmt);
        }
    }

    /// <summary>Stops caching for a connection that closes, and finalizes the statements kept for it.</summary>
    internal static void Disable(IntPtr db, ISQLite3Provider provider)
    {
        if (!Caches.TryRemove(db, out var cache))
        {
            return;
        }

        lock (cache._lock)
        {
            cache._closed = true;
            foreach (var entry in cache._kept)
            {
                provider.sqlite3_finalize(entry.Statement);
            }

            cache._kept.Clear();
            cache._keptStatements.Clear();
        }
    }

    /// <summary>
    /// For a statement being finalized: when it came from a cache, resets it and keeps it (true, with what the reset
    /// returned, as a finalize would); false when it must really be finalized.
    /// </summary>
    internal static bool TryKeep(IntPtr stmt, out int rc)
    {
        rc = 0;
        // ContainsKey reads without a lock; every finalize of every connection in the process passes here.
        if (!Lent.ContainsKey(stmt) || !Lent.TryRemove(stmt, out var entry))
        {
            return false;
        }

        var cache = entry.Cache;
        lock (cache._lock)
        {
            if (cache._closed)
            {
                return false; // its connection closed while a command held it
            }

            rc = SqliteNative.Reset(stmt);
            SqliteNative.ClearBindings(stmt);
            if (cache._kept.Count >= Capacity)
            {
                var oldest = cache._kept[0];
                cache._kept.RemoveAt(0);
                cache._keptStatements.Remove(oldest.Statement);
                SqliteNative.FinalizeStatement(oldest.Statement);
            }

            cache._kept.Add(entry);
            cache._keptStatements.Add(stmt);
            return true;
        }
    }

    /// <summary>
    /// Prepares the first statement of <paramref name="sql"/>: a kept statement of the same text and flags if there is
    /// one, else a new one that is kept when its command lets it go. <paramref name="consumed"/> is how many bytes of
    /// <paramref name="sql"/> the statement took (the rest is the tail SQLite reports).
    /// </summary>
    internal int Prepare(ISQLite3Provider provider, sqlite3 db, ReadOnlySpan<byte> sql, uint flags, out IntPtr stmt, out int consumed)
    {
        lock (_lock)
        {
            for (var i = _kept.Count - 1; i >= 0; i--)
            {
                var entry = _kept[i];
                if (entry.Flags == flags && sql.SequenceEqual(entry.Sql))
                {
                    _kept.RemoveAt(i);
                    _keptStatements.Remove(entry.Statement);
                    Lent[entry.Statement] = entry;
                    stmt = entry.Statement;
                    consumed = entry.Consumed;
                    return 0;
                }
            }
        }

        var rc = provider.sqlite3_prepare_v3(db, sql, flags | PreparePersistent, out stmt, out var remain);
        consumed = sql.Length - remain.Length;
        if (rc == 0 && stmt != IntPtr.Zero && sql.Length <= MaxSqlBytes)
        {
            Lent[stmt] = new Entry(this, sql.ToArray(), flags, consumed, stmt);
        }

        return rc;
    }

    private sealed record Entry(StatementCache Cache, byte[] Sql, uint Flags, int Consumed, IntPtr Statement);
}
