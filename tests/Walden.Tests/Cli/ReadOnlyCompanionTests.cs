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
    /// <summary>A WAL database whose writer was killed: its -wal and -shm stay beside it.</summary>
    private const string KilledWriter = """
        import sqlite3, sys, os
        con = sqlite3.connect(sys.argv[1], isolation_level=None)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA wal_autocheckpoint=0")
        con.execute("CREATE TABLE t(a)")
        con.execute("INSERT INTO t VALUES (1)")
        os.kill(os.getpid(), 9)
        """;

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData("-wal")]
    [InlineData("-shm")]
    public async Task Writing_ThroughACompanionThisProcessMayNotWrite_NamesThatFile(string companion)
    {
        var path = _dir.File("app.db");
        await ForeignProgram.RunPythonAsync(KilledWriter, path);
        var file = path + companion;
        Assert.True(File.Exists(file), $"the killed writer left no {companion}");
        Assert.True(Chattr("+i", file), "chattr +i failed: this test needs a file system with the immutable attribute (ext4, xfs, btrfs).");
        try
        {
            var (exitCode, stdout, stderr) = await WaldenCli.RunAsync("demo", "--db", path, "--writes", "1", "--producers", "1");

            var error = stderr.ReplaceLineEndings(" ");
            Assert.True(exitCode != 0, $"exit {exitCode}: {stdout} {error}");
            Assert.Contains($"may not read and write '{file}'", error, StringComparison.Ordinal);
        }
        finally
        {
            Chattr("-i", file);
        }
    }

    private static bool Chattr(string flag, string path)
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo("chattr", [flag, path]) { RedirectStandardError = true, UseShellExecute = false })!;
            process.WaitForExit();
            return process.ExitCode == 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false; // no chattr
        }
    }
}
