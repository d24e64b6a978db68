using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Walden.Configuration;

/// <summary>
/// A statement run around every single write or read (SAVEPOINT, RELEASE, ROLLBACK TO; a reader's BEGIN and COMMIT), stepped
/// directly on its native handle. Through <see cref="SqliteCommand.ExecuteNonQuery"/> each of these
/// allocates a data reader and walks Microsoft.Data.Sqlite's busy-retry machinery, for a statement that
/// takes no lock and returns no rows; here it costs one step and one reset and allocates nothing.
/// Errors surface as the same <see cref="SqliteException"/>, with SQLite's primary and extended codes.
/// </summary>
internal sealed class RawStatement : IDisposable
{
    private readonly sqlite3 _db;
    private readonly sqlite3_stmt _statement;

    internal RawStatement(SqliteConnection connection, string sql)
    {
        _db = connection.Handle ?? throw new InvalidOperationException("The writer connection is not open.");
        var rc = raw.sqlite3_prepare_v2(_db, sql, out _statement);
        SqliteException.ThrowExceptionForRC(rc, _db);
    }

    internal void Execute()
    {
        var rc = raw.sqlite3_step(_statement);
        if (rc == raw.SQLITE_DONE)
        {
            raw.sqlite3_reset(_statement);
            return;
        }

        try
        {
            // Read the error (message and extended code) before the reset can replace it.
            SqliteException.ThrowExceptionForRC(rc == raw.SQLITE_ROW ? raw.SQLITE_MISUSE : rc, _db);
        }
        finally
        {
            raw.sqlite3_reset(_statement);
        }
    }

    /// <summary>The native statement, for the lease expiry that must step it under the connection's mutex.</summary>
    internal IntPtr Pointer => _statement.DangerousGetHandle();

    public void Dispose() => _statement.Dispose();
}
