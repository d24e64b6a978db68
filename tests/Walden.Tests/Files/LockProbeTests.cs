using Walden.Files;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Files;

public sealed class LockProbeTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task FindHolder_SeesAnIdleWalConnectionOfAnotherProcess_AndNamesIt()
    {
        var path = _dir.File("app.db");
        using var shell = new SqliteShell(path);
        await shell.RunAsync("PRAGMA journal_mode=WAL; CREATE TABLE t(a);");

        var finding = LockProbe.FindHolder(path);

        Assert.NotNull(finding);
        Assert.Equal(shell.ProcessId, finding.ProcessId);
        Assert.Equal("read", finding.Mode);
        Assert.Contains("connection marker", finding.Lock, StringComparison.Ordinal);
    }

    [Fact]
    public async Task FindHolder_SeesAWriteTransactionOfAnotherProcess()
    {
        var path = _dir.File("app.db");
        using var shell = new SqliteShell(path);
        await shell.RunAsync("PRAGMA journal_mode=WAL; CREATE TABLE t(a); BEGIN IMMEDIATE; INSERT INTO t VALUES (1);");

        var finding = LockProbe.FindHolder(path);

        Assert.NotNull(finding);
        Assert.Equal("write", finding.Mode);
        Assert.Contains("WAL write lock", finding.Lock, StringComparison.Ordinal);
    }

    [Fact]
    public async Task FindHolder_FindsNothingOnceTheOtherProcessHasClosedIt()
    {
        var path = _dir.File("app.db");
        using (var shell = new SqliteShell(path))
        {
            await shell.RunAsync("PRAGMA journal_mode=WAL; CREATE TABLE t(a);");
        }

        Assert.Null(LockProbe.FindHolder(path));
    }

    [Fact]
    public async Task FindHolder_ReportsADatabaseThisProcessHasOpen_WithoutTouchingItsFiles()
    {
        var path = _dir.File("app.db");
        await using (var db = await WaldenDatabase.OpenAsync(path))
        {
            var finding = LockProbe.FindHolder(path);
            Assert.NotNull(finding);
            Assert.Equal(0, finding.ProcessId);
            var refused = Assert.Throws<WaldenDatabaseInUseException>(() => LockProbe.EnsureNotInUse(path, "Restoring"));
            Assert.Contains("this process", refused.Message, StringComparison.Ordinal);
        }

        Assert.Null(LockProbe.FindHolder(path));
    }
}
