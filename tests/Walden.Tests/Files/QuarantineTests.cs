using Walden.Files;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Files;

public sealed class QuarantineTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    /// <summary>A database whose last rows live only in its -wal, left by a program killed with SIGKILL.</summary>
    private async Task<string> CrashedDatabaseWithHotWalAsync()
    {
        var path = _dir.File("app.db");
        var shell = new SqliteShell(path);
        await shell.RunAsync("PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0; CREATE TABLE t(a); INSERT INTO t VALUES ('original');");
        shell.Kill();
        shell.Dispose();
        Assert.True(new FileInfo(path + "-wal").Length > 0);
        return path;
    }

    private string Replacement(string value)
    {
        var path = _dir.File("replacement.db");
        using var connection = Sql.OpenDirect(path);
        connection.Exec($"CREATE TABLE t(a); INSERT INTO t VALUES ('{value}');");
        return path;
    }

    [Fact]
    public async Task Swap_PutsTheReplacementInPlaceAndKeepsTheOriginalWithItsWalInQuarantine()
    {
        var path = await CrashedDatabaseWithHotWalAsync();
        var replacement = Replacement("replacement");

        var quarantine = Quarantine.Swap(path, replacement, "test swap", TimeProvider.System);

        Assert.NotNull(quarantine);
        Assert.False(File.Exists(replacement));
        Assert.False(File.Exists(path + "-wal")); // the old WAL must not be replayed into the replacement
        using (var swapped = Sql.OpenDirect(path))
        {
            Assert.Equal("replacement", swapped.Scalar<string>("SELECT a FROM t"));
        }

        // The original, with the rows that lived only in its WAL, is intact in quarantine.
        var kept = Path.Combine(quarantine.Folder, "app.db");
        Assert.True(File.Exists(kept + "-wal"));
        Assert.True(File.Exists(Path.Combine(quarantine.Folder, "quarantine.json")));
        using var original = Sql.OpenDirect(kept);
        Assert.Equal("original", original.Scalar<string>("SELECT a FROM t"));
    }

    [Fact]
    public async Task Swap_WhileAnotherProcessHasTheDatabaseOpen_RefusesAndChangesNothing()
    {
        var path = _dir.File("app.db");
        using var shell = new SqliteShell(path);
        await shell.RunAsync("PRAGMA journal_mode=WAL; CREATE TABLE t(a); INSERT INTO t VALUES ('original');");
        var replacement = Replacement("replacement");

        var refused = Assert.Throws<WaldenDatabaseInUseException>(() => Quarantine.Swap(path, replacement, "test", TimeProvider.System));

        Assert.Equal(shell.ProcessId, refused.ProcessId);
        Assert.Contains($"process {shell.ProcessId}", refused.Message, StringComparison.Ordinal);
        Assert.True(File.Exists(replacement));
        Assert.False(Directory.Exists(_dir.File(Quarantine.FolderName)));
        Assert.Equal("original", (await shell.RunAsync("SELECT a FROM t;")).Trim());
    }

    [Fact]
    public async Task Move_PutsTheDatabaseAndCompanionsAsideNeverDeletingThem()
    {
        var path = await CrashedDatabaseWithHotWalAsync();
        var walBytes = new FileInfo(path + "-wal").Length;

        var quarantine = Quarantine.Move(path, "damaged", TimeProvider.System);

        Assert.False(File.Exists(path));
        Assert.Contains(path, quarantine.Files);
        Assert.Contains(path + "-wal", quarantine.Files);
        Assert.Equal(walBytes, new FileInfo(Path.Combine(quarantine.Folder, "app.db-wal")).Length);
        Assert.Contains("damaged", await File.ReadAllTextAsync(Path.Combine(quarantine.Folder, "quarantine.json")), StringComparison.Ordinal);
    }
}
