using Walden.Tests.TestSupport;

namespace Walden.Tests.Cli;

/// <summary>
/// backup, recover --output and restore into a folder this user may not write (an immutable folder here, which the message
/// names as such; a read-only mount is named as one, another user's folder by its permissions): each said "permission denied (Access to the path '.../x.db.walden-partial.owner' is
/// denied)", naming Walden's internal owner or .partial file rather than the folder. Now each names the folder, says nothing
/// was changed, exits 2, and the folder is as it was.
/// </summary>
public sealed class ReadOnlyDestinationTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task BackupRecoverAndRestore_IntoAFolderThisUserMayNotWrite_NameTheFolder_AndChangeNothing()
    {
        var source = _dir.File("source.db");
        await ForeignProgram.RunPythonAsync(ForeignProgram.ClosedWal, source);
        var backup = await WaldenCli.RunAsync("backup", source, _dir.File("backups"));
        Assert.True(backup.ExitCode == 0, backup.Stdout + backup.Stderr);
        var copy = Directory.EnumerateFiles(_dir.File("backups"), "*.db").Single();

        var folder = Directory.CreateDirectory(_dir.File("locked")).FullName;
        var existing = Path.Combine(folder, "app.db");
        await ForeignProgram.RunPythonAsync(ForeignProgram.ClosedWal, existing);
        var before = ForeignProgram.Snapshot(folder);
        Assert.True(Chattr.Run("+i", folder), Chattr.Needed);
        try
        {
            foreach (var arguments in new[]
            {
                new[] { "backup", source, folder },
                ["recover", source, "--output", Path.Combine(folder, "recovered.db")],
                ["restore", copy, existing],
                ["restore", copy, Path.Combine(folder, "new.db")],
            })
            {
                var (exit, stdout, stderr) = await WaldenCli.RunAsync(arguments);

                var what = string.Join(' ', arguments);
                Assert.True(exit == 2, $"{what}: exit {exit}: {stdout} {stderr}");
                // The folder is named with its true cause: immutable binds every user, so no permission is blamed.
                Assert.Contains($"into '{folder}', and nothing can be created there: '{folder}' is immutable", stderr, StringComparison.Ordinal);
                Assert.DoesNotContain("this user", stderr, StringComparison.Ordinal);
                Assert.Contains("Nothing was changed", stderr, StringComparison.Ordinal);
                Assert.DoesNotContain(".owner", stderr, StringComparison.Ordinal);
                Assert.DoesNotContain(".partial", stderr, StringComparison.Ordinal);
            }
        }
        finally
        {
            Chattr.Run("-i", folder);
        }

        Assert.Equal(before, ForeignProgram.Snapshot(folder));
    }
}
