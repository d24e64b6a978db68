using Microsoft.Extensions.Logging;
using Walden.Diagnostics;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Files;

/// <summary>
/// A -wal deleted under a live database (step 2 of the "delete the -wal and -shm" repair) is seen at once: writes are
/// refused, a critical line is logged, health turns Unhealthy, and every acknowledged write is saved to a rescue file.
/// </summary>
public sealed class WalDeletedTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task DeletingTheWalWhileWaldenRuns_IsReportedAtOnce_AndEveryAcknowledgedRowIsInTheRescueFile()
    {
        var path = _dir.File("app.db");
        var clock = new FakeTimeProvider();
        using var logs = new ListLoggerFactory();
        await using var db = await WaldenDatabase.OpenAsync(path, new WaldenOptions { TimeProvider = clock, LoggerFactory = logs });
        await db.WriteAsync(c => c.Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, body TEXT)"));
        var acknowledged = new List<int>();
        for (var i = 1; i <= 100; i++)
        {
            await db.WriteAsync(c => c.Exec($"INSERT INTO t VALUES ({i}, 'before')"));
            acknowledged.Add(i);
        }

        Assert.True(new FileInfo(path + "-wal").Length > 0);
        File.Delete(path + "-wal"); // as a cleanup script or the Fusion workaround does, while the application runs
        File.Delete(path + "-shm");
        for (var i = 101; i <= 160; i++)
        {
            await db.WriteAsync(c => c.Exec($"INSERT INTO t VALUES ({i}, 'after the deletion')")); // still acknowledged: not seen yet
            acknowledged.Add(i);
        }

        clock.Advance(WaldenDatabase.WalWatchInterval);

        Assert.True(db.CheckWalFile());
        var refused = await Assert.ThrowsAsync<WaldenException>(() => db.WriteAsync(c => c.Exec("INSERT INTO t VALUES (999, 'refused')")));
        Assert.IsNotType<WaldenCorruptException>(refused);
        Assert.Contains("-wal", refused.Message, StringComparison.Ordinal);
        Assert.Equal(WaldenHealthStatus.Unhealthy, db.GetHealth().Status);
        Assert.Contains(logs.Lines, line => line.Level == LogLevel.Critical && line.EventId.Id == LogMessages.WalFileLostEventId &&
                                            line.Message.Contains(db.WalRescuePath!, StringComparison.Ordinal));
        Assert.StartsWith(path + ".wal-rescue-", db.WalRescuePath, StringComparison.Ordinal);
        using var rescue = Sql.OpenDirect(db.WalRescuePath!, readOnly: true);
        Assert.Equal(acknowledged, rescue.Ints("SELECT id FROM t ORDER BY id")); // 0 acknowledged rows lost
    }
}
