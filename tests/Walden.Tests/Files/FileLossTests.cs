using Microsoft.Extensions.Logging;
using Walden.Diagnostics;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Files;

/// <summary>
/// Another program changes the files under a live database: deletes, renames or replaces the database file, deletes the
/// -shm, moves the whole folder, or gives the file a second name. The file watch sees each at its next check: writes are
/// refused (named as what happened, not as corruption), a critical line is logged, health turns Unhealthy, and every
/// acknowledged write is in the rescue file. A database that already has a second name is refused at open.
/// </summary>
public sealed class FileLossTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task OpeningADatabaseWithASecondName_IsRefusedBeforeAnyConnection_ByEitherName()
    {
        var path = _dir.File("app.db");
        using (var create = Sql.OpenDirect(path))
        {
            create.Exec("PRAGMA journal_mode=wal; CREATE TABLE t(a);");
        }

        var other = _dir.File("other-name.db");
        Assert.Equal(0, Walden.Native.Posix.Link(path, other));

        foreach (var name in new[] { path, other })
        {
            var refused = await Assert.ThrowsAsync<WaldenConfigurationException>(() => WaldenDatabase.OpenAsync(name));
            Assert.Contains("hard links", refused.Message, StringComparison.Ordinal);
            Assert.Contains($"find / -xdev -samefile {name}", refused.Message, StringComparison.Ordinal);
            Assert.False(File.Exists(name + "-wal")); // no connection was opened
            Assert.False(File.Exists(name + "-shm"));
        }

        File.Delete(other); // the advice works: one name left
        await using var db = await WaldenDatabase.OpenAsync(path);
        await db.WriteAsync(c => c.Exec("INSERT INTO t VALUES (1)"));
    }

    [Fact]
    public Task DeletingTheDatabaseFile_StopsWrites_AndKeepsEveryAcknowledgedRow() =>
        LoseAndRescue(path => File.Delete(path), "was deleted or renamed");

    [Fact]
    public Task RenamingTheDatabaseFile_StopsWrites_AndKeepsEveryAcknowledgedRow() =>
        LoseAndRescue(path => File.Move(path, _dir.File("renamed.db")), "was deleted or renamed");

    [Fact]
    public Task AnotherFileMovedOverTheDatabase_StopsWrites_AndKeepsEveryAcknowledgedRow() =>
        LoseAndRescue(
            path =>
            {
                var other = _dir.File("new.db");
                using (var create = Sql.OpenDirect(other))
                {
                    create.Exec("CREATE TABLE other(x)");
                }

                File.Move(other, path, overwrite: true); // `mv new.db app.db` over the live file
            },
            "was replaced by another file");

    [Fact]
    public Task DeletingTheShm_StopsWrites_BeforeASecondWriterCanSplitTheWal() =>
        LoseAndRescue(path => File.Delete(path + "-shm"), "-shm");

    [Fact]
    public Task ASecondNameGivenWhileOpen_StopsWrites() =>
        LoseAndRescue(path => Assert.Equal(0, Walden.Native.Posix.Link(path, _dir.File("second-name.db"))), "hard links");

    [Fact]
    public async Task MovingTheWholeFolder_IsNamedAsMoved_NotCorrupt_AndTheRescueIsInTheNewFolder()
    {
        var folder = _dir.File("data");
        Directory.CreateDirectory(folder);
        var moved = _dir.File("data.old");
        var corruption = false;
        var (db, rescue) = await LoseAndRescueCore(
            System.IO.Path.Combine(folder, "app.db"),
            _ => Directory.Move(folder, moved),
            "no longer exists",
            opened => opened.CorruptionDetected += (_, _) => corruption = true);
        await using (db)
        {
            Assert.StartsWith(System.IO.Path.Combine(moved, "app.db.wal-rescue-"), rescue, StringComparison.Ordinal);
            Assert.Contains(System.IO.Path.Combine(moved, "app.db"), db.GetHealth().Reasons.Single(r => r.Contains("no longer exists", StringComparison.Ordinal)), StringComparison.Ordinal);
            Assert.False(corruption);
        }
    }

    [Fact]
    public async Task TruncatingTheWalInPlace_StopsWrites_AndSaysSo()
    {
        var path = _dir.File("app.db");
        var clock = new FakeTimeProvider();
        using var logs = new ListLoggerFactory();
        await using var db = await WaldenDatabase.OpenAsync(path, new WaldenOptions { TimeProvider = clock, LoggerFactory = logs });
        await db.WriteAsync(c => c.Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, body TEXT)"));
        for (var i = 1; i <= 100; i++)
        {
            await db.WriteAsync(c => c.Exec($"INSERT INTO t VALUES ({i}, 'before')"));
        }

        Assert.False(db.CheckWalFile());
        using (var truncate = System.Diagnostics.Process.Start("truncate", ["-s", "0", path + "-wal"])) // another program
        {
            await truncate.WaitForExitAsync();
            Assert.Equal(0, truncate.ExitCode);
        }

        clock.Advance(WaldenDatabase.WalWatchInterval);

        Assert.True(db.CheckWalFile());
        var refused = await Assert.ThrowsAsync<WaldenException>(() => db.WriteAsync(c => c.Exec("INSERT INTO t VALUES (999, 'refused')")));
        Assert.Contains("was truncated to 0 bytes", refused.Message, StringComparison.Ordinal);
        Assert.Equal(WaldenHealthStatus.Unhealthy, db.GetHealth().Status);
        Assert.Contains(logs.Lines, line => line.Level == LogLevel.Critical && line.Message.Contains("was truncated", StringComparison.Ordinal));
        if (db.WalRescuePath is { } saved)
        {
            using var rescue = Sql.OpenDirect(saved, readOnly: true); // a rescue file, when one is written, is sound
            using var check = rescue.CreateCommand();
            check.CommandText = "PRAGMA integrity_check";
            Assert.Equal("ok", check.ExecuteScalar());
            check.CommandText = "SELECT count(*) FROM t";
            Assert.Equal(100L, check.ExecuteScalar()); // the writer's page cache still held them
        }
        else
        {
            Assert.Contains(logs.Lines, line => line.EventId.Id == LogMessages.WalRescueFailedEventId);
        }
    }

    [Fact]
    public async Task CheckpointsThatTruncateTheWal_AreNotTakenForATruncation()
    {
        var path = _dir.File("app.db");
        var clock = new FakeTimeProvider();
        await using var db = await WaldenDatabase.OpenAsync(path, new WaldenOptions { TimeProvider = clock });
        await db.WriteAsync(c => c.Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, body TEXT)"));
        for (var round = 0; round < 3; round++)
        {
            for (var i = 0; i < 50; i++)
            {
                await db.WriteAsync(c => c.Exec("INSERT INTO t(body) VALUES ('row')"));
            }

            Assert.False(db.CheckWalFile());
            using (var other = Sql.OpenDirect(path)) // another program's checkpoint, as sqlite3 or Python run it
            {
                other.Exec("PRAGMA wal_checkpoint(TRUNCATE)");
            }

            Assert.Equal(0, new FileInfo(path + "-wal").Length);
            Assert.False(db.CheckWalFile());
            await db.CheckpointAsync(WaldenCheckpointMode.Truncate);
            Assert.False(db.CheckWalFile());
        }

        await db.WriteAsync(c => c.Exec("INSERT INTO t(body) VALUES ('still taken')"));
    }

    private async Task LoseAndRescue(Action<string> lose, string named)
    {
        var (db, _) = await LoseAndRescueCore(_dir.File("app.db"), lose, named, null);
        await db.DisposeAsync();
    }

    private static async Task<(WaldenDatabase Db, string Rescue)> LoseAndRescueCore(
        string path, Action<string> lose, string named, Action<WaldenDatabase>? watch)
    {
        var clock = new FakeTimeProvider();
        var logs = new ListLoggerFactory();
        var db = await WaldenDatabase.OpenAsync(path, new WaldenOptions { TimeProvider = clock, LoggerFactory = logs });
        watch?.Invoke(db);
        await db.WriteAsync(c => c.Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, body TEXT)"));
        var acknowledged = new List<int>();
        for (var i = 1; i <= 100; i++)
        {
            await db.WriteAsync(c => c.Exec($"INSERT INTO t VALUES ({i}, 'before')"));
            acknowledged.Add(i);
        }

        Assert.False(db.CheckWalFile());
        lose(path);
        for (var i = 101; i <= 140; i++)
        {
            await db.WriteAsync(c => c.Exec($"INSERT INTO t VALUES ({i}, 'after')")); // acknowledged: not seen yet
            acknowledged.Add(i);
        }

        clock.Advance(WaldenDatabase.WalWatchInterval);

        Assert.True(db.CheckWalFile());
        var refused = await Assert.ThrowsAsync<WaldenException>(() => db.WriteAsync(c => c.Exec("INSERT INTO t VALUES (999, 'refused')")));
        Assert.IsNotType<WaldenCorruptException>(refused);
        Assert.Contains(named, refused.Message, StringComparison.Ordinal);
        Assert.Contains(db.WalRescuePath!, refused.Message, StringComparison.Ordinal);
        Assert.Null(db.Corruption); // not damaged: lost
        Assert.Equal(WaldenHealthStatus.Unhealthy, db.GetHealth().Status);
        Assert.Contains(logs.Lines, line => line.Level == LogLevel.Critical && line.EventId.Id == LogMessages.WalFileLostEventId &&
                                            line.Message.Contains(named, StringComparison.Ordinal) &&
                                            line.Message.Contains(db.WalRescuePath!, StringComparison.Ordinal));
        Assert.DoesNotContain(logs.Lines, line => line.Message.Contains("recover", StringComparison.OrdinalIgnoreCase));
        using (var rescue = Sql.OpenDirect(db.WalRescuePath!, readOnly: true))
        {
            Assert.Equal(acknowledged, rescue.Ints("SELECT id FROM t ORDER BY id")); // 0 acknowledged rows lost
        }

        return (db, db.WalRescuePath!);
    }
}
