using Walden.Checkpointing;
using Walden.Diagnostics;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Checkpointing;

public sealed class WalHardLimitTests : IDisposable
{
    private const long Limit = 1024 * 1024;
    private const string Batch = "WITH RECURSIVE s(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM s WHERE i < 100) INSERT INTO t(body) SELECT randomblob(3000) FROM s";

    /// <summary>One write of <see cref="Batch"/> is 100 rows of 3,000 bytes: under 200 pages of 4 KiB in the WAL.</summary>
    private const long OneBatchBytes = 200 * (4096 + 24);

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task AnotherProcessHoldingAnOldSnapshot_StopsTheWalAt16TimesTheLimit_WritesFailTypedNamingIt_AndResumeAfterItEnds()
    {
        var path = _dir.File("app.db");
        var logs = new ListLoggerFactory();
        await using var db = await WaldenDatabase.OpenAsync(path, new WaldenOptions
        {
            WalSizeLimit = Limit, // MaxWalSize left at its default: 16 times this
            BusyTimeout = TimeSpan.FromSeconds(1), // how long a write waits at the bound before it fails
            CheckpointStarvationThreshold = TimeSpan.FromSeconds(1),
            LoggerFactory = logs,
        });
        await db.WriteAsync(c => c.Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, body BLOB NOT NULL)"));
        await db.WriteAsync(c => c.Exec("INSERT INTO t(body) VALUES (x'00')"));
        var max = 16 * Limit;

        await using var python = await PythonSnapshotReader.StartAsync(path, "t");
        WaldenWalLimitException? refused = null;
        var committed = 1L;
        for (var i = 0; i < 400 && refused is null; i++)
        {
            try
            {
                await db.WriteAsync(c => c.Exec(Batch));
                committed += 100;
            }
            catch (WaldenWalLimitException ex)
            {
                refused = ex;
            }

            Assert.True(WalBytes(path) <= max + OneBatchBytes, $"The -wal file is {WalBytes(path):N0} bytes, past the bound {max:N0} plus one batch.");
        }

        Assert.NotNull(refused);
        Assert.True(WalBytes(path) > max / 2, "The bound is 16 times the limit, not less.");
        Assert.Equal([python.ProcessId], refused.ReaderProcessIds);
        Assert.Matches($@"process {python.ProcessId} \(\S*python3[^)]* -c import sqlite3", refused.Message); // pid and command line
        Assert.Contains("MaxWalSize (16,777,216 bytes)", refused.Message, StringComparison.Ordinal);
        Assert.True(refused.IsTransient);

        // While the other process keeps its snapshot, writes keep failing and the WAL does not grow.
        var size = WalBytes(path);
        await Assert.ThrowsAsync<WaldenWalLimitException>(() => db.WriteAsync(c => c.Exec(Batch)));
        Assert.Equal(size, WalBytes(path));
        var error = Assert.Single(logs.Lines, l => l.EventId.Id == 1204);
        Assert.Contains($"process {python.ProcessId} (", error.Message, StringComparison.Ordinal);
        var starved = Assert.Single(logs.Lines, l => l.EventId.Id == 1202);
        Assert.Contains($"Other processes hold read transactions on the WAL: process {python.ProcessId} (", starved.Message, StringComparison.Ordinal);
        Assert.Contains("MaxReadLeaseDuration cannot end another process's read", starved.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("none running", starved.Message, StringComparison.Ordinal);
        var health = db.GetHealth();
        Assert.Equal(WaldenHealthStatus.Unhealthy, health.Status);
        Assert.Contains(health.Reasons, r => r.Contains("refusing writes at MaxWalSize", StringComparison.Ordinal));

        // The reader ends: the checkpointer resets the WAL, writes go on, and the WAL stays under the limit again.
        await python.EndAsync();
        await db.Checkpointer.EvaluateAsync();
        await db.WriteAsync(c => c.Exec(Batch));
        committed += 100;
        Assert.True(WalBytes(path) < Limit, $"After the reset the -wal file should be small again; it is {WalBytes(path):N0} bytes.");
        Assert.False((await db.CheckpointAsync(WaldenCheckpointMode.Truncate)).Busy);
        Assert.Equal(0, WalBytes(path));
        Assert.NotEqual(WaldenHealthStatus.Unhealthy, db.GetHealth().Status);
        Assert.Equal(committed, await db.ReadAsync(c => c.Scalar<long>("SELECT count(*) FROM t")));
    }

    [Fact]
    public async Task AConnectionOfThisProcessOutsideWalden_HoldingASnapshot_IsNamedAsSuch_WhenWritesFailAtMaxWalSize()
    {
        var path = _dir.File("app.db");
        await using var db = await WaldenDatabase.OpenAsync(path, new WaldenOptions
        {
            WalSizeLimit = Limit,
            MaxWalSize = 2 * Limit,
            BusyTimeout = TimeSpan.FromMilliseconds(300),
        });
        await db.WriteAsync(c => c.Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, body BLOB NOT NULL)"));
        using var plain = Sql.OpenDirect(path);
        using var transaction = plain.BeginTransaction(deferred: true);
        Assert.Equal(0, plain.Scalar<long>("SELECT count(*) FROM t")); // its snapshot is taken here and kept

        WaldenWalLimitException? refused = null;
        for (var i = 0; i < 100 && refused is null; i++)
        {
            try
            {
                await db.WriteAsync(c => c.Exec(Batch));
            }
            catch (WaldenWalLimitException ex)
            {
                refused = ex;
            }
        }

        Assert.NotNull(refused);
        Assert.True(WalBytes(path) <= 2 * Limit + OneBatchBytes);
        Assert.Empty(refused.ReaderProcessIds);
        Assert.Contains($"A connection of this process (pid {Environment.ProcessId}) that is not one of Walden's", refused.Message, StringComparison.Ordinal);

        transaction.Commit();
        await db.Checkpointer.EvaluateAsync();
        await db.WriteAsync(c => c.Exec(Batch));
    }

    [Fact]
    public async Task MaxWalSize_BelowTwiceTheLimit_IsRefusedAtOpen_NamingTheAllowedRange()
    {
        var error = await Assert.ThrowsAsync<WaldenConfigurationException>(() => WaldenDatabase.OpenAsync(_dir.File("app.db"), new WaldenOptions
        {
            WalSizeLimit = 4 * Limit,
            MaxWalSize = 7 * Limit,
        }));
        var problem = Assert.Single(error.Problems);
        Assert.StartsWith("MaxWalSize must be null (16 times WalSizeLimit) or from 2 times WalSizeLimit (8,388,608 bytes)", problem, StringComparison.Ordinal);
    }

    [Fact]
    public void ReadLocksOnTheShm_AreMatchedByDeviceInodeAndReadMarkBytes()
    {
        Assert.Equal(2155, WalReaderProcesses.ParseReadLock("1: POSIX  ADVISORY  READ 2155 fe:00:11657390 124 124", 0xfe, 0, 11657390));
        Assert.Equal(2155, WalReaderProcesses.ParseReadLock("7: POSIX  ADVISORY  READ 2155 fe:00:11657390 120 EOF", 0xfe, 0, 11657390));
        Assert.Equal(2155, WalReaderProcesses.ParseReadLock("1: POSIX  ADVISORY  READ 2155 fe:00:11657390 123 123", 0xfe, 0, 11657390)); // read mark 0
        Assert.Null(WalReaderProcesses.ParseReadLock("1: POSIX  ADVISORY  READ 2155 fe:00:11657390 120 122", 0xfe, 0, 11657390));
        Assert.Null(WalReaderProcesses.ParseReadLock("2: POSIX  ADVISORY  READ 2155 fe:00:11657390 128 128", 0xfe, 0, 11657390)); // DMS
        Assert.Null(WalReaderProcesses.ParseReadLock("3: POSIX  ADVISORY  WRITE 2155 fe:00:11657390 124 124", 0xfe, 0, 11657390));
        Assert.Null(WalReaderProcesses.ParseReadLock("4: POSIX  ADVISORY  READ 2155 fe:00:11657391 124 124", 0xfe, 0, 11657390));
        Assert.Null(WalReaderProcesses.ParseReadLock("5: POSIX  ADVISORY  READ 2155 fe:01:11657390 124 124", 0xfe, 0, 11657390));
        Assert.Null(WalReaderProcesses.ParseReadLock("6: -> POSIX  ADVISORY  READ 2155 fe:00:11657390 124 124", 0xfe, 0, 11657390));
    }

    private static long WalBytes(string path) => new FileInfo(path + "-wal").Length;
}
