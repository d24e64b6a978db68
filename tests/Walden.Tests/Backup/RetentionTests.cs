using Walden.Backup;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Backup;

public sealed class RetentionTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly FakeTimeProvider _clock = new();

    public void Dispose() => _dir.Dispose();

    private string Backups => _dir.File("backups");

    private Task<WaldenDatabase> OpenAsync(string name = "app.db", WaldenBackupOptions? backup = null) =>
        WaldenDatabase.OpenAsync(_dir.File(name), new WaldenOptions { TimeProvider = _clock, Backup = backup ?? new WaldenBackupOptions() });

    private List<DateTimeOffset> VerifiedTimes(string source) => WaldenBackups.List(Backups)
        .Where(e => e.State == WaldenBackupState.Verified && e.Backup!.Source == _dir.File(source))
        .Select(e => e.Backup!.CreatedAt).OrderBy(t => t).ToList();

    [Fact]
    public async Task KeepLast_KeepsTheNewestVerifiedBackupsAndLeavesUnverifiedAndOtherDatabasesAlone()
    {
        await using var db = await OpenAsync();
        await db.WriteAsync(c => c.Exec("CREATE TABLE t(a)"));
        await using var other = await OpenAsync("other.db");
        await other.WriteAsync(c => c.Exec("CREATE TABLE t(a)"));
        var start = _clock.GetUtcNow();
        var options = new WaldenBackupOptions { KeepLast = 2 };
        var otherBackup = await other.BackupAsync(Backups, options);
        Directory.CreateDirectory(Backups);
        await File.WriteAllTextAsync(Path.Combine(Backups, "app-20250101T000000Z.db.partial"), "interrupted copy");

        WaldenBackup last = null!;
        for (var day = 0; day < 5; day++)
        {
            last = await db.BackupAsync(Backups, options);
            _clock.Advance(TimeSpan.FromDays(1));
        }

        Assert.Equal([start.AddDays(3), start.AddDays(4)], VerifiedTimes("app.db"));
        Assert.Single(last.Pruned); // each new backup prunes the one that fell out of the last two
        Assert.True(File.Exists(otherBackup.Path)); // another database's backups in the same folder are not counted
        Assert.True(File.Exists(Path.Combine(Backups, "app-20250101T000000Z.db.partial"))); // unverified: left for a person
    }

    [Fact]
    public async Task KeepFor_KeepsEveryVerifiedBackupYoungerThanItButNeverTheNewestOne()
    {
        await using var db = await OpenAsync();
        await db.WriteAsync(c => c.Exec("CREATE TABLE t(a)"));
        var start = _clock.GetUtcNow();
        var options = new WaldenBackupOptions { KeepLast = 1, KeepFor = TimeSpan.FromDays(3) };
        for (var day = 0; day < 6; day++)
        {
            await db.BackupAsync(Backups, options);
            _clock.Advance(TimeSpan.FromDays(1));
        }

        // Taken on days 0..5; at day 5, only those at most 3 days old remain.
        Assert.Equal([start.AddDays(2), start.AddDays(3), start.AddDays(4), start.AddDays(5)], VerifiedTimes("app.db"));

        _clock.Advance(TimeSpan.FromDays(30));
        var damaged = WaldenBackups.List(Backups).First(e => e.Backup?.CreatedAt == start.AddDays(5));
        await File.AppendAllTextAsync(damaged.Path, "x"); // the newest one is damaged now: no longer verified
        await db.BackupAsync(Backups, options);

        Assert.Equal([start.AddDays(36)], VerifiedTimes("app.db")); // everything verified and old went, the new one stays
        Assert.True(File.Exists(damaged.Path)); // a damaged backup is never deleted by retention
    }

    [Fact]
    public async Task ScheduledBackups_RunOnTheClock_AndReportTheLastVerifiedOne()
    {
        var backup = new WaldenBackupOptions { Directory = Backups, Interval = TimeSpan.FromHours(1), KeepLast = 10 };
        await using var db = await OpenAsync(backup: backup);
        var start = _clock.GetUtcNow();
        Assert.Null(db.LastBackup.LastSuccess);

        _clock.Advance(TimeSpan.Zero); // none exists yet: the first is due at open
        await db.ScheduledBackupRun;
        Assert.Equal(start, db.LastBackup.LastSuccessAt);
        Assert.Null(db.LastBackup.LastError);

        _clock.Advance(TimeSpan.FromMinutes(59));
        await db.ScheduledBackupRun;
        Assert.Single(VerifiedTimes("app.db"));

        _clock.Advance(TimeSpan.FromMinutes(1));
        await db.ScheduledBackupRun;
        Assert.Equal([start, start.AddHours(1)], VerifiedTimes("app.db"));
        Assert.Equal(start.AddHours(1), db.LastBackup.LastSuccessAt);
        Assert.False(db.LastBackup.IsOverdue(_clock.GetUtcNow()));
        Assert.True(db.LastBackup.IsOverdue(start.AddHours(3).AddSeconds(1)));
    }

    [Fact]
    public async Task ScheduledBackups_AfterARestart_ContinueFromTheNewestVerifiedBackupInTheFolder()
    {
        var backup = new WaldenBackupOptions { Directory = Backups, Interval = TimeSpan.FromHours(1) };
        var start = _clock.GetUtcNow();
        await using (var first = await OpenAsync(backup: backup))
        {
            _clock.Advance(TimeSpan.Zero);
            await first.ScheduledBackupRun;
        }

        _clock.Advance(TimeSpan.FromMinutes(30));
        await using var db = await OpenAsync(backup: backup);
        Assert.Equal(start, db.LastBackup.LastSuccessAt); // known from the folder, so a health check is not Degraded after a restart

        _clock.Advance(TimeSpan.Zero);
        await db.ScheduledBackupRun;
        Assert.Single(VerifiedTimes("app.db")); // not due until an hour after the last one

        _clock.Advance(TimeSpan.FromMinutes(30));
        await db.ScheduledBackupRun;
        Assert.Equal([start, start.AddHours(1)], VerifiedTimes("app.db"));
    }
}
