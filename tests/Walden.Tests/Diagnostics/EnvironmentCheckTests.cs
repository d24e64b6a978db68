using Xunit.Abstractions;
using Dapper;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Diagnostics;

/// <summary>
/// The cheap checks of <c>walden doctor</c> inside the engine: at open and every few seconds while open, a process holding the
/// file with an SQLite that has the WAL-reset bug, the last writer recorded in the header, and a risky file system are logged
/// as warnings and make the database Degraded while they last.
/// </summary>
public sealed class EnvironmentCheckTests(ITestOutputHelper output) : IDisposable
{
    private const string PythonHolder = """
        import sqlite3, sys
        c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
        c.execute("PRAGMA journal_mode=WAL")
        c.execute("CREATE TABLE IF NOT EXISTS py(id INTEGER PRIMARY KEY, v TEXT)")
        c.execute("INSERT INTO py(v) VALUES ('from python')")
        print("ready", flush=True)
        sys.stdin.readline()
        c.close()
        """;

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task OpenAsync_WhileAPythonProcessWithSqlite3401HoldsTheFile_LogsItsPidAndVersion_AndHealthIsDegradedUntilItLeaves()
    {
        var path = _dir.File("shared.db");
        var logs = new ListLoggerFactory();
        await using var python = await HoldingProcess.PythonAsync(PythonHolder, path);
        await using var database = await WaldenDatabase.OpenAsync(path, new WaldenOptions { LoggerFactory = logs });

        var warning = Assert.Single(logs.Lines, line => line.EventId.Id == 1721);
        Assert.Equal(Microsoft.Extensions.Logging.LogLevel.Warning, warning.Level);
        Assert.Contains($"process {python.ProcessId} ", warning.Message, StringComparison.Ordinal);
        Assert.Contains("3.40.1", warning.Message, StringComparison.Ordinal);
        Assert.Contains("Python's sqlite3 module", warning.Message, StringComparison.Ordinal);
        var health = database.GetHealth();
        Assert.Equal(WaldenHealthStatus.Degraded, health.Status);
        Assert.Contains(health.Reasons, r => r.Contains($"Process {python.ProcessId} ", StringComparison.Ordinal));

        await python.StopAsync();
        database.CheckForeignProcesses(); // what the watch does every few seconds

        Assert.DoesNotContain(database.GetHealth().Reasons, r => r.Contains($"Process {python.ProcessId} ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task AForeignWriterThatArrivesAfterOpen_IsFoundByTheWatch_AndClearedWhenItLeaves()
    {
        var path = _dir.File("later.db");
        var logs = new ListLoggerFactory();
        var clock = new FakeTimeProvider();
        await using var database = await WaldenDatabase.OpenAsync(path, new WaldenOptions { LoggerFactory = logs, TimeProvider = clock });
        await database.WriteAsync(c => c.Execute("CREATE TABLE t(v)"));
        HealthForTests.AssertHealthy(database);

        await using var python = await HoldingProcess.PythonAsync(PythonHolder, path);
        clock.Advance(WaldenDatabase.EnvironmentWatchInterval);

        var warning = Assert.Single(logs.Lines, line => line.EventId.Id == 1721);
        Assert.Contains($"process {python.ProcessId} ", warning.Message, StringComparison.Ordinal);
        Assert.Contains(database.GetHealth().Reasons, r => r.Contains($"Process {python.ProcessId} ", StringComparison.Ordinal));

        await python.StopAsync();
        clock.Advance(WaldenDatabase.EnvironmentWatchInterval);

        HealthForTests.AssertHealthy(database);
        Assert.Single(logs.Lines, line => line.EventId.Id == 1721); // logged once per process, not at every round
    }

    [Fact]
    public async Task OpenAsync_OnAWalFileAnSqliteWithTheBugWroteLast_WarnsWithTheVersionFromTheHeader()
    {
        var path = _dir.File("old-writer.db");
        await ForeignProgram.PythonAsync(ForeignProgram.ClosedWal, path);
        var logs = new ListLoggerFactory();

        await using var database = await WaldenDatabase.OpenAsync(path, new WaldenOptions { LoggerFactory = logs });

        var warning = Assert.Single(logs.Lines, line => line.EventId.Id == 1722);
        Assert.Contains("SQLite 3.40.1", warning.Message, StringComparison.Ordinal);
        Assert.Contains(database.GetHealth().Reasons, r => r.Contains("SQLite 3.40.1 wrote it last", StringComparison.Ordinal));
    }

    [Fact]
    public async Task OpenAsync_OnALocalFileNoOtherProcessHolds_LogsNoEnvironmentWarning_AndIsHealthy()
    {
        var logs = new ListLoggerFactory();

        await using var database = await WaldenDatabase.OpenAsync(_dir.File("alone.db"), new WaldenOptions { LoggerFactory = logs });

        Assert.DoesNotContain(logs.Lines, line => line.EventId.Id is >= 1720 and <= 1729);
        HealthForTests.AssertHealthy(database);
    }

    [Fact]
    public async Task OpenAsync_OnATmpfs_WarnsThatTheDatabaseLivesInMemory_ButStaysHealthy()
    {
        using var mount = SmallMount.TryCreate(8, out var reason);
        if (mount is null)
        {
            output.WriteLine(reason);
            return;
        }

        var logs = new ListLoggerFactory();
        await using var database = await WaldenDatabase.OpenAsync(mount.File("memory.db"), new WaldenOptions { LoggerFactory = logs });

        var warning = Assert.Single(logs.Lines, line => line.EventId.Id == 1720);
        Assert.Contains("tmpfs", warning.Message, StringComparison.Ordinal);
        HealthForTests.AssertHealthy(database); // a warning, not a hazard that corrupts
    }
}
