using System.Text.Json;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Cli;

/// <summary>
/// A file Walden writes for the user takes the permission bits of the file it stands for and is never wider:
/// restore to a new path (the source database's bits, from the manifest), recover --output and --in-place
/// (the input's), backup (owner-only, and never wider than the source).
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class PermissionTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead)] // 0644
    [InlineData(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.GroupWrite)] // 0660
    [InlineData(UnixFileMode.UserRead | UnixFileMode.UserWrite)] // 0600
    public async Task RestoreToANewPath_AndRecover_KeepTheSourcesPermissionBits_AndBackupIsNeverWider(UnixFileMode mode)
    {
        var path = _dir.File("app.db");
        await ForeignProgram.RunPythonAsync(ForeignProgram.ClosedWal, path);
        File.SetUnixFileMode(path, mode);

        var backup = await WaldenCli.RunAsync("backup", path, _dir.File("backups"), "--json");
        Assert.True(backup.ExitCode == 0, backup.Stderr);
        var stored = JsonDocument.Parse(backup.Stdout).RootElement.GetProperty("path").GetString()!;
        var restored = _dir.File("restored.db");
        var restore = await WaldenCli.RunAsync("restore", stored, restored);
        var recovered = _dir.File("recovered.db");
        var recover = await WaldenCli.RunAsync("recover", path, "--output", recovered);

        Assert.True(restore.ExitCode == 0, restore.Stderr);
        Assert.True(recover.ExitCode == 0, recover.Stderr);
        Assert.Equal(mode, File.GetUnixFileMode(restored));
        Assert.Equal(mode, File.GetUnixFileMode(recovered));
        Assert.Equal(mode & (UnixFileMode.UserRead | UnixFileMode.UserWrite), File.GetUnixFileMode(stored));
    }

    [Fact]
    public async Task RecoverInPlace_KeepsTheOriginalsOwnerOnlyBits()
    {
        var path = _dir.File("private.db");
        await ForeignProgram.RunPythonAsync(ForeignProgram.ClosedWal, path);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);

        var (exit, stdout, stderr) = await WaldenCli.RunAsync("recover", path, "--in-place");

        Assert.True(exit == 0, stdout + stderr);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
    }
}
