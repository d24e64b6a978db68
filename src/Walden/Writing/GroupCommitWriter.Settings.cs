using SQLitePCL;

namespace Walden.Writing;

/// <summary>
/// The settings of the writer's connection that Walden relies on, which a write delegate may not change: <c>query_only</c>
/// (on, every later write failed as if the file were read-only), <c>synchronous</c> (the durability Walden reports),
/// <c>journal_mode</c> and <c>locking_mode</c> (other processes' access), <c>wal_autocheckpoint</c> (Walden owns the
/// checkpoints) and <c>busy_timeout</c> (it would replace Walden's busy handler). An authorizer on the connection refuses
/// a PRAGMA that sets one of them while a delegate runs (SQLite fails the statement as "not authorized"), and the write
/// fails with a misuse error that names the pragma. Reading them, and every other pragma, is allowed.
/// </summary>
internal sealed partial class GroupCommitWriter
{
    private const int SqlitePragma = 19; // SQLITE_PRAGMA: param0 is the pragma's name, param1 its argument or null
    private const int SqliteDeny = 1;    // SQLITE_DENY

    private static readonly HashSet<string> ProtectedPragmas = new(StringComparer.OrdinalIgnoreCase)
    {
        "query_only", "synchronous", "journal_mode", "locking_mode", "wal_autocheckpoint", "busy_timeout",
    };

    private delegate_authorizer? _authorizer; // referenced for as long as the connection lives
    private string? _refusedPragma;           // set by the authorizer while a delegate runs; cleared when the next one starts

    private void InstallAuthorizer()
    {
        _authorizer = Authorize;
        raw.sqlite3_set_authorizer(_connection.Handle, _authorizer, null);
    }

    /// <summary>SQLite's authorizer, called when a statement is prepared. Must not throw.</summary>
    private int Authorize(object userData, int action, utf8z param0, utf8z param1, utf8z database, utf8z trigger)
    {
        try
        {
            if (action != SqlitePragma || !_inDelegate || !IsOwner)
            {
                return 0;
            }

            var name = param0.utf8_to_string();
            var value = param1.utf8_to_string();
            if (name is null || value is null || !ProtectedPragmas.Contains(name))
            {
                return 0;
            }

            _refusedPragma ??= $"PRAGMA {name}={value}";
            return SqliteDeny;
        }
        catch (Exception)
        {
            return 0;
        }
    }

    private static WaldenException SettingRefused(string pragma, Exception? error) => new(
        $"A write delegate ran '{pragma}' on Walden's writer connection, and Walden refused it: the writer relies on query_only, " +
        "synchronous, journal_mode, locking_mode, wal_autocheckpoint and busy_timeout staying as WaldenOptions set them (a " +
        "query_only=1 left behind would fail every later write). This write was rolled back (not committed). Remove the pragma " +
        "from the delegate; set durability and timeouts through WaldenOptions, and read through ReadAsync for read-only work.", error);
}
