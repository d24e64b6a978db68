using Microsoft.Data.Sqlite;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Faults;

/// <summary>
/// Checkpoints on a failing disk (the fault VFS): an fsync that fails while the WAL's frames are copied into the database,
/// a full disk or a short write on that copy, a read of the -wal that fails. The checkpoint fails typed and is never reported
/// done; a failed fsync makes the database Unhealthy; and after the fault clears and a power cut drops every unsynced byte,
/// every acknowledged row is there and the file passes integrity_check.
/// </summary>
[Collection(nameof(FaultVfsCollection))]
public sealed class CheckpointFaultTests : IDisposable
{
    private const int SqliteIoErrFsync = 10 | (4 << 8);
    private const int Rows = 200;

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData(WaldenCheckpointMode.Passive)]
    [InlineData(WaldenCheckpointMode.Full)]
    [InlineData(WaldenCheckpointMode.Restart)]
    [InlineData(WaldenCheckpointMode.Truncate)]
    public async Task CheckpointAsync_WhenTheFsyncFails_FailsTyped_GoesUnhealthy_AndLosesNothingAcknowledged(WaldenCheckpointMode mode)
    {
        using var disk = new FaultDisk(_dir.Path);
        var path = _dir.File("app.db");
        var db = await OpenWithRowsAsync(path);
        await using (db)
        {
            disk.Set("eio_fsync=1");
            var failed = await Assert.ThrowsAsync<WaldenException>(() => db.CheckpointAsync(mode));
            Assert.Equal(SqliteIoErrFsync, failed.SqliteExtendedErrorCode);
            Assert.Equal(WaldenHealthStatus.Unhealthy, db.GetHealth().Status);
            Assert.Contains(db.GetHealth().Reasons, r => r.Contains("fsync", StringComparison.Ordinal));

            // The disk works again: Walden neither retries the fsync nor reports a later checkpoint or write as done.
            disk.Clear();
            await Assert.ThrowsAsync<WaldenException>(() => db.CheckpointAsync(mode));
            await Assert.ThrowsAsync<WaldenException>(() => db.WriteAsync(c => Sql.Insert(c, 1, 0)));
            Assert.Equal(0, disk.Syncs);
        }

        await AssertEveryAcknowledgedRowSurvivesAPowerCutAsync(disk, path);
    }

    [Fact]
    public async Task AScheduledCheckpoint_WhenTheFsyncFails_MakesTheDatabaseUnhealthy_AndLosesNothingAcknowledged()
    {
        using var disk = new FaultDisk(_dir.Path);
        var path = _dir.File("app.db");
        var time = new FakeTimeProvider();
        var db = await OpenWithRowsAsync(path, time);
        await using (db)
        {
            disk.Set("eio_fsync=1");
            time.Advance(TimeSpan.FromMinutes(1)); // idle for longer than CheckpointIdleDelay: the scheduler truncates the WAL
            var failed = await Assert.ThrowsAsync<WaldenException>(() => db.Checkpointer.EvaluateAsync());
            Assert.Equal(SqliteIoErrFsync, failed.SqliteExtendedErrorCode);
            Assert.Equal(WaldenHealthStatus.Unhealthy, db.GetHealth().Status);
            Assert.Contains(db.GetHealth().Reasons, r => r.Contains("fsync", StringComparison.Ordinal));
            disk.Clear();
            var refused = await Assert.ThrowsAsync<WaldenException>(() => db.WriteAsync(c => Sql.Insert(c, 1, 0)));
            Assert.Equal(SqliteIoErrFsync, refused.SqliteExtendedErrorCode);
            time.Advance(TimeSpan.FromMinutes(1));
            await Assert.ThrowsAsync<WaldenException>(() => db.Checkpointer.EvaluateAsync()); // refused, not retried
            Assert.Equal(0, disk.Syncs);
        }

        await AssertEveryAcknowledgedRowSurvivesAPowerCutAsync(disk, path);
    }

    [Theory]
    [InlineData(WaldenCheckpointMode.Passive, "enospc=1")]
    [InlineData(WaldenCheckpointMode.Truncate, "enospc=1")]
    [InlineData(WaldenCheckpointMode.Passive, "seed=3;short_write=1")]
    [InlineData(WaldenCheckpointMode.Restart, "seed=3;short_write=1")]
    [InlineData(WaldenCheckpointMode.Passive, "eio_write=1")]
    [InlineData(WaldenCheckpointMode.Passive, "eio_read=1")]
    [InlineData(WaldenCheckpointMode.Truncate, "eio_read=1")]
    public async Task CheckpointAsync_OnAFullDiskAShortWriteOrAFailingRead_FailsTyped_AndLosesNothingAcknowledged(
        WaldenCheckpointMode mode, string faults)
    {
        using var disk = new FaultDisk(_dir.Path);
        var path = _dir.File("app.db");
        var db = await OpenWithRowsAsync(path);
        await using (db)
        {
            disk.Set(faults);
            await Assert.ThrowsAnyAsync<WaldenException>(() => db.CheckpointAsync(mode));
            Assert.True(disk.FaultsInjected > 0);

            // The fault clears: the next checkpoint copies the frames again, and the database goes on.
            disk.Clear();
            var done = await db.CheckpointAsync(mode);
            Assert.False(done.Busy);
            await db.WriteAsync(c => Sql.Insert(c, 1, 0));
        }

        await AssertEveryAcknowledgedRowSurvivesAPowerCutAsync(disk, path, extra: 1);
    }

    private static async Task<WaldenDatabase> OpenWithRowsAsync(string path, FakeTimeProvider? time = null)
    {
        var db = await WaldenDatabase.OpenAsync(path, new WaldenOptions { TimeProvider = time ?? new FakeTimeProvider() });
        await db.WriteAsync(c => c.Exec(Sql.LogTable));
        await db.CheckpointAsync(WaldenCheckpointMode.Truncate); // the table is in the database file; the rows below only in the -wal
        for (var i = 0; i < Rows; i++)
        {
            var seq = i;
            await db.WriteAsync(c => Sql.Insert(c, 0, seq));
        }

        return db;
    }

    private static async Task AssertEveryAcknowledgedRowSurvivesAPowerCutAsync(FaultDisk disk, string path, int extra = 0)
    {
        SqliteConnection.ClearAllPools();
        disk.PowerCut(seed: 7, keep: 0, drop: 1); // every byte not synced is gone
        var db = await WaldenDatabase.OpenAsync(path, new WaldenOptions { IntegrityCheck = WaldenIntegrityCheck.Full });
        await using (db)
        {
            var (integrity, count) = await db.ReadAsync(c =>
                (c.Scalar<string>("PRAGMA integrity_check"), c.Scalar<long>("SELECT count(*) FROM log WHERE producer = 0 AND seq < 200")));
            Assert.Equal("ok", integrity);
            Assert.Equal(Rows, count);
            Assert.Equal(extra, await db.ReadAsync(c => c.Scalar<long>("SELECT count(*) FROM log WHERE producer = 1")));
        }
    }
}
