using Microsoft.Data.Sqlite;
using Walden.Configuration;

namespace Walden.Cli.Bench;

/// <summary>
/// Seed pattern B's write buffer: a list under a lock, swapped out and written in one transaction on the
/// shared connection (under a second lock) when full or when the timer asks.
/// </summary>
internal sealed class WriteBuffer : IDisposable
{
    private readonly SqliteConnection _connection;
    private readonly SqliteCommand _insert;
    private readonly SqliteCommand _begin;
    private readonly SqliteCommand _commit;
    private readonly int _size;
    private readonly Lock _bufferLock = new();
    private readonly Lock _connectionLock = new();
    private List<LogRow> _buffer;
    private long _lostRows;

    internal WriteBuffer(SqliteConnection connection, int size)
    {
        _connection = connection;
        _size = size;
        _buffer = new List<LogRow>(size);
        _insert = Workload.PrepareInsert(connection);
        _begin = PlainSqlite.Prepare(connection, "BEGIN");
        _commit = PlainSqlite.Prepare(connection, "COMMIT");
    }

    /// <summary>Rows whose flush failed (they were acknowledged and are not in the database).</summary>
    internal long LostRows => Interlocked.Read(ref _lostRows);

    internal void Add(in LogRow row)
    {
        List<LogRow>? full = null;
        lock (_bufferLock)
        {
            _buffer.Add(row);
            if (_buffer.Count >= _size)
            {
                full = _buffer;
                _buffer = new List<LogRow>(_size);
            }
        }

        if (full is not null)
        {
            Flush(full);
        }
    }

    internal void FlushPending()
    {
        List<LogRow> pending;
        lock (_bufferLock)
        {
            if (_buffer.Count == 0)
            {
                return;
            }

            pending = _buffer;
            _buffer = new List<LogRow>(_size);
        }

        Flush(pending);
    }

    private void Flush(List<LogRow> rows)
    {
        lock (_connectionLock)
        {
            try
            {
                _begin.ExecuteNonQuery();
                foreach (var row in rows)
                {
                    Workload.Bind(_insert, row);
                    _insert.ExecuteNonQuery();
                }

                _commit.ExecuteNonQuery();
            }
            catch (SqliteException)
            {
                if (SQLitePCL.raw.sqlite3_get_autocommit(_connection.Handle) == 0)
                {
                    ConnectionFactory.Execute(_connection, "ROLLBACK");
                }

                Interlocked.Add(ref _lostRows, rows.Count);
            }
        }
    }

    public void Dispose()
    {
        _insert.Dispose();
        _begin.Dispose();
        _commit.Dispose();
        _connection.Dispose();
    }
}
