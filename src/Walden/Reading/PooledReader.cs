using Walden.Configuration;

namespace Walden.Reading;

/// <summary>
/// A pooled read connection with the statements every read runs on it, prepared once: BEGIN and
/// COMMIT (and, for an expired lease, ROLLBACK and a sentinel <c>SELECT 1</c>: once interrupted, the connection cannot
/// prepare anything). Preparing them for each read (a command, a parse, a data reader, twice) cost about as much
/// as a small indexed query itself.
/// </summary>
internal sealed class PooledReader : IDisposable
{
    private readonly RawStatement _begin;
    private readonly RawStatement _commit;
    private readonly RawStatement _rollback;
    private readonly RawStatement _sentinel;

    internal PooledReader(OpenedConnection opened, long mmapSize, TimeProvider time)
    {
        Opened = opened;
        try
        {
            MemoryMap = new ReaderMemoryMap(opened, mmapSize, time);
            _begin = new RawStatement(opened.Connection, "BEGIN");
            _commit = new RawStatement(opened.Connection, "COMMIT");
            _rollback = new RawStatement(opened.Connection, "ROLLBACK");
            _sentinel = new RawStatement(opened.Connection, "SELECT 1");
        }
        catch
        {
            _begin?.Dispose();
            _commit?.Dispose();
            _rollback?.Dispose();
            opened.Dispose();
            throw;
        }
    }

    internal OpenedConnection Opened { get; }

    /// <summary>Whether this connection reads through its memory map; see <see cref="ReaderMemoryMap"/>.</summary>
    internal ReaderMemoryMap MemoryMap { get; }

    /// <summary>Starts the read transaction (deferred: the snapshot is taken by the first read).</summary>
    internal void Begin() => _begin.Execute();

    /// <summary>Ends the read transaction.</summary>
    internal void Commit() => _commit.Execute();

    /// <summary>The prepared ROLLBACK, stepped by <see cref="SnapshotRelease"/> when the lease expires.</summary>
    internal RawStatement Rollback => _rollback;

    /// <summary>A statement that reads no table, left active by <see cref="SnapshotRelease"/> so the interrupt stays raised.</summary>
    internal RawStatement Sentinel => _sentinel;

    /// <summary>Finalizes the statements, then closes the connection (SQLite keeps a connection with live statements open).</summary>
    public void Dispose()
    {
        _begin.Dispose();
        _commit.Dispose();
        _rollback.Dispose();
        _sentinel.Dispose();
        Writing.CommandCache.Release(Opened.Connection);
        Opened.Dispose();
    }
}
