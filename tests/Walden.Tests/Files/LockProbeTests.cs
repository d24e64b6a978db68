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
    public async Task FindHolder_SeesAnIdleRollbackJournalConnectionOfAnotherProcess_ThatHoldsNoLock()
    {
        var path = _dir.File("app.db");
        using var shell = new SqliteShell(path);
        await shell.RunAsync("PRAGMA journal_mode=DELETE; CREATE TABLE t(a); SELECT count(*) FROM t;");

        var finding = LockProbe.FindHolder(path);

        Assert.NotNull(finding);
        Assert.Equal(shell.ProcessId, finding.ProcessId);
        Assert.Equal("open", finding.Mode);
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
            await db.WriteAsync(c => c.Exec("CREATE TABLE t(a)"));
            Assert.True(await AnotherProcessFindsItLockedAsync(path), "Walden must hold the database's locks once open.");

            var finding = LockProbe.FindHolder(path);
            Assert.NotNull(finding);
            Assert.Equal(0, finding.ProcessId);
            var refused = Assert.Throws<WaldenDatabaseInUseException>(() => LockProbe.EnsureNotInUse(path, "Restoring"));
            Assert.Contains("this process", refused.Message, StringComparison.Ordinal);

            // Probing must not have touched the files: closing a descriptor of them would drop this process's POSIX locks.
            Assert.True(await AnotherProcessFindsItLockedAsync(path), "Probing dropped this process's locks on the database.");
            await db.WriteAsync(c => c.Exec("INSERT INTO t VALUES (1)"));
        }

        Assert.Null(LockProbe.FindHolder(path));
        Assert.False(await AnotherProcessFindsItLockedAsync(path));
    }

    /// <summary>
    /// Asks a separate sqlite3 process for the database exclusively. It is refused while any connection of this
    /// process holds the file (WAL connections keep a shared lock on it); nothing is written either way.
    /// </summary>
    private static async Task<bool> AnotherProcessFindsItLockedAsync(string path)
    {
        var info = new System.Diagnostics.ProcessStartInfo(SqliteShell.BinaryPath)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(path);
        info.ArgumentList.Add("PRAGMA locking_mode=EXCLUSIVE; SELECT count(*) FROM sqlite_schema;");
        using var process = System.Diagnostics.Process.Start(info)!;
        var error = await process.StandardError.ReadToEndAsync();
        await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        return error.Contains("database is locked", StringComparison.Ordinal);
    }
}
