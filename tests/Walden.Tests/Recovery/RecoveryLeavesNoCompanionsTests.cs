using Walden.Recovery;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Recovery;

/// <summary>
/// Recovering a closed WAL database (no -wal, no -shm beside it, as Python, SQLite's shell and Walden leave one) leaves its
/// folder as it was plus the output: SQLite's read-only reads create an empty -wal and -shm, which SQLite itself removes
/// again; companions that were there before are left alone, and the input's bytes never change.
/// </summary>
public sealed class RecoveryLeavesNoCompanionsTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private string Input => _dir.File("app.db");

    private async Task MakeAsync(string kind)
    {
        if (kind == "Walden")
        {
            await using var db = await WaldenDatabase.OpenAsync(Input);
            await db.WriteAsync(c => c.Exec("CREATE TABLE a(x); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 500) INSERT INTO a SELECT i FROM n"));
            return;
        }

        await ForeignProgram.PythonAsync(
            "import sqlite3, sys\n" +
            "c = sqlite3.connect(sys.argv[1]); c.execute('pragma journal_mode=wal'); c.execute('create table a(x, y)')\n" +
            "c.executemany('insert into a values (?, ?)', [(i, 'x' * 300) for i in range(2000)]); c.commit(); c.close()\n",
            Input);
        if (kind == "Python, damaged")
        {
            ForeignProgram.ZeroPage(Input, 5, 4096);
        }
    }

    private string[] Folder() => [.. Directory.EnumerateFileSystemEntries(_dir.Path, "*", SearchOption.AllDirectories)
        .Select(p => Path.GetRelativePath(_dir.Path, p)).Order(StringComparer.Ordinal)];

    [Theory]
    [InlineData("Python")]
    [InlineData("Python, damaged")]
    [InlineData("Walden")]
    public async Task RecoverTo_OfAClosedWalDatabase_LeavesOnlyTheOutputBesideIt_AndTheInputUnchanged(string kind)
    {
        await MakeAsync(kind);
        Assert.False(File.Exists(Input + "-wal"));
        var bytes = await File.ReadAllBytesAsync(Input);
        var before = Folder();

        var report = await WaldenRecovery.RecoverToAsync(Input, _dir.File("recovered.db"));

        Assert.True(report.Usable, report.IntegrityCheck);
        Assert.Equal([.. before, "recovered.db"], Folder());
        Assert.Equal(bytes, await File.ReadAllBytesAsync(Input));
    }

    [Theory]
    [InlineData("Python")]
    [InlineData("Python, damaged")]
    public async Task RecoverInPlace_OfAClosedWalDatabase_QuarantinesTheOriginalWithoutEmptyCompanionsItNeverHad(string kind)
    {
        await MakeAsync(kind);
        var bytes = await File.ReadAllBytesAsync(Input);

        var report = await WaldenRecovery.RecoverInPlaceAsync(Input);

        Assert.True(report.Usable, report.IntegrityCheck);
        var kept = report.Quarantine!.Folder;
        Assert.Equal(["app.db", "quarantine.json"], Directory.EnumerateFiles(kept).Select(Path.GetFileName).Order(StringComparer.Ordinal));
        Assert.Equal(bytes, await File.ReadAllBytesAsync(Path.Combine(kept, "app.db")));
        Assert.False(File.Exists(Input + "-wal"));
        Assert.False(File.Exists(Input + "-shm"));
    }

    [Fact]
    public async Task RecoverTo_OfADatabaseWithEmptyCompanionsAlreadyBesideIt_LeavesThemAsTheyWere()
    {
        await MakeAsync("Python");
        // A read-only reader (here Python's) left an empty -wal and -shm: they are the user's, not Walden's to remove.
        await ForeignProgram.PythonAsync(
            "import sqlite3, sys\nc = sqlite3.connect('file:' + sys.argv[1] + '?mode=ro', uri=True); c.execute('select count(*) from a'); c.close()\n",
            Input);
        Assert.Equal(0, new FileInfo(Input + "-wal").Length);
        var before = Folder();

        var report = await WaldenRecovery.RecoverToAsync(Input, _dir.File("recovered.db"));

        Assert.True(report.Usable, report.IntegrityCheck);
        Assert.Equal([.. before, "recovered.db"], Folder());
    }

    [Fact]
    public async Task RecoverCommand_OfAClosedWalDatabase_LeavesOnlyTheOutputBesideIt()
    {
        await MakeAsync("Python");
        var before = Folder();

        var (exitCode, stdout, stderr) = await WaldenCli.RunAsync("recover", Input, "--output", _dir.File("recovered.db"));

        Assert.True(exitCode == 0, stdout + stderr);
        Assert.Equal([.. before, "recovered.db"], Folder());
    }
}
