using Walden.Tests.TestSupport;

namespace Walden.Tests.Cli;

/// <summary>
/// A killed writer's hot journal or -wal and -shm, while another process merely has the database open with no SQLite lock
/// (an idle rollback-journal connection, a file indexer, a script holding a descriptor). The read-only commands took any
/// process with the file open for a live SQLite user and read the file in place: SQLite then rolled the journal back into
/// the user's file (and deleted it), or rebuilt the -shm. A process with no lock is not using SQLite's locking, so the file
/// is now read on a private copy, as when nobody has it open, and the user's files are left as they were.
/// </summary>
public sealed class OpenDescriptorBesideLeftoversTests : IDisposable
{
    /// <summary>Opens the file as a plain descriptor (no SQLite, no lock), says "ready", and holds it until stdin closes.</summary>
    private const string HoldDescriptor = """
        import sys
        f = open(sys.argv[1], "rb")
        print("ready", flush=True)
        sys.stdin.readline()
        """;

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData("hot journal", "check")]
    [InlineData("hot journal", "info")]
    [InlineData("hot journal", "stats")]
    [InlineData("hot journal", "backup")]
    [InlineData("killed WAL", "check")]
    [InlineData("killed WAL", "backup")]
    public async Task ReadingCommands_BesideAProcessHoldingOnlyADescriptor_LeaveTheLeftoversAsTheyWere(string leftover, string command)
    {
        var folder = Directory.CreateDirectory(_dir.File("app")).FullName;
        var path = Path.Combine(folder, "app.db");
        await ForeignProgram.RunPythonAsync(leftover == "hot journal" ? ForeignProgram.KilledMidTransaction : ForeignProgram.KilledWithCommittedWal, path);
        Assert.True(File.Exists(path + (leftover == "hot journal" ? "-journal" : "-wal")));
        var before = ForeignProgram.Snapshot(folder); // nobody writes it: the holder only has a descriptor
        await using (var holder = await HoldingProcess.PythonAsync(HoldDescriptor, path))
        {
            var (exit, stdout, stderr) = command == "backup"
                ? await WaldenCli.RunAsync("backup", path, _dir.File("backups"))
                : await WaldenCli.RunAsync(command, path);

            Assert.True(exit == 0, $"{command}: exit {exit}: {stdout} {stderr}");
            Assert.Contains("private copy", stdout + stderr, StringComparison.Ordinal);
            Assert.Equal(before, ForeignProgram.Snapshot(folder)); // not rolled back, no -shm rebuilt or created
        }
    }
}
