using System.Diagnostics;
using Microsoft.Data.Sqlite;
using SQLitePCL;

namespace Walden.Configuration;

/// <summary>
/// Walden's own statements, stepped directly on their native handles. Two reasons. Cost: through
/// <see cref="SqliteCommand.ExecuteNonQuery"/> a SAVEPOINT or RELEASE around every write allocates a data
/// reader; here it costs one step and one reset. Time: <see cref="SqliteCommand"/> retries a busy statement
/// with 150 ms sleeps for up to its CommandTimeout (at least 1 s) on top of Walden's busy handler, so a
/// statement that can wait for a lock (BEGIN IMMEDIATE, COMMIT, ROLLBACK, checkpoints, a backup's snapshot)
/// would wait far longer than <see cref="WaldenOptions.BusyTimeout"/>. Stepped here it waits exactly what
/// the busy handler allows. Errors surface as the same <see cref="SqliteException"/>, with SQLite's primary
/// and extended codes; a busy error also carries the time waited (<see cref="WaitedKey"/>).
/// </summary>
internal sealed class RawStatement : IDisposable
{
    /// <summary>The key in <see cref="Exception.Data"/> of a busy error under which the time waited (a <see cref="TimeSpan"/>) is kept.</summary>
    internal const string WaitedKey = "Walden.Waited";

    private readonly sqlite3 _db;
    private readonly sqlite3_stmt _statement;

    internal RawStatement(SqliteConnection connection, string sql)
    {
        _db = connection.Handle ?? throw new InvalidOperationException("The connection is not open.");
        var rc = raw.sqlite3_prepare_v2(_db, sql, out _statement);
        SqliteException.ThrowExceptionForRC(rc, _db);
    }

    internal void Execute()
    {
        var started = Stopwatch.GetTimestamp();
        var rc = raw.sqlite3_step(_statement);
        if (rc == raw.SQLITE_DONE)
        {
            raw.sqlite3_reset(_statement);
            return;
        }

        try
        {
            // Read the error (message and extended code) before the reset can replace it.
            Throw(rc == raw.SQLITE_ROW ? raw.SQLITE_MISUSE : rc, _db, started);
        }
        finally
        {
            raw.sqlite3_reset(_statement);
        }
    }

    /// <summary>Runs one or more statements that return no rows; returns the rows changed by the last one.</summary>
    internal static int Run(SqliteConnection connection, string sql)
    {
        var db = connection.Handle ?? throw new InvalidOperationException("The connection is not open.");
        var started = Stopwatch.GetTimestamp();
        var rc = raw.sqlite3_exec(db, sql);
        if (rc != raw.SQLITE_OK)
        {
            Throw(rc, db, started);
        }

        return raw.sqlite3_changes(db);
    }

    /// <summary>Runs one statement and returns the first row (null values as null), or null when it returned no row.</summary>
    internal static object?[]? QueryRow(SqliteConnection connection, string sql)
    {
        var db = connection.Handle ?? throw new InvalidOperationException("The connection is not open.");
        var started = Stopwatch.GetTimestamp();
        var rc = raw.sqlite3_prepare_v2(db, sql, out var statement);
        using (statement)
        {
            if (rc != raw.SQLITE_OK)
            {
                Throw(rc, db, started);
            }

            rc = raw.sqlite3_step(statement);
            if (rc == raw.SQLITE_DONE)
            {
                return null;
            }

            if (rc != raw.SQLITE_ROW)
            {
                Throw(rc, db, started);
            }

            var row = new object?[raw.sqlite3_column_count(statement)];
            for (var i = 0; i < row.Length; i++)
            {
                row[i] = raw.sqlite3_column_type(statement, i) switch
                {
                    raw.SQLITE_INTEGER => raw.sqlite3_column_int64(statement, i),
                    raw.SQLITE_FLOAT => raw.sqlite3_column_double(statement, i),
                    raw.SQLITE_NULL => null,
                    _ => raw.sqlite3_column_text(statement, i).utf8_to_string(),
                };
            }

            return row;
        }
    }

    [System.Diagnostics.CodeAnalysis.DoesNotReturn]
    private static void Throw(int rc, sqlite3 db, long started)
    {
        var error = new SqliteException(raw.sqlite3_errmsg(db).utf8_to_string(), rc, raw.sqlite3_extended_errcode(db));
        if (Errors.SqliteErrors.IsBusy(rc))
        {
            error.Data[WaitedKey] = Stopwatch.GetElapsedTime(started);
        }

        throw error;
    }

    /// <summary>The native statement, for the lease expiry that must step it under the connection's mutex.</summary>
    internal IntPtr Pointer => _statement.DangerousGetHandle();

    public void Dispose() => _statement.Dispose();
}
