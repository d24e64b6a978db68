using Walden.Tests.TestSupport;

namespace Walden.Tests.Diagnostics;

public sealed class MaintenanceTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Maintenance_OnAnIncrementalAutoVacuumDatabase_ReturnsOneBoundedStepOfFreePages()
    {
        var path = _dir.File("app.db");
        using (var direct = Sql.OpenDirect(path))
        {
            direct.Exec("PRAGMA auto_vacuum=INCREMENTAL");
            direct.Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, body BLOB)");
        }

        await using var db = await WaldenDatabase.OpenAsync(path, new WaldenOptions { IncrementalVacuumPages = 100 });
        await db.WriteAsync(c => c.Exec("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 400) INSERT INTO t(body) SELECT randomblob(4000) FROM s"));
        await db.WriteAsync(c => c.Exec("DELETE FROM t"));
        var freeBefore = (await db.GetStatsAsync()).FreelistCount;
        Assert.True(freeBefore >= 300, $"freelist {freeBefore}");

        var released = await db.RunMaintenanceAsync();

        Assert.Equal(100, released);
        Assert.Equal(freeBefore - 100, (await db.GetStatsAsync()).FreelistCount);
    }

    [Fact]
    public async Task Maintenance_WithoutIncrementalAutoVacuum_OnlyOptimizes()
    {
        await using var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), new WaldenOptions { IncrementalVacuumPages = 10 });
        await db.WriteAsync(c => c.Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, body BLOB)"));
        await db.WriteAsync(c => c.Exec("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 50) INSERT INTO t(body) SELECT randomblob(4000) FROM s"));
        await db.WriteAsync(c => c.Exec("DELETE FROM t"));

        Assert.Equal(0, await db.RunMaintenanceAsync());
        Assert.True((await db.GetStatsAsync()).FreelistCount >= 50);
    }

    [Fact]
    public async Task Maintenance_IsScheduledByTheClock()
    {
        var time = new FakeTimeProvider();
        var name = "maintenance-" + Guid.NewGuid().ToString("N");
        using var metrics = new MetricsCollector(name);
        await using var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), new WaldenOptions
        {
            Name = name,
            MaintenanceInterval = TimeSpan.FromMinutes(10),
            TimeProvider = time,
        });
        await db.Checkpointer.EvaluateAsync();
        var before = (await db.GetStatsAsync()).WritesCommitted;

        time.Advance(TimeSpan.FromMinutes(10));
        await db.Checkpointer.EvaluateAsync(); // the maintenance write is queued by now
        await db.WriteAsync(_ => { });         // and committed before this one

        Assert.Equal(before + 2, (await db.GetStatsAsync()).WritesCommitted);
    }
}
