using Walden.Backup;
using Walden.Diagnostics.Doctor;
using Walden.Recovery;
using Walden.Tests.Recovery;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Files;

/// <summary>
/// A restore or in-place recovery run as root over a service's database (owned by the service's user, mode 600) gives the
/// new file the old one's owner and group, not root's: otherwise the service could no longer open its own database.
/// The tests run as root, as CI does; elsewhere chown to another user is not possible and they assert nothing.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class FileOwnerKeptTests : IDisposable
{
    private const uint Nobody = 65534;
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static bool Root => Environment.UserName == "root";

    private static void GiveToNobody(string path)
    {
        Assert.Equal(0, Walden.Native.Posix.Chown(path, Nobody, Nobody));
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    [Fact]
    public async Task RestoringAsRoot_OverAServicesDatabase_KeepsItsOwner()
    {
        if (!Root)
        {
            return;
        }

        var path = _dir.File("app.db");
        using (var connection = Sql.OpenDirect(path))
        {
            connection.Exec("CREATE TABLE t(a); INSERT INTO t VALUES (1)");
        }

        var backup = await WaldenBackups.BackupAsync(path, _dir.File("backups"));
        GiveToNobody(path);

        await WaldenBackups.RestoreAsync(backup.Path, path);

        var owner = FileOwner.Of(path)!.Value;
        Assert.Equal((Nobody, Nobody), (owner.UserId, owner.GroupId));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
    }

    [Fact]
    public async Task RecoveringInPlaceAsRoot_AServicesDatabase_KeepsItsOwner()
    {
        if (!Root)
        {
            return;
        }

        var path = _dir.File("app.db");
        DamagedDatabases.Create(path);
        DamagedDatabases.Damage(path, DamageKind.GarbagePages);
        GiveToNobody(path);

        await WaldenRecovery.RecoverInPlaceAsync(path);

        var owner = FileOwner.Of(path)!.Value;
        Assert.Equal((Nobody, Nobody), (owner.UserId, owner.GroupId));
    }
}
