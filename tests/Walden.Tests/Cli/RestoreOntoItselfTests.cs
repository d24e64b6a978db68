using Walden.Tests.TestSupport;

namespace Walden.Tests.Cli;

/// <summary>
/// Restoring a backup onto itself (the same path, or a symbolic link to it) is refused, exit 2, nothing changed. Found by a
/// breaker: it succeeded, moved the backup into bk/walden-quarantine/ and left a copy of it in its place.
/// </summary>
public sealed class RestoreOntoItselfTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData("the same path")]
    [InlineData("a symbolic link to it")]
    [InlineData("a relative path to it")]
    public async Task Restore_OfABackupOntoItself_IsRefused_AndNothingChanges(string how)
    {
        var source = _dir.File("src.db");
        using (var connection = Sql.OpenDirect(source))
        {
            connection.Exec("CREATE TABLE t(a); INSERT INTO t VALUES (1)");
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        var backups = _dir.File("bk");
        Assert.Equal(0, (await WaldenCli.RunAsync("backup", source, backups)).ExitCode);
        var backup = Directory.GetFiles(backups, "*.db").Single();
        var target = how switch
        {
            "the same path" => backup,
            "a symbolic link to it" => File.CreateSymbolicLink(_dir.File("blink.db"), backup).FullName,
            _ => Path.Combine(backups, "..", "bk", Path.GetFileName(backup)),
        };
        var before = Snapshot();

        var (exit, stdout, stderr) = await WaldenCli.RunAsync("restore", backup, target);

        Assert.True(exit == 2, stdout + stderr);
        Assert.Contains($"is the backup '{backup}' itself", stderr, StringComparison.Ordinal);
        Assert.Contains("Nothing was changed", stderr, StringComparison.Ordinal);
        Assert.Equal(before, Snapshot());
        Assert.False(Directory.Exists(Path.Combine(backups, "walden-quarantine")));
    }

    private string Snapshot() => string.Join("\n", Directory.EnumerateFileSystemEntries(_dir.Path, "*", SearchOption.AllDirectories)
        .Order(StringComparer.Ordinal)
        .Select(path => new FileInfo(path).LinkTarget is { } link ? $"{path} -> {link}"
            : File.Exists(path) ? $"{path} {new FileInfo(path).Length} {File.GetLastWriteTimeUtc(path).Ticks}" : path));
}
