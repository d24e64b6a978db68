using Walden.Tests.TestSupport;
using Xunit.Abstractions;

namespace Walden.Tests.Cli;

/// <summary>
/// A command that only reads must neither fail with a misleading error nor leave files beside the database when its file system
/// is full. A closed WAL database (as Python leaves one: WAL in the header, no -wal, no -shm) cannot be read in place there:
/// SQLite would have to create a -wal and a -shm, fails to grow the -shm (SQLITE_IOERR_SHMSIZE, once blamed on a failing disk),
/// and leaves a 3-byte -shm and an empty -wal that the next command took for a killed writer's. A hot rollback journal is read
/// on a private copy anyway. Both are read in the temporary folder, which has room; the full mount is left as it was found.
/// </summary>
public sealed class FullFileSystemReadTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly ITestOutputHelper _output;

    public FullFileSystemReadTests(ITestOutputHelper output) => _output = output;

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData("closedwal", "check")]
    [InlineData("closedwal", "info")]
    [InlineData("closedwal", "stats")]
    [InlineData("closedwal", "doctor")]
    [InlineData("closedwal", "backup")]
    [InlineData("closedwal", "recover")]
    [InlineData("hotjournal", "check")]
    [InlineData("hotjournal", "info")]
    [InlineData("hotjournal", "stats")]
    [InlineData("hotjournal", "doctor")]
    [InlineData("hotjournal", "backup")]
    [InlineData("hotjournal", "recover")]
    public async Task AReadingCommand_OnAFullFileSystem_ReadsTheDatabase_AndLeavesNoFileBesideIt(string input, string command)
    {
        using var mount = SmallMount.TryCreate(2, out var reason);
        if (mount is null)
        {
            _output.WriteLine(reason);
            return;
        }

        var path = mount.File("app.db");
        await ForeignProgram.RunPythonAsync(input == "closedwal" ? ForeignProgram.ClosedWal : ForeignProgram.KilledMidTransaction, path);
        Assert.True(input != "closedwal" || !File.Exists(path + "-wal") && !File.Exists(path + "-shm"), "python left companions");
        Assert.True(input != "hotjournal" || File.Exists(path + "-journal"), "python left no journal");
        mount.Fill(0);
        var before = ForeignProgram.Snapshot(mount.Path);
        string[] arguments = command switch
        {
            "backup" => ["backup", path, _dir.File("backups")],
            "recover" => ["recover", path, "--output", _dir.File("recovered.db")],
            _ => [command, path],
        };

        var (exitCode, stdout, stderr) = await WaldenCli.RunAsync(arguments);

        var all = (stdout + " " + stderr).ReplaceLineEndings(" ");
        _output.WriteLine(all);
        Assert.DoesNotContain("I/O error", all, StringComparison.Ordinal);
        Assert.DoesNotContain("disk I/O", all, StringComparison.Ordinal);
        // The doctor warns about the full disk itself (exit 1); every other command reads the database and succeeds.
        Assert.True(command == "doctor" ? exitCode is 0 or 1 : exitCode == 0, $"exit {exitCode}: {all}");
        Assert.Equal(before, ForeignProgram.Snapshot(mount.Path));
    }
}
