using Xunit.Abstractions;
using System.Diagnostics;
using Walden.Checkpointing;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Checkpointing;

public sealed class BoundedWalTests(ITestOutputHelper output) : IDisposable
{
    private const long Limit = 1024 * 1024;
    private const int RowBytes = 3000;
    private const int WalHeaderBytes = 32;
    private const int FrameHeaderBytes = 24;

    /// <summary>The stated margin: the -wal file may overshoot the limit by at most a quarter of it (README, "Checkpoints").</summary>
    private const long Margin = Limit / 4;

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task SustainedWritesWithOverlappingReaders_KeepTheWalWithinItsLimit_AndIdleTruncatesIt()
    {
        var time = new FakeTimeProvider();
        var path = _dir.File("app.db");
        await using var db = await WaldenDatabase.OpenAsync(path, new WaldenOptions
        {
            WalSizeLimit = Limit,
            CheckpointIdleDelay = TimeSpan.FromSeconds(1),
            Durability = WaldenDurability.Normal,
            TimeProvider = time,
        });
        await db.WriteAsync(c => c.Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, body BLOB NOT NULL)"));

        using var stop = new CancellationTokenSource();
        var written = 0L;
        var writers = Enumerable.Range(0, 8).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                await db.WriteAsync(c =>
                {
                    var insert = c.GetCachedCommand("INSERT INTO t(body) VALUES (randomblob(3000))");
                    insert.ExecuteNonQuery();
                });
                Interlocked.Increment(ref written);
            }
        })).ToArray();
        var readers = Enumerable.Range(0, 4).Select(_ => Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                await db.ReadAsync(c => c.Scalar<long>("SELECT count(*) FROM (SELECT id FROM t ORDER BY id DESC LIMIT 200)"));
            }
        })).ToArray();

        // Real load until six times the limit went through the WAL (bounded by a time cap, so a stall fails
        // instead of hanging), letting the fake clock move so checkpoint backoffs expire as they would in real time.
        // The peak is not sampled: the WAL hook reports the frames after every commit, and the -wal file grows only
        // when a commit writes past its end, so the largest frame count is the largest the file ever was.
        var walPath = path + "-wal";
        var run = Stopwatch.StartNew();
        while (Interlocked.Read(ref written) * RowBytes < 6 * Limit && run.Elapsed < TimeSpan.FromSeconds(60))
        {
            time.Advance(TimeSpan.FromMilliseconds(5));
            await Task.Delay(2);
        }

        stop.Cancel();
        await Task.WhenAll(writers.Concat(readers));
        var stats = await db.GetStatsAsync();

        Assert.True(Interlocked.Read(ref written) * RowBytes >= 6 * Limit,
            $"The run must write several times the WAL limit to mean anything; it wrote {written:N0} rows. {stats}");
        long peak = WalHeaderBytes + (long)db.Checkpointer.PeakWalFrames * (FrameHeaderBytes + db.Settings.PageSize);
        Assert.True(new FileInfo(walPath).Length <= peak, "The -wal file is longer than the WAL hook's largest frame count explains.");
        output.WriteLine($"rows {written:N0}, peak -wal {peak:N0} bytes (limit {Limit:N0}), checkpoints {stats.Checkpoints}, elapsed {run.Elapsed.TotalSeconds:0.0} s");
        Assert.True(peak <= Limit + Margin, $"The -wal file reached {peak:N0} bytes; the limit is {Limit:N0} plus a margin of {Margin:N0}.");
        Assert.True(stats.Checkpoints > 0);

        // The load has stopped: once the idle delay passes, the scheduler truncates the WAL.
        time.Advance(TimeSpan.FromSeconds(1));
        await db.Checkpointer.EvaluateAsync();
        Assert.Equal(0, new FileInfo(walPath).Length);
        Assert.Equal(WaldenCheckpointMode.Truncate, (await db.GetStatsAsync()).LastCheckpoint!.Mode);
        Assert.Equal(written, await db.ReadAsync(c => c.Scalar<long>("SELECT count(*) FROM t")));
    }

    [Fact]
    public async Task WaldenConnections_HaveAutoCheckpointOff_AndAJournalSizeLimit()
    {
        await using var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), new WaldenOptions { WalSizeLimit = Limit });
        var (auto, journalLimit) = await db.ReadAsync(c => (c.Scalar<long>("PRAGMA wal_autocheckpoint"), c.Scalar<long>("PRAGMA journal_size_limit")));
        var writerAuto = await db.WriteAsync(c => c.Scalar<long>("PRAGMA wal_autocheckpoint"));

        Assert.Equal(0, auto);
        Assert.Equal(0, writerAuto);
        Assert.Equal(Limit / 2, journalLimit);
    }

    [Fact]
    public async Task CheckpointAsync_Truncate_EmptiesTheWal_AndReportsTheTriple()
    {
        var path = _dir.File("app.db");
        await using var db = await WaldenDatabase.OpenAsync(path, new WaldenOptions { TimeProvider = new FakeTimeProvider() });
        await db.WriteAsync(c => c.Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, body BLOB)"));
        for (var i = 0; i < 20; i++)
        {
            await db.WriteAsync(c => c.Exec("INSERT INTO t(body) VALUES (randomblob(5000))"));
        }

        Assert.True(new FileInfo(path + "-wal").Length > 0);
        var passive = await db.CheckpointAsync(WaldenCheckpointMode.Passive);
        Assert.False(passive.Busy);
        Assert.True(passive.LogFrames > 20, $"LogFrames was {passive.LogFrames}");
        Assert.Equal(passive.LogFrames, passive.CheckpointedFrames);

        var truncate = await db.CheckpointAsync(WaldenCheckpointMode.Truncate);
        Assert.False(truncate.Busy);
        Assert.Equal(0, truncate.LogFrames);
        Assert.Equal(0, new FileInfo(path + "-wal").Length);

        await db.WriteAsync(c => c.Exec("INSERT INTO t(body) VALUES (x'01')")); // the writer goes on after the pause
        Assert.Equal(21, await db.ReadAsync(c => c.Scalar<long>("SELECT count(*) FROM t")));
    }

    [Fact]
    public async Task CheckpointAsync_AfterDispose_ThrowsClosed()
    {
        var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"));
        await db.DisposeAsync();
        await Assert.ThrowsAsync<WaldenClosedException>(() => db.CheckpointAsync(WaldenCheckpointMode.Full));
    }
}
