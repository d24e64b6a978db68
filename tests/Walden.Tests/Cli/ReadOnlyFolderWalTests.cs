using System.Text.Json;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Cli;

/// <summary>
/// A WAL database in a folder this user cannot write (a read-only mount, an immutable folder), without its -shm: SQLite must
/// create the -shm (and the -wal) to open it, so it cannot. <c>walden checkpoint</c> answered SQLite's bare "unable to open
/// database file" with exit 1, and the doctor could not read it and told root to "run the doctor as a user who can read the
/// database". Now checkpoint names the read-only folder and the missing -shm (exit 2), the doctor reads the file on a private
/// copy as walden check does, and neither changes anything.
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

            if (killed)
            {
                Assert.True(checkpoint.ExitCode == 2, checkpoint.Stdout + checkpoint.Stderr);
                var error = Flat(checkpoint.Stderr);
                Assert.Contains("nothing was changed", error, StringComparison.Ordinal);
                Assert.Contains($"the folder '{folder}' is not writable", error, StringComparison.Ordinal);
                Assert.Contains("app.db-shm", error, StringComparison.Ordinal);
            }
            else
            {
                // closed: nothing waits, and nothing is opened (opening would need the -shm the folder cannot take)
                Assert.True(checkpoint.ExitCode == 0, checkpoint.Stdout + checkpoint.Stderr);
                Assert.Contains("no frame waits to be checkpointed", Flat(checkpoint.Stdout), StringComparison.Ordinal);
            }

            using var report = JsonDocument.Parse(doctor.Stdout);
            var finding = report.RootElement.GetProperty("findings").EnumerateArray()
                .Single(f => f.GetProperty("check").GetString() == "quick_check");
            Assert.Equal("ok", finding.GetProperty("severity").GetString());
            Assert.Contains("PRAGMA quick_check: ok.", finding.GetProperty("seen").GetString(), StringComparison.Ordinal);
            Assert.Contains("on a private copy", finding.GetProperty("seen").GetString(), StringComparison.Ordinal);
        }
        finally
        {
            Chattr.Run("-i", folder);
        }

        Assert.Equal(before, ForeignProgram.Snapshot(folder));
    }

    /// <summary>
    /// A closed WAL database whose file this user may not write (an immutable attribute here; a 0444 file of another user is the
    /// same), in a writable folder: SQLite opens it read-only and creates an empty -wal and -shm to read it, which a read-only
    /// connection leaves behind. Every command that only reads it left both beside the user's file, and later commands then
    /// called the -shm one a killed writer left. Now such a file is read on a private copy, and the folder stays as it was.
    /// </summary>
    [Theory]
    [InlineData("check")]
    [InlineData("info")]
    [InlineData("stats")]
    [InlineData("doctor")]
    [InlineData("backup")]
    [InlineData("recover")]
    public async Task ReadingCommands_OnAClosedWalDatabaseThisUserMayNotWrite_LeaveNoFileBesideIt(string command)
    {
        var folder = Path.Combine(_dir.Path, "app");
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, "app.db");
        await ForeignProgram.RunPythonAsync(ForeignProgram.ClosedWal, path);
        var before = ForeignProgram.Snapshot(folder);
        Assert.Single(before); // the database alone: SQLite removed its -wal and -shm at close
        Assert.True(Chattr.Run("+i", path), Chattr.Needed);
        (int ExitCode, string Stdout, string Stderr) result;
        try
        {
            result = command switch
            {
                "backup" => await WaldenCli.RunAsync("backup", path, _dir.File("backups")),
                "recover" => await WaldenCli.RunAsync("recover", path, "--output", _dir.File("recovered.db")),
                _ => await WaldenCli.RunAsync(command, path),
            };
        }
        finally
        {
            Chattr.Run("-i", path);
        }

        Assert.True(result.ExitCode == 0 || command == "doctor" && result.ExitCode == 1, result.Stdout + result.Stderr); // doctor: 1 for Python's SQLite
        Assert.Equal(before, ForeignProgram.Snapshot(folder));
    }

    /// <summary>
    /// checkpoint on a closed WAL database (no -wal, no -shm) opened it, so SQLite created a -wal and -shm owned by whoever ran
    /// it; run by a user who may not write the file (another user, or an immutable file here) they stayed, and the owner's
    /// program then failed with "attempt to write a readonly database". No frame can wait without a -wal: nothing is opened.
    /// </summary>
    [Fact]
    public async Task Checkpoint_OnAClosedWalDatabaseThisUserMayNotWrite_OpensNothing_AndLeavesNoFileBesideIt()
    {
        var folder = Directory.CreateDirectory(_dir.File("owned")).FullName;
        var path = Path.Combine(folder, "app.db");
        await ForeignProgram.RunPythonAsync(ForeignProgram.ClosedWal, path);
        var before = ForeignProgram.Snapshot(folder);
        Assert.True(Chattr.Run("+i", path), Chattr.Needed);
        (int ExitCode, string Stdout, string Stderr) checkpoint;
        try
        {
            checkpoint = await WaldenCli.RunAsync("checkpoint", path, "--mode", "truncate");
        }
        finally
        {
            Chattr.Run("-i", path);
        }

        Assert.True(checkpoint.ExitCode == 0, checkpoint.Stdout + checkpoint.Stderr);
        Assert.Contains("no frame waits to be checkpointed", Flat(checkpoint.Stdout), StringComparison.Ordinal);
        Assert.Equal(before, ForeignProgram.Snapshot(folder));
    }

    /// <summary>The error on one line: the console wraps long messages.</summary>
    private static string Flat(string output) => string.Join(' ', output.Split(['\n', '\r', ' '], StringSplitOptions.RemoveEmptyEntries));
}
