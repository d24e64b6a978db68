using System.Diagnostics;
using Microsoft.Data.Sqlite;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Configuration;

/// <summary>
/// Failures caused by the environment or the file surface as <see cref="WaldenException"/>s, with SQLite's exception
/// inside, and show in the health. Tests run as root, which chmod does not stop: a file is made read-only for the
/// process with the immutable attribute (chattr +i), which binds root too.
/// </summary>
public sealed class EnvironmentFailureTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task OpenAsync_OfAFileTheProcessCannotWrite_IsRefusedSayingWhatToChange()
    {
        var path = _dir.File("app.db");
        await using (var db = await WaldenDatabase.OpenAsync(path))
        {
            await db.WriteAsync(c => c.Exec(Sql.LogTable));
        }

        // xunit 2 cannot skip at run time: fail with the reason rather than pass without testing anything.
        Assert.True(Chattr.Run("+i", path), Chattr.Needed);

        try
        {
            var error = await Assert.ThrowsAsync<WaldenReadOnlyException>(() => WaldenDatabase.OpenAsync(path));
            Assert.Contains("read-only for this process", error.Message, StringComparison.Ordinal);
            Assert.Contains("write access", error.Message, StringComparison.Ordinal);
            Assert.IsAssignableFrom<WaldenException>(error);
        }
        finally
        {
            Chattr.Run("-i", path);
        }
    }

    [Fact]
    public async Task WriteAsync_WhenTheDiskIsFullInsideTheDelegate_FailsWithWaldenDiskFullException_AndTheDatabaseIsUnhealthy()
    {
        await using var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"));
        await db.WriteAsync(c => c.Exec(Sql.LogTable));
        var pages = await db.ReadAsync(c => c.Scalar<long>("PRAGMA page_count"));
        await db.WriteAsync(c => c.Exec($"PRAGMA max_page_count={pages + 2}")); // the writer connection: a tiny "disk"

        WaldenException error = await Assert.ThrowsAsync<WaldenDiskFullException>(() =>
            db.WriteAsync(c => c.Exec("INSERT INTO log(producer, seq, body) WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 50) SELECT x, 0, zeroblob(4000) FROM n")));

        var inner = Assert.IsType<SqliteException>(error.InnerException);
        Assert.Equal(13, inner.SqliteErrorCode);
        Assert.Equal(13, error.SqliteErrorCode);
        var health = db.GetHealth();
        Assert.Equal(WaldenHealthStatus.Unhealthy, health.Status);
        Assert.Contains(health.Reasons, r => r.Contains("disk full", StringComparison.Ordinal));
        Assert.Equal(WaldenHealthStatus.Unhealthy, db.HealthState);
    }

    [Fact]
    public async Task WriteAsync_WhenTheApplicationsSqlIsWrong_StillGetsSqlitesOwnException()
    {
        await using var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"));

        // Not the environment's fault: the application's own error passes unchanged.
        await Assert.ThrowsAsync<SqliteException>(() => db.WriteAsync(c => c.Exec("INSERT INTO missing VALUES (1)")));
        Assert.Equal(WaldenHealthStatus.Healthy, db.HealthState);
    }

}
