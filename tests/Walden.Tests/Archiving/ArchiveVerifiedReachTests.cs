using Walden.Archiving;
using Walden.Tests.TestSupport;
using static Walden.Tests.Archiving.ArchiveChecks;

namespace Walden.Tests.Archiving;

/// <summary>
/// The newest segment of an archive deleted after a verification reached it (a sync tool, a retention script, a person
/// cleaning up, a copy made in part): nothing else in the archive shows it (the newest remaining segment's name is then the
/// end), so the furthest transaction a verification restored is kept in the verification records and the latest state must
/// reach it. Before, verify said "ok" through the earlier transaction and restore called that the latest state.
/// </summary>
public sealed class ArchiveVerifiedReachTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public ArchiveVerifiedReachTests() => Directory.CreateDirectory(Archive);

    public void Dispose() => _dir.Dispose();

    private string Archive => _dir.File("archive");

    [Fact]
    public async Task AfterTheNewestSegmentIsDeleted_VerifyRestoreAndStatusSayTransactionsAreGone_AndKeepSayingIt()
    {
        var options = Options(WaldenArchiveMode.Async, new WaldenFolderDestination(Archive));
        await using (var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), options))
        {
            await db.WriteAsync(c => c.Exec("CREATE TABLE t(a)"));
            for (var i = 1; i <= 3; i++)
            {
                await Insert(db, i);
                Assert.Null(db.Archiver!.ShipAll()); // one segment each
            }
        }

        var verified = await WaldenArchive.VerifyAsync(Archive);
        Assert.True(verified.Complete, verified.Problem);
        var newest = Directory.EnumerateFiles(Archive, "*.wseg", SearchOption.AllDirectories).Order(StringComparer.Ordinal).Last();
        File.Delete(newest);

        var again = await WaldenArchive.VerifyAsync(Archive);
        Assert.False(again.Complete, "verify said ok after transactions it had verified were deleted");
        Assert.Contains("are gone", again.Problem!, StringComparison.Ordinal);
        var third = await WaldenArchive.VerifyAsync(Archive); // the evidence outlives the failed record
        Assert.False(third.Complete, "the second verification after the loss passed");

        var restored = await WaldenArchive.RestoreAsync(Archive, _dir.File("restored.db"));
        Assert.False(restored.Complete, "restore called an archive short of what it held the latest state");
        Assert.True(restored.Txid < verified.Txid);
        Assert.Equal("ok", IntegrityOf(_dir.File("restored.db")));

        var (exit, stdout, stderr) = await WaldenCli.RunAsync("archive", "status", Archive);
        Assert.Equal(1, exit);
        Assert.Contains("are gone", stdout + stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AnArchiveThatGrewAfterItsVerification_VerifiesAndRestoresComplete()
    {
        var path = _dir.File("app.db");
        var options = Options(WaldenArchiveMode.Async, new WaldenFolderDestination(Archive));
        await using (var db = await WaldenDatabase.OpenAsync(path, options))
        {
            await db.WriteAsync(c => c.Exec("CREATE TABLE t(a)"));
            await Insert(db, 1);
        }

        Assert.True((await WaldenArchive.VerifyAsync(Archive)).Complete);
        await using (var db = await WaldenDatabase.OpenAsync(path, Options(WaldenArchiveMode.Async, new WaldenFolderDestination(Archive))))
        {
            await Insert(db, 2);
        }

        var result = await WaldenArchive.VerifyAsync(Archive);
        Assert.True(result.Complete, result.Problem);
        var restored = await WaldenArchive.RestoreAsync(Archive, _dir.File("restored.db"));
        Assert.True(restored.Complete, restored.Problem);
        Assert.Equal(2, Count(_dir.File("restored.db")));
    }

    private static string IntegrityOf(string path)
    {
        using var connection = Sql.OpenDirect(path, readOnly: true);
        return connection.Scalar<string>("PRAGMA integrity_check");
    }
}
