using System.Text.Json;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Cli;

/// <summary>
/// A WAL database in a folder this user cannot write (a read-only mount, an immutable folder), without its -shm: SQLite must
/// create the -shm (and the -wal) to open it, so it cannot. <c>walden checkpoint</c> answered SQLite's bare "unable to open
/// database file" with exit 1, and the doctor told root to "run the doctor as a user who can read the database". Both now
/// name the read-only folder and the missing -shm, exit 2 (checkpoint), and change nothing.
/// </summary>
public sealed class ReadOnlyFolderWalTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData(false)] // closed cleanly: no -wal, no -shm
    [InlineData(true)] // killed with frames in the -wal, its -shm then lost (copied without it, a tmpfs -shm)
    public async Task CheckpointAndDoctor_OnAWalDatabaseInAReadOnlyFolder_NameTheFolder_AndChangeNothing(bool killed)
    {
        var folder = Path.Combine(_dir.Path, "ro");
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, "app.db");
        await ForeignProgram.RunPythonAsync(killed ? ForeignProgram.KilledInWalWithOneRow : ForeignProgram.ClosedWal, path);
        File.Delete(path + "-shm"); // the test's own file: no process has it
        Assert.Equal(killed, File.Exists(path + "-wal"));
        var before = ForeignProgram.Snapshot(folder);
        Assert.True(Chattr.Run("+i", folder), Chattr.Needed);
        try
        {
            var checkpoint = await WaldenCli.RunAsync("checkpoint", path);
            var doctor = await WaldenCli.RunAsync("doctor", path, "--json");

            Assert.True(checkpoint.ExitCode == 2, checkpoint.Stdout + checkpoint.Stderr);
            var error = Flat(checkpoint.Stderr);
            Assert.Contains("nothing was changed", error, StringComparison.Ordinal);
            Assert.Contains($"the folder '{folder}' is not writable", error, StringComparison.Ordinal);
            Assert.Contains("app.db-shm", error, StringComparison.Ordinal);
            Assert.Equal(!killed, error.Contains("no frame is waiting to be checkpointed", StringComparison.Ordinal));

            using var report = JsonDocument.Parse(doctor.Stdout);
            var finding = report.RootElement.GetProperty("findings").EnumerateArray()
                .Single(f => f.GetProperty("check").GetString() == "quick_check");
            Assert.Contains("SQLite could not read the database", finding.GetProperty("seen").GetString(), StringComparison.Ordinal);
            Assert.Contains($"the folder '{folder}' is not writable", finding.GetProperty("seen").GetString(), StringComparison.Ordinal);
            Assert.DoesNotContain("as a user who can read", finding.GetProperty("action").GetString(), StringComparison.Ordinal);
        }
        finally
        {
            Chattr.Run("-i", folder);
        }

        Assert.Equal(before, ForeignProgram.Snapshot(folder));
    }

    /// <summary>The error on one line: the console wraps long messages.</summary>
    private static string Flat(string output) => string.Join(' ', output.Split(['\n', '\r', ' '], StringSplitOptions.RemoveEmptyEntries));
}
