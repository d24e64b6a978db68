using System.Diagnostics;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Cli;

/// <summary>
/// A database file this process may write whose -wal or -shm it may not (another user's, or immutable): the failure names that
/// file and what to change, not only "the database cannot be written". Tests run as root, which chmod does not stop, so the
/// companion is made immutable (chattr +i), which binds root too.
/// </summary>
public sealed class ReadOnlyCompanionTests : IDisposable
{

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData("-wal")]
    [InlineData("-shm")]
    public async Task Writing_ThroughACompanionThisProcessMayNotWrite_NamesThatFile(string companion)
    {
        var path = _dir.File("app.db");
        await ForeignProgram.RunPythonAsync(ForeignProgram.KilledInWalWithOneRow, path);
        var file = path + companion;
        Assert.True(File.Exists(file), $"the killed writer left no {companion}");
        Assert.True(Chattr.Run("+i", file), Chattr.Needed);
        try
        {
            var (exitCode, stdout, stderr) = await WaldenCli.RunAsync("demo", "--db", path, "--writes", "1", "--producers", "1");

            var error = stderr.ReplaceLineEndings(" ");
            Assert.True(exitCode != 0, $"exit {exitCode}: {stdout} {error}");
            // Immutable binds root too: the file is named with that cause, not with a permission this user lacks.
            Assert.Contains($"'{file}' is immutable (chattr +i)", error, StringComparison.Ordinal);
            Assert.DoesNotContain("This user", error, StringComparison.Ordinal);
        }
        finally
        {
            Chattr.Run("-i", file);
        }
    }

}
