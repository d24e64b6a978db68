using Walden.Backup;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Backup;

public sealed class BackupTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task BackupAsync_WhileSixteenProducersWrite_IsAConsistentSnapshotHoldingEveryWriteAcknowledgedBeforeIt()
    {
        const int Producers = 16;
        await using var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), new WaldenOptions { Durability = WaldenDurability.Normal });
        await db.WriteAsync(c => c.Exec(Sql.LogTable));
        // Some bulk first, so the copy takes many steps and the producers commit between them.
        await db.WriteAsync(c => c.Exec(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 8000) " +
            "INSERT INTO log(producer, seq, body) SELECT -1, i, hex(randomblob(300)) FROM n"));

        var acknowledged = new long[Producers];
        Array.Fill(acknowledged, -1);
        long total = 0;
        var warmedUp = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var stop = new CancellationTokenSource();
        var producers = Enumerable.Range(0, Producers).Select(p => Task.Run(async () =>
        {
            for (var seq = 0; !stop.IsCancellationRequested; seq++)
            {
                var s = seq;
                await db.WriteAsync(c => Sql.Insert(c, p, s));
                Volatile.Write(ref acknowledged[p], s);
                if (Interlocked.Increment(ref total) == Producers * 20)
                {
                    warmedUp.TrySetResult();
                }
            }
        })).ToArray();

        await warmedUp.Task;
        var acknowledgedBefore = acknowledged.Select(a => Volatile.Read(ref a)).ToArray();
        var totalBefore = Interlocked.Read(ref total);
        // Throttled to about a second for the 5 MB file: an unthrottled copy on a loaded machine once ended before any
        // producer's next commit, and the first assertion below then failed without saying anything about the backup.
        var backup = await db.BackupAsync(_dir.File("backups"), new WaldenBackupOptions { PagesPerStep = 8, MaxBytesPerSecond = 5_000_000 });
        var totalAfter = Interlocked.Read(ref total);
        await stop.CancelAsync();
        await Task.WhenAll(producers); // any producer error surfaces here

        Assert.True(totalAfter > totalBefore, "the producers kept committing while the backup ran");
        Assert.Equal(0, backup.Restarts); // one pinned snapshot: SQLite never had to start the copy over
        Assert.Equal("ok", backup.IntegrityCheck);
        Assert.True(File.Exists(backup.Path + ".json"));
        using var copy = Sql.OpenDirect(backup.Path, readOnly: true);
        Assert.Equal("ok", copy.Scalar<string>("PRAGMA integrity_check"));
        Assert.Equal("delete", copy.Scalar<string>("PRAGMA journal_mode")); // one self-contained file
        Assert.Equal(backup.TableRows["log"], copy.Scalar<long>("SELECT count(*) FROM log"));
        for (var p = 0; p < Producers; p++)
        {
            // Every acknowledged write is there, and each producer's rows are a gap-free prefix: one snapshot.
            var (count, max) = (copy.Scalar<long>($"SELECT count(*) FROM log WHERE producer = {p}"), copy.Scalar<long>($"SELECT coalesce(max(seq), -1) FROM log WHERE producer = {p}"));
            Assert.True(max >= acknowledgedBefore[p], $"producer {p}: acknowledged up to {acknowledgedBefore[p]} before the backup, copy has up to {max}");
            Assert.Equal(max + 1, count);
        }

        Assert.Equal(8000, copy.Scalar<long>("SELECT count(*) FROM log WHERE producer = -1"));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(backup.Path));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(backup.Path + ".json"));
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(_dir.File("backups")));
        }
    }

    [Theory]
    [InlineData(false, WaldenBackupCompression.GZip)]
    [InlineData(true, WaldenBackupCompression.Brotli)]
    public async Task BackupAsync_CompressedOrVacuumed_RecordsBothChecksumsAndRestoresTheSameRows(bool vacuum, WaldenBackupCompression compression)
    {
        await using (var db = await WaldenDatabase.OpenAsync(_dir.File("app.db")))
        {
            await db.WriteAsync(c => c.Exec(Sql.LogTable + "; WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500) INSERT INTO log(producer, seq, body) SELECT 1, i, 'row' FROM n"));
            await db.WriteAsync(c => c.Exec("DELETE FROM log WHERE seq > 400")); // free pages that VACUUM INTO drops
            var backup = await db.BackupAsync(_dir.File("backups"), new WaldenBackupOptions { Vacuum = vacuum, Compression = compression });

            Assert.EndsWith(compression == WaldenBackupCompression.GZip ? ".db.gz" : ".db.br", backup.Path, StringComparison.Ordinal);
            Assert.Equal(vacuum ? "vacuum-into" : "backup-api", backup.Method);
            Assert.NotEqual(backup.DatabaseSha256, backup.StoredSha256);
            Assert.Equal(new FileInfo(backup.Path).Length, backup.StoredBytes);
            Assert.Equal(400, backup.TableRows["log"]);
            Assert.Equal(WaldenBackupState.Verified, (await WaldenBackups.VerifyAsync(backup.Path)).State);

            var restored = await WaldenBackups.RestoreAsync(backup.Path, _dir.File("restored.db"));
            Assert.Null(restored.Quarantine);
        }

        await using var again = await WaldenDatabase.OpenAsync(_dir.File("restored.db"));
        Assert.Equal(400, await again.ReadAsync(c => c.Scalar<long>("SELECT count(*) FROM log")));
        Assert.Equal("wal", again.Settings.JournalMode);
    }

    [Fact]
    public async Task WaldenBackups_BackupAsync_CopiesADatabaseAnotherProcessIsWritingWithoutItsUncommittedWork()
    {
        var path = _dir.File("other.db");
        using var shell = new SqliteShell(path);
        await shell.RunAsync("PRAGMA journal_mode=WAL; CREATE TABLE t(a); INSERT INTO t VALUES ('committed'); BEGIN IMMEDIATE; INSERT INTO t VALUES ('uncommitted');");

        var backup = await WaldenBackups.BackupAsync(path, _dir.File("backups"));

        Assert.Equal(1, backup.TableRows["t"]);
        Assert.Equal("wal", backup.SourceJournalMode);
        await shell.RunAsync("COMMIT;"); // the other process was never disturbed: it still holds its write transaction
        Assert.Equal("2", (await shell.RunAsync("SELECT count(*) FROM t;")).Trim());
    }

    [Fact]
    public async Task WaldenBackups_OfARollbackJournalDatabase_RestoresItInItsOwnJournalMode()
    {
        var path = _dir.File("legacy.db");
        using (var connection = Sql.OpenDirect(path))
        {
            connection.Exec("PRAGMA journal_mode=DELETE; CREATE TABLE t(a); INSERT INTO t VALUES (1), (2), (3);");
        }

        var backup = await WaldenBackups.BackupAsync(path, _dir.File("backups"));
        await WaldenBackups.RestoreAsync(backup.Path, _dir.File("restored.db"));

        Assert.Equal("delete", backup.SourceJournalMode);
        using var restored = Sql.OpenDirect(_dir.File("restored.db"));
        Assert.Equal("delete", restored.Scalar<string>("PRAGMA journal_mode"));
        Assert.Equal(3, restored.Scalar<long>("SELECT count(*) FROM t"));
    }

    [Fact]
    public async Task LastBackup_RecordsAFailedAttemptWithoutCountingItAsABackup()
    {
        await using var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"));
        await File.WriteAllTextAsync(_dir.File("not-a-folder"), "x");

        await Assert.ThrowsAsync<WaldenConfigurationException>(() => db.BackupAsync(_dir.File("not-a-folder")));

        Assert.Null(db.LastBackup.LastSuccess);
        Assert.NotNull(db.LastBackup.LastAttemptAt);
        Assert.Contains("is a file. Pass a folder", db.LastBackup.LastError, StringComparison.Ordinal);
        var backup = await db.BackupAsync(_dir.File("backups"));
        Assert.Equal(backup, db.LastBackup.LastSuccess);
        Assert.Null(db.LastBackup.LastError);
    }

    [Fact]
    public async Task BackupAsync_WithBadOptions_ListsEveryProblem()
    {
        await using var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"));

        var error = await Assert.ThrowsAsync<WaldenConfigurationException>(() =>
            db.BackupAsync(_dir.File("backups"), new WaldenBackupOptions { KeepLast = 0, PagesPerStep = 0, MaxBytesPerSecond = 5 }));

        Assert.Contains("KeepLast must be between 1 and 100,000 backups (currently 0)", error.Message, StringComparison.Ordinal);
        Assert.Contains("PagesPerStep must be between 1 and 1,000,000 pages (currently 0)", error.Message, StringComparison.Ordinal);
        Assert.Contains("MaxBytesPerSecond must be at least 1,000,000 (1 MB/s), or null for no limit (currently 5)", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OpenAsync_WithAnIntervalButNoDirectory_SaysWhatToSet()
    {
        var error = await Assert.ThrowsAsync<WaldenConfigurationException>(() =>
            WaldenDatabase.OpenAsync(_dir.File("app.db"), new WaldenOptions { Backup = { Interval = TimeSpan.FromHours(1) } }));

        Assert.Contains("Backup.Directory must be set when Backup.Interval is set", error.Message, StringComparison.Ordinal);
    }
}
