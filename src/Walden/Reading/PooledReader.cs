using Walden.Configuration;

namespace Walden.Reading;

/// <summary>
/// A pooled read connection with the two statements every read runs on it, prepared once: BEGIN and
/// COMMIT. Preparing them for each read (a command, a parse, a data reader, twice) cost about as much
/// as a small indexed query itself.
/// </summary>
internal sealed class PooledReader : IDisposable
{
    private readonly RawStatement _begin;
    private readonly RawStatement _commit;

    internal PooledReader(OpenedConnection opened)
    {
        Opened = opened;
        try
        {
            _begin = new RawStatement(opened.Connection, "BEGIN");
            _commit = new RawStatement(opened.Connection, "COMMIT");
        }
        catch
        {
            _begin?.Dispose();
            opened.Dispose();
            throw;
        }
    }

    internal OpenedConnection Opened { get; }

    /// <summary>Starts the read transaction (deferred: the snapshot is taken by the first read).</summary>
    internal void Begin() => _begin.Execute();

    /// <summary>Ends the read transaction.</summary>
    internal void Commit() => _commit.Execute();

    /// <summary>Finalizes the statements, then closes the connection (SQLite keeps a connection with live statements open).</summary>
    public void Dispose()
    {
        _begin.Dispose();
        _commit.Dispose();
        Writing.CommandCache.Release(Opened.Connection);
        Opened.Dispose();
    }
}
