using System.Globalization;
using System.Text.RegularExpressions;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Configuration;

/// <summary>
/// Opening a rollback-journal database (Python's, Android's default) switches it to WAL, which writes its header in a
/// transaction of its own. While another process has a write transaction open, SQLite answers that switch with
/// SQLITE_BUSY without calling the busy handler: the open waits for the lock up to BusyTimeout, as every other statement
/// does, and when it gives up it says how long it really waited.
/// </summary>
public sealed partial class WalSwitchBusyTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private string RollbackJournalDatabase()
    {
        var path = _dir.File("app.db");
        using var connection = Sql.OpenDirect(path);
        connection.Exec("PRAGMA journal_mode=DELETE; CREATE TABLE t(x); INSERT INTO t VALUES (1);");
        return path;
    }

    [Fact]
    public async Task OpeningWhileAnotherProcessIsInAWriteTransaction_WaitsForItsCommit_ThenSwitchesToWal()
    {
        var path = RollbackJournalDatabase();
        using var shell = new SqliteShell(path);
        await shell.RunAsync("BEGIN IMMEDIATE; INSERT INTO t VALUES (2);");
        var busy = 0;
        var options = new WaldenOptions
        {
            BusyTimeout = TimeSpan.FromMinutes(2),
            // The other process commits once the open has found the file locked: a signal, not a sleep.
            WalSwitchBusy = () =>
            {
                if (Interlocked.Increment(ref busy) == 1)
                {
                    shell.RunAsync("COMMIT;").GetAwaiter().GetResult();
                }
            },
        };

        await using var db = await WaldenDatabase.OpenAsync(path, options);

        Assert.True(busy >= 1);
        Assert.Equal("wal", db.Settings.JournalMode);
        Assert.Equal(2L, await db.ReadAsync(c => c.Scalar<long>("SELECT count(*) FROM t"))); // the other process's row is kept
    }

    [Fact]
    public async Task OpeningWhileTheLockIsHeldPastBusyTimeout_FailsSayingHowLongItWaited()
    {
        var path = RollbackJournalDatabase();
        using var shell = new SqliteShell(path);
        await shell.RunAsync("BEGIN IMMEDIATE; INSERT INTO t VALUES (2);");
        var busyTimeout = TimeSpan.FromMilliseconds(300);

        var refused = await Assert.ThrowsAsync<WaldenBusyException>(() => WaldenDatabase.OpenAsync(path, new WaldenOptions { BusyTimeout = busyTimeout }));

        var waited = double.Parse(Waited().Match(refused.Message).Groups[1].Value, CultureInfo.InvariantCulture);
        Assert.True(waited >= busyTimeout.TotalSeconds, refused.Message); // it waited what it says, at least BusyTimeout
        await shell.RunAsync("COMMIT;");
        using var connection = Sql.OpenDirect(path, readOnly: true);
        Assert.Equal("delete", connection.Scalar<string>("PRAGMA journal_mode")); // nothing was changed
    }

    [GeneratedRegex(@"waited ([0-9.]+) s")]
    private static partial Regex Waited();
}
