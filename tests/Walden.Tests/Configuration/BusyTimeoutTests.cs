using System.Diagnostics;
using Walden.Checkpointing;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Configuration;

/// <summary>Tests whose guarantee is wall time run alone, not beside the rest of the suite competing for two cores.</summary>
[CollectionDefinition(nameof(WallTimeCollection), DisableParallelization = true)]
public sealed class WallTimeCollection;

/// <summary>
/// BusyTimeout is a wall-time guarantee, so these tests measure wall time. Bounds are generous (a loaded
/// 2-core machine) but far below what a second retry loop on top of Walden's busy handler costs
/// (Microsoft.Data.Sqlite's adds 150 ms sleeps up to a whole second).
/// </summary>
[Collection(nameof(WallTimeCollection))]
public sealed class BusyTimeoutTests : IDisposable
{
    private static readonly TimeSpan Slack = TimeSpan.FromMilliseconds(400);
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>
    /// No idle TRUNCATE: it takes the write lock for a moment a second after the last commit, and when that moment is the
    /// shell's BEGIN IMMEDIATE, the shell (no busy timeout; its error goes unread) holds no lock, so the write went through
    /// or the checkpoint was not busy (with a 10 ms idle delay, 7 runs in 10 of these tests failed).
    /// </summary>
    private static WaldenOptions Quiet(TimeSpan busyTimeout) =>
        new() { BusyTimeout = busyTimeout, CheckpointIdleDelay = TimeSpan.FromHours(1) };

    [Theory]
    [InlineData(0)]
    [InlineData(200)]
    [InlineData(1500)]
    public async Task WriteAsync_WhileAnotherProcessHoldsTheWriteLock_FailsAfterBusyTimeoutAndNotLater(int busyMs)
    {
        var busyTimeout = TimeSpan.FromMilliseconds(busyMs);
        var path = _dir.File("app.db");
        await using var db = await WaldenDatabase.OpenAsync(path, Quiet(busyTimeout));
        await db.WriteAsync(c => c.Exec(Sql.LogTable));
        using var shell = new SqliteShell(path);
        await shell.RunAsync("BEGIN IMMEDIATE; INSERT INTO log(producer, seq) VALUES (-1, -1);");

        var watch = Stopwatch.StartNew();
        var error = await Assert.ThrowsAsync<WaldenBusyException>(() => db.WriteAsync(c => Sql.Insert(c, 1, 1)));
        var elapsed = watch.Elapsed;

        Assert.True(elapsed >= busyTimeout, $"Gave up after {elapsed.TotalMilliseconds:0} ms, before BusyTimeout ({busyMs} ms).");
        Assert.True(elapsed < busyTimeout + Slack, $"Gave up after {elapsed.TotalMilliseconds:0} ms; BusyTimeout is {busyMs} ms.");
        Assert.True(error.IsTransient);
        Assert.Matches(@"waited \d+(\.\d+)? s", error.Message);
        Assert.Contains("BusyTimeout is currently", error.Message, StringComparison.Ordinal);

        await shell.RunAsync("ROLLBACK;");
        await db.WriteAsync(c => Sql.Insert(c, 2, 2)); // the lock is free again: writes go through
    }

    [Fact]
    public async Task BusyError_StatesTheTimeActuallyWaited()
    {
        var path = _dir.File("app.db");
        await using var db = await WaldenDatabase.OpenAsync(path, Quiet(TimeSpan.FromMilliseconds(300)));
        await db.WriteAsync(c => c.Exec(Sql.LogTable));
        using var shell = new SqliteShell(path);
        await shell.RunAsync("BEGIN IMMEDIATE; INSERT INTO log(producer, seq) VALUES (-1, -1);");

        var error = await Assert.ThrowsAsync<WaldenBusyException>(() => db.WriteAsync(c => Sql.Insert(c, 1, 1)));

        var waited = double.Parse(System.Text.RegularExpressions.Regex.Match(error.Message, @"waited (\d+(\.\d+)?) s").Groups[1].Value,
            System.Globalization.CultureInfo.InvariantCulture);
        Assert.InRange(waited, 0.3, 0.3 + Slack.TotalSeconds);
    }

    [Fact]
    public async Task Checkpoint_WhileAnotherProcessHoldsTheWriteLock_ReportsBusyAfterBusyTimeoutAndNotLater()
    {
        var busyTimeout = TimeSpan.FromMilliseconds(200);
        var path = _dir.File("app.db");
        await using var db = await WaldenDatabase.OpenAsync(path, Quiet(busyTimeout));
        await db.WriteAsync(c => c.Exec(Sql.LogTable));
        // One checkpoint first, with no lock in the way: the bound below is for the wait on the lock, and the first
        // checkpoint also pays for first use (Debug, as CI runs it): under load the measured call took 0.7 to 1 s without it.
        Assert.False((await db.CheckpointAsync(WaldenCheckpointMode.Truncate)).Busy);
        using var shell = new SqliteShell(path);
        await shell.RunAsync("BEGIN IMMEDIATE; INSERT INTO log(producer, seq) VALUES (-1, -1);");

        var watch = Stopwatch.StartNew();
        var result = await db.CheckpointAsync(WaldenCheckpointMode.Truncate);

        Assert.True(result.Busy);
        Assert.True(watch.Elapsed < busyTimeout + Slack, $"The checkpoint took {watch.Elapsed.TotalMilliseconds:0} ms; BusyTimeout is 200 ms.");
        await shell.RunAsync("ROLLBACK;");
    }
}
