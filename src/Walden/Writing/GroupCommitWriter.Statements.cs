using System.Runtime.InteropServices;
using Walden.Native;

namespace Walden.Writing;

/// <summary>
/// The statements a write delegate ran on the writer's connection, seen through <c>sqlite3_next_stmt</c>: which one made
/// SQLite roll back Walden's transaction (see Outcomes), and which ones it left running. A data reader the delegate did
/// not dispose keeps its statement active; one that writes (<c>INSERT ... RETURNING</c> read with ExecuteReader) makes
/// SQLite refuse RELEASE and COMMIT ("SQL statements in progress"), which failed the batch and every later write as busy.
/// So after each delegate the writer resets what it left running, and fails a write that left a writing statement open.
/// </summary>
internal sealed partial class GroupCommitWriter
{
    /// <summary>
    /// From the rollback hook, while a delegate runs: the SQL of the statement that is rolling back Walden's transaction,
    /// or null when it is a ROLLBACK (the delegate's own) or cannot be told. Must not throw.
    /// </summary>
    private string? StatementRollingBack()
    {
        try
        {
            string? writing = null;
            var db = _connection.Handle!.DangerousGetHandle();
            for (var s = SqliteNative.NextStatement(db, IntPtr.Zero); s != IntPtr.Zero; s = SqliteNative.NextStatement(db, s))
            {
                if (SqliteNative.StatementBusy(s) == 0)
                {
                    continue;
                }

                var sql = Marshal.PtrToStringUTF8(SqliteNative.StatementSql(s)) ?? "";
                if (sql.TrimStart().StartsWith("ROLLBACK", StringComparison.OrdinalIgnoreCase))
                {
                    return null;
                }

                if (writing is null && SqliteNative.StatementReadOnly(s) == 0)
                {
                    writing = sql;
                }
            }

            return writing;
        }
        catch (Exception)
        {
            return null;
        }
    }

    /// <summary>
    /// After a delegate: resets every statement it left running on the writer's connection (readers it did not dispose),
    /// so that RELEASE, COMMIT and later writes are not refused for them. Returns the SQL of those that write (a reader of
    /// <c>INSERT ... RETURNING</c>), or null when there were none; a reader of a SELECT is harmless and only reset.
    /// </summary>
    private List<string>? ResetLeftoverStatements()
    {
        List<string>? writing = null;
        var db = _connection.Handle!.DangerousGetHandle();
        for (var s = SqliteNative.NextStatement(db, IntPtr.Zero); s != IntPtr.Zero; s = SqliteNative.NextStatement(db, s))
        {
            if (SqliteNative.StatementBusy(s) == 0)
            {
                continue;
            }

            if (SqliteNative.StatementReadOnly(s) == 0)
            {
                (writing ??= []).Add(Marshal.PtrToStringUTF8(SqliteNative.StatementSql(s)) ?? "");
            }

            SqliteNative.Reset(s); // its result is the statement's own last error, already seen by the delegate
        }

        return writing;
    }

    private static WaldenException LeftRunning(List<string> statements) => new(
        $"A write delegate left a data reader open (not disposed) on a statement that writes: '{Shorten(statements[0])}'" +
        (statements.Count > 1 ? $" and {statements.Count - 1} more" : "") + ". SQLite cannot release Walden's savepoint or " +
        "commit while it runs, so this write was rolled back (not committed); Walden reset the statement. Dispose every reader " +
        "before the delegate returns ('using var reader = command.ExecuteReader()'), or use ExecuteScalar for INSERT ... RETURNING.");
}
