using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Walden.Hosting;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Hosting;

public sealed class HostingTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task AddWalden_OpensSeveralNamedDatabasesAtStart_AndDrainsThemAtStop()
    {
        var services = new ServiceCollection();
        services.AddWalden("orders", _dir.File("orders.db"), o => o.ReaderPoolSize = 2);
        services.AddWalden("logs", _dir.File("logs.db"));
        await using var provider = services.BuildServiceProvider();
        var hosted = Assert.Single(provider.GetServices<IHostedService>());
        var databases = provider.GetRequiredService<WaldenDatabases>();
        Assert.Throws<InvalidOperationException>(() => databases.Get("orders")); // not before the host starts

        await hosted.StartAsync(CancellationToken.None);
        var orders = provider.GetRequiredKeyedService<WaldenDatabase>("orders");
        var logs = databases.Get("logs");
        Assert.Equal("orders", orders.Name);
        Assert.Equal(_dir.File("logs.db"), logs.Path);
        await orders.WriteAsync(c => c.Exec(Sql.LogTable));
        var accepted = Enumerable.Range(0, 500).Select(i => orders.WriteAsync(c => Sql.Insert(c, i, 0))).ToArray();

        await hosted.StopAsync(CancellationToken.None);

        await Task.WhenAll(accepted); // every write accepted before the stop was committed
        await Assert.ThrowsAsync<WaldenClosedException>(() => orders.WriteAsync(c => Sql.Insert(c, -1, 0)));
        using var direct = Sql.OpenDirect(_dir.File("orders.db"), readOnly: true);
        Assert.Equal(500, direct.Scalar<long>("SELECT count(*) FROM log"));
        var error = Assert.Throws<InvalidOperationException>(() => databases.Get("nope"));
        Assert.Contains("'orders', 'logs'", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AddWalden_WithReportUnhealthy_StartsTheHostWhenOpenFails_AndTheHealthCheckSaysWhy()
    {
        var services = new ServiceCollection();
        services.AddWalden("orders", _dir.File("missing.db"), WaldenOpenFailure.ReportUnhealthy, (_, o) => o.MustExist = true);
        services.AddWalden("logs", _dir.File("logs.db"));
        services.AddLogging().AddHealthChecks().AddWalden("orders").AddWalden("logs");
        await using var provider = services.BuildServiceProvider();
        var hosted = Assert.Single(provider.GetServices<IHostedService>().OfType<WaldenHostedService>());

        await hosted.StartAsync(CancellationToken.None); // does not throw

        var databases = provider.GetRequiredService<WaldenDatabases>();
        Assert.IsType<WaldenConfigurationException>(databases.OpenFailure("orders"));
        Assert.Contains("failed to open", Assert.Throws<InvalidOperationException>(() => databases.Get("orders")).Message, StringComparison.Ordinal);
        var report = await provider.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        Assert.Equal(HealthStatus.Unhealthy, report.Entries["walden:orders"].Status);
        Assert.Contains("does not exist", report.Entries["walden:orders"].Description, StringComparison.Ordinal);
        Assert.Equal(HealthStatus.Healthy, report.Entries["walden:logs"].Status);
        await hosted.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task AddWalden_ByDefault_FailsTheHostWhenOpenFails()
    {
        var services = new ServiceCollection();
        services.AddWalden("orders", _dir.File("missing.db"), o => o.MustExist = true);
        await using var provider = services.BuildServiceProvider();
        var hosted = Assert.Single(provider.GetServices<IHostedService>());

        await Assert.ThrowsAsync<WaldenConfigurationException>(() => hosted.StartAsync(CancellationToken.None));
    }

    [Fact]
    public async Task StopAsync_ReturnsWhenTheHostsStopTokenFires_EvenWhileADatabaseIsStillClosing()
    {
        var services = new ServiceCollection();
        services.AddWalden("orders", _dir.File("orders.db"), o => o.CloseReadTimeout = TimeSpan.FromMinutes(5));
        await using var provider = services.BuildServiceProvider();
        var hosted = Assert.Single(provider.GetServices<IHostedService>());
        await hosted.StartAsync(CancellationToken.None);
        var orders = provider.GetRequiredService<WaldenDatabases>().Get("orders");
        using var release = new ManualResetEventSlim();
        var running = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var read = orders.ReadAsync(c =>
        {
            running.SetResult();
            release.Wait(); // a read that keeps the close waiting (up to CloseReadTimeout)
            return 1;
        });
        await running.Task;
        using var stop = new CancellationTokenSource();
        await stop.CancelAsync(); // the host's shutdown timeout has already passed

        try
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => hosted.StopAsync(stop.Token).WaitAsync(TimeSpan.FromSeconds(20)));
        }
        finally
        {
            release.Set();
        }

        await read;
    }

    [Fact]
    public void AddWalden_TwiceWithOneName_IsRefused()
    {
        var services = new ServiceCollection();
        services.AddWalden("orders", _dir.File("a.db"));
        var error = Assert.Throws<ArgumentException>(() => services.AddWalden("orders", _dir.File("b.db")));
        Assert.Contains("already registered", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HealthCheck_MovesBetweenHealthyDegradedAndUnhealthy_AsConditionsAreInduced()
    {
        var gate = new WriterGate();
        var services = new ServiceCollection();
        services.AddWalden("orders", _dir.File("orders.db"), o =>
        {
            o.WriteQueueCapacity = 10;
            o.Faults = gate.Faults();
        });
        // Slow commits never count here: on a loaded CI machine one commit can take over the default 1 s (HealthForTests).
        services.AddLogging().AddHealthChecks().AddWalden("orders", configure: o => o.SlowCommitThreshold = TimeSpan.MaxValue);
        await using var provider = services.BuildServiceProvider();
        var health = provider.GetRequiredService<HealthCheckService>();
        var hosted = provider.GetServices<IHostedService>().OfType<WaldenHostedService>().Single();

        Assert.Equal(HealthStatus.Unhealthy, (await health.CheckHealthAsync()).Status); // not open yet
        await hosted.StartAsync(CancellationToken.None);
        var db = provider.GetRequiredKeyedService<WaldenDatabase>("orders");
        await db.WriteAsync(c => c.Exec(Sql.LogTable));
        var healthy = (await health.CheckHealthAsync()).Entries["walden:orders"];
        Assert.Equal(HealthStatus.Healthy, healthy.Status);
        Assert.Equal(10, healthy.Data["writeQueueCapacity"]);

        // Degraded: hold the writer and fill the queue to nine of ten.
        var held = gate.HoldNextBatch();
        var blocker = db.WriteAsync(c => Sql.Insert(c, 0, 0));
        await held;
        var queued = Enumerable.Range(1, 9).Select(i => db.WriteAsync(c => Sql.Insert(c, i, 0))).ToArray();
        var degraded = (await health.CheckHealthAsync()).Entries["walden:orders"];
        Assert.Equal(HealthStatus.Degraded, degraded.Status);
        Assert.Contains("write queue is near full: 9 of 10", degraded.Description, StringComparison.Ordinal);
        Assert.Equal(9, degraded.Data["writeQueueDepth"]);
        gate.Release();
        await Task.WhenAll(queued.Append(blocker));
        Assert.Equal(HealthStatus.Healthy, (await health.CheckHealthAsync()).Status);

        // Unhealthy: the disk is full (a page cap makes SQLite report SQLITE_FULL), then healthy again after a commit.
        await db.WriteAsync(c => c.Exec("CREATE TABLE big(b BLOB)"));
        var pages = await db.ReadAsync(c => c.Scalar<long>("PRAGMA page_count"));
        await db.WriteAsync(c => c.Exec($"PRAGMA max_page_count={pages + 2}"));
        await Assert.ThrowsAnyAsync<Exception>(() => db.WriteAsync(c => c.Exec("INSERT INTO big VALUES (randomblob(100000))")));
        var full = (await health.CheckHealthAsync()).Entries["walden:orders"];
        Assert.Equal(HealthStatus.Unhealthy, full.Status);
        Assert.Contains("disk full", full.Description, StringComparison.Ordinal);
        await db.WriteAsync(c => c.Exec("PRAGMA max_page_count=1073741823"));
        await db.WriteAsync(c => c.Exec("INSERT INTO big VALUES (x'01')"));
        Assert.Equal(HealthStatus.Healthy, (await health.CheckHealthAsync()).Status);

        // Unhealthy: corruption reported (the hook the integrity features use) is sticky.
        db.HealthSignals.ReportCorruption("integrity_check found 3 problems");
        var corrupt = (await health.CheckHealthAsync()).Entries["walden:orders"];
        Assert.Equal(HealthStatus.Unhealthy, corrupt.Status);
        Assert.Equal("integrity_check found 3 problems", corrupt.Data["corrupt"]);

        // Unhealthy: closed.
        await hosted.StopAsync(CancellationToken.None);
        var closed = (await health.CheckHealthAsync()).Entries["walden:orders"];
        Assert.Equal(HealthStatus.Unhealthy, closed.Status);
        Assert.Contains("is closed", closed.Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HealthCheck_ReportsAnOverdueBackupAsDegraded_WithTheLastError()
    {
        var time = new FakeTimeProvider();
        var notAFolder = _dir.File("not-a-folder");
        await File.WriteAllTextAsync(notAFolder, "a file where the backup folder should be, so every backup fails");
        var services = new ServiceCollection();
        services.AddWalden("logs", _dir.File("logs.db"), o =>
        {
            o.TimeProvider = time;
            o.Backup.Directory = Path.Combine(notAFolder, "backups");
            o.Backup.Interval = TimeSpan.FromHours(1);
        });
        services.AddLogging().AddHealthChecks().AddWalden("logs", configure: o => o.SlowCommitThreshold = TimeSpan.MaxValue); // slow commits never count (HealthForTests)
        await using var provider = services.BuildServiceProvider();
        var hosted = provider.GetServices<IHostedService>().OfType<WaldenHostedService>().Single();
        await hosted.StartAsync(CancellationToken.None);
        var db = provider.GetRequiredKeyedService<WaldenDatabase>("logs");
        var health = provider.GetRequiredService<HealthCheckService>();

        Assert.Equal(HealthStatus.Healthy, (await health.CheckHealthAsync()).Status); // just opened: nothing is due yet

        time.Advance(TimeSpan.FromHours(2) + TimeSpan.FromMinutes(1));
        Assert.True(db.LastBackup.IsOverdue(time.GetUtcNow()));
        var overdue = (await health.CheckHealthAsync()).Entries["walden:logs"];

        Assert.Equal(HealthStatus.Degraded, overdue.Status);
        Assert.Contains("No verified backup for more than twice Backup.Interval", overdue.Description, StringComparison.Ordinal);
        Assert.Equal("never", overdue.Data["lastVerifiedBackupAt"]);
        await hosted.StopAsync(CancellationToken.None);
    }

    [Fact]
    public async Task HealthCheck_ReportsSlowCommitsAsDegraded()
    {
        var services = new ServiceCollection();
        services.AddWalden("orders", _dir.File("orders.db"));
        services.AddLogging().AddHealthChecks()
            .AddWalden("orders", "strict", configure: o => o.SlowCommitThreshold = TimeSpan.FromTicks(1))
            .AddWalden("orders", "relaxed", configure: o => o.SlowCommitThreshold = TimeSpan.FromMinutes(1));
        await using var provider = services.BuildServiceProvider();
        await provider.GetServices<IHostedService>().OfType<WaldenHostedService>().Single().StartAsync(CancellationToken.None);
        var db = provider.GetRequiredKeyedService<WaldenDatabase>("orders");
        await db.WriteAsync(c => c.Exec(Sql.LogTable));

        var report = await provider.GetRequiredService<HealthCheckService>().CheckHealthAsync();

        Assert.Equal(HealthStatus.Degraded, report.Entries["strict"].Status);
        Assert.Contains("Slow commits", report.Entries["strict"].Description, StringComparison.Ordinal);
        Assert.True((double)report.Entries["strict"].Data["commitDurationP99Ms"] > 0);
        Assert.Equal(HealthStatus.Healthy, report.Entries["relaxed"].Status);
    }

    [Fact]
    public async Task HealthCheck_ReportsAWalOverItsLimitAsDegraded()
    {
        var services = new ServiceCollection();
        var time = new FakeTimeProvider();
        services.AddWalden("logs", _dir.File("logs.db"), o =>
        {
            o.WalSizeLimit = 1024 * 1024;
            o.TimeProvider = time;
            o.BusyTimeout = TimeSpan.FromMilliseconds(200);
        });
        services.AddLogging().AddHealthChecks().AddWalden("logs");
        await using var provider = services.BuildServiceProvider();
        var health = provider.GetRequiredService<HealthCheckService>();
        await provider.GetServices<IHostedService>().OfType<WaldenHostedService>().Single().StartAsync(CancellationToken.None);
        var db = provider.GetRequiredKeyedService<WaldenDatabase>("logs");
        await db.WriteAsync(c => c.Exec("CREATE TABLE t(b BLOB)"));

        var snapshotTaken = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var release = new ManualResetEventSlim();
        var reader = db.ReadAsync(c =>
        {
            c.Scalar<long>("SELECT count(*) FROM t");
            snapshotTaken.SetResult();
            release.Wait();
            return 0;
        });
        try
        {
            await snapshotTaken.Task;
            time.Advance(TimeSpan.FromSeconds(2)); // a long read, not a short one that lost the CPU
            for (var i = 0; i < 10; i++)
            {
                await db.WriteAsync(c => c.Exec("WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 50) INSERT INTO t SELECT randomblob(3000) FROM s"));
            }

            var degraded = (await health.CheckHealthAsync()).Entries["walden:logs"];
            Assert.Equal(HealthStatus.Degraded, degraded.Status);
            Assert.Contains("over WalSizeLimit", degraded.Description, StringComparison.Ordinal);
            Assert.True((long)degraded.Data["walBytes"] > 1024 * 1024);
        }
        finally
        {
            release.Set();
        }

        await reader;
        await db.CheckpointAsync(Walden.WaldenCheckpointMode.Truncate);
        Assert.Equal(HealthStatus.Healthy, (await health.CheckHealthAsync()).Status);
    }
}
