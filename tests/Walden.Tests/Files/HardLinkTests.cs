using Walden.Backup;
using Walden.Files;
using Walden.Recovery;
using Walden.Tests.Recovery;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Files;

/// <summary>
/// A database with a second name (a hard link) is never replaced under one name only: a restore or an in-place recovery
/// refuses before any work and changes nothing, since a program opening it by the other name would go on reading the old
/// file (sqlite.org/howtocorrupt.html 2.5).
/// </summary>
public sealed class HardLinkTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private (string Path, string Other) HardLinked(Action<string> create)
    {
        var path = _dir.File("app.db");
        create(path);
        var other = _dir.File("other-name.db");
        Assert.Equal(0, Walden.Native.Posix.Link(path, other));
        return (path, other);
    }

    [Fact]
    public async Task RestoringOverADatabaseWithASecondName_IsRefused_AndBothNamesKeepTheFile()
    {
        string backup;
        await using (var source = await WaldenDatabase.OpenAsync(_dir.File("source.db")))
        {
            await source.WriteAsync(c => c.Exec("CREATE TABLE t(a); INSERT INTO t VALUES ('from-backup');"));
            backup = (await source.BackupAsync(_dir.File("backups"))).Path;
        }

        var (path, other) = HardLinked(p =>
        {
            using var old = Sql.OpenDirect(p);
            old.Exec("CREATE TABLE t(a); INSERT INTO t VALUES ('old');");
        });
        var before = await File.ReadAllBytesAsync(path);

        var refused = await Assert.ThrowsAsync<WaldenConfigurationException>(() => WaldenBackups.RestoreAsync(backup, path));

        Assert.Contains("hard links", refused.Message, StringComparison.Ordinal);
        Assert.Equal(Walden.Files.FileId.Of(path), Walden.Files.FileId.Of(other)); // still one file under two names
        Assert.Equal(before, await File.ReadAllBytesAsync(path));
        Assert.False(Directory.Exists(_dir.File(Quarantine.FolderName)));
        Assert.Empty(Directory.EnumerateFiles(_dir.Path, "*.partial"));
    }

    [Fact]
    public async Task RecoveringInPlaceADatabaseWithASecondName_IsRefused_AndTheDamagedFileStaysUnderBothNames()
    {
        var (path, other) = HardLinked(p =>
        {
            DamagedDatabases.Create(p);
            DamagedDatabases.Damage(p, DamageKind.GarbagePages);
        });
        var before = await File.ReadAllBytesAsync(path);

        await Assert.ThrowsAsync<WaldenConfigurationException>(() => WaldenRecovery.RecoverInPlaceAsync(path));

        Assert.Equal(Walden.Files.FileId.Of(path), Walden.Files.FileId.Of(other));
        Assert.Equal(before, await File.ReadAllBytesAsync(path));
        Assert.False(Directory.Exists(_dir.File(Quarantine.FolderName)));
    }
}
