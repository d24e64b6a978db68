using Walden.Integrity;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Integrity;

/// <summary>
/// Corruption that appears while the database is open. The damage is written with a FileStream opened
/// separately in the test: a deliberate howtocorrupt.html hazard (it also drops this process's POSIX
/// locks), used only to simulate a disk or another program damaging the file. A small page cache and
/// no mmap make SQLite read the damaged pages from disk.
/// </summary>
public sealed class RuntimeCorruptionTests
{
    private static readonly WaldenOptions Options = new() { CacheSize = 64 * 1024, MmapSize = 0, ReaderPoolSize = 1 };

    [Fact]
    public async Task ReadAsync_WhenPagesAreDamagedUnderAnOpenDatabase_RaisesTheTypedErrorAndStopsWrites()
    {
        using var temp = new TempDirectory();
        var path = temp.File("app.db");
        var leaves = CreateDatabase(path);
        var gate = new WriterGate();
        var options = Options.Clone();
        options.Faults = gate.Faults();
        await using var db = await WaldenDatabase.OpenAsync(path, options);
        var detected = new TaskCompletionSource<WaldenCorruption>(TaskCreationOptions.RunContinuationsAsynchronously);
        db.CorruptionDetected += (_, corruption) => detected.TrySetResult(corruption);
        Assert.Equal(WaldenHealthStatus.Healthy, db.HealthState);

        Damage(path, leaves);
        var error = await Assert.ThrowsAsync<WaldenCorruptException>(() => db.ReadAsync(c => c.Scalar<long>("SELECT sum(length(note)) FROM orders")));

        Assert.Equal(11, error.SqliteErrorCode); // SQLITE_CORRUPT, kept on the exception
        Assert.Equal(WaldenHealthStatus.Unhealthy, db.HealthState);
        Assert.Equal("A read", (await detected.Task).Operation);
        var refused = await Assert.ThrowsAsync<WaldenCorruptException>(() => db.WriteAsync(c => c.Exec("INSERT INTO other(x) VALUES (1)")));
        Assert.Contains("refuses writes", refused.Message, StringComparison.Ordinal);
        Assert.Empty(gate.BatchSizes); // the refused write never reached the writer, nor the file
    }

    [Fact]
    public async Task WriteAsync_WhenAWriteHitsDamagedPages_FailsItsWholeBatchTypedAndRefusesLaterWrites()
    {
        using var temp = new TempDirectory();
        var path = temp.File("app.db");
        var leaves = CreateDatabase(path);
        var gate = new WriterGate();
        var options = Options.Clone();
        options.Faults = gate.Faults();
        await using var db = await WaldenDatabase.OpenAsync(path, options);
        Damage(path, leaves);

        var held = gate.HoldNextBatch();
        var first = db.WriteAsync(c => c.Exec("INSERT INTO other(x) VALUES (1)"));
        await held;
        // These three queue up behind the held batch and are committed together: one of them meets the damage.
        var before = db.WriteAsync(c => c.Exec("INSERT INTO other(x) VALUES (2)"));
        var hitsDamage = db.WriteAsync(c => c.Exec("UPDATE orders SET note = 'changed' WHERE id % 7 = 0"));
        var after = db.WriteAsync(c => c.Exec("INSERT INTO other(x) VALUES (3)"));
        gate.Release();
        await first;

        await Assert.ThrowsAsync<WaldenCorruptException>(() => hitsDamage);
        await Assert.ThrowsAsync<WaldenCorruptException>(() => before);
        await Assert.ThrowsAsync<WaldenCorruptException>(() => after);
        await Assert.ThrowsAsync<WaldenCorruptException>(() => db.WriteAsync(c => c.Exec("INSERT INTO other(x) VALUES (4)")));
        Assert.Equal(WaldenHealthStatus.Unhealthy, db.HealthState);
        Assert.Equal(1L, await db.ReadAsync(c => c.Scalar<long>("SELECT count(*) FROM other"))); // only the write committed before the damage
    }

    [Fact]
    public async Task BackgroundCheck_RunsOnTheClockAndTurnsUnhealthyWhenDamageAppears()
    {
        using var temp = new TempDirectory();
        var path = temp.File("app.db");
        var leaves = CreateDatabase(path);
        var clock = new FakeTimeProvider();
        var options = Options.Clone();
        options.TimeProvider = clock;
        options.BackgroundIntegrityCheckInterval = TimeSpan.FromMinutes(10);
        await using var db = await WaldenDatabase.OpenAsync(path, options);
        var reports = new System.Collections.Concurrent.BlockingCollection<WaldenIntegrityReport>();
        db.BackgroundCheckCompleted += reports.Add;

        clock.Advance(TimeSpan.FromMinutes(9));
        Assert.Equal("open", db.LastIntegrityCheck!.Trigger); // not due yet
        clock.Advance(TimeSpan.FromMinutes(1));
        var healthy = reports.Take(new CancellationTokenSource(TimeSpan.FromMinutes(1)).Token);
        Assert.True(healthy.IsHealthy);
        Assert.Equal(WaldenIntegrityCheck.Full, healthy.Kind);
        Assert.Equal("background", db.LastIntegrityCheck!.Trigger);

        Damage(path, leaves);
        clock.Advance(TimeSpan.FromMinutes(10));
        var damaged = reports.Take(new CancellationTokenSource(TimeSpan.FromMinutes(1)).Token);
        Assert.False(damaged.IsHealthy);
        Assert.NotEmpty(damaged.Findings);
        Assert.Equal(WaldenHealthStatus.Unhealthy, db.HealthState);
    }

    private static List<int> CreateDatabase(string path)
    {
        using (var connection = Sql.OpenDirect(path))
        {
            connection.Exec("PRAGMA journal_mode=WAL; CREATE TABLE orders(id INTEGER PRIMARY KEY, note TEXT); CREATE TABLE other(x INTEGER);");
            connection.Exec("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000) INSERT INTO orders(note) SELECT printf('%.200c', 'a') || i FROM n");
            connection.Exec("PRAGMA wal_checkpoint(TRUNCATE)");
        }

        using var reader = Sql.OpenDirect(path, readOnly: true);
        using var command = reader.CreateCommand();
        command.CommandText = "SELECT pageno FROM dbstat WHERE name = 'orders' AND pagetype = 'leaf'";
        using var rows = command.ExecuteReader();
        var pages = new List<int>();
        while (rows.Read())
        {
            pages.Add((int)rows.GetInt64(0));
        }

        return pages;
    }

    private static void Damage(string path, List<int> pages)
    {
        var random = new Random(11);
        var garbage = new byte[4096];
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite);
        foreach (var page in pages)
        {
            random.NextBytes(garbage);
            stream.Position = (long)(page - 1) * 4096;
            stream.Write(garbage);
        }
    }
}
