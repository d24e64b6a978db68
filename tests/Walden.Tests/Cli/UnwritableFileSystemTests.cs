using Walden.Tests.TestSupport;
using Xunit.Abstractions;

namespace Walden.Tests.Cli;

/// <summary>
/// A database nobody may write, root included, is named for the reason: a file system mounted read-only, or a file with the
/// immutable attribute. Neither is a permission this user lacks, so the messages must not send the user to chmod or to another
/// user ("may not write", "run as"), and a checkpoint (the one command that writes the database) is refused with exit 2 before
/// SQLite opens anything: it used to fail with a bare "I/O error" (exit 1) after SQLite had rebuilt the -shm.
/// </summary>
public sealed class UnwritableFileSystemTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly ITestOutputHelper _output;

    public UnwritableFileSystemTests(ITestOutputHelper output) => _output = output;

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData("killedwal", "checkpoint")]
    [InlineData("killedwal", "doctor")]
    [InlineData("closedwal", "doctor")]
    [InlineData("hotjournal", "doctor")]
    [InlineData("killedwal", "recover-in-place")]
    public async Task ACommand_OnAReadOnlyMount_SaysTheMountIsReadOnly_NotThatThisUserMayNotWrite(string input, string command)
    {
        using var mount = SmallMount.TryCreate(2, out var reason);
        if (mount is null)
        {
            _output.WriteLine(reason);
            return;
        }

        var path = mount.File("app.db");
        await ForeignProgram.RunPythonAsync(Script(input), path);
        mount.MakeReadOnly();
        var before = ForeignProgram.Snapshot(mount.Path);

        var (exitCode, stdout, stderr) = await WaldenCli.RunAsync(
            command == "recover-in-place" ? ["recover", path, "--in-place"] : [command, path]);

        var all = (stdout + " " + stderr).ReplaceLineEndings(" ");
        _output.WriteLine(all);
        Assert.Contains("mounted read-only", all, StringComparison.Ordinal);
        Assert.DoesNotContain("may not write", all, StringComparison.Ordinal);
        Assert.DoesNotContain("as the user", all, StringComparison.Ordinal);
        Assert.DoesNotContain("run as its owner", all, StringComparison.Ordinal);
        Assert.True(command == "doctor" || exitCode == 2, $"exit {exitCode}: {all}");
        Assert.Equal(before, ForeignProgram.Snapshot(mount.Path));
    }

    [Theory]
    [InlineData("killedwal")]
    [InlineData("committedwal")]
    public async Task Checkpoint_OfAnImmutableDatabase_SaysItIsImmutable_ExitsTwo_AndChangesNothing(string input)
    {
        using var mount = SmallMount.TryCreate(2, out var reason);
        if (mount is null)
        {
            _output.WriteLine(reason);
            return;
        }

        var path = mount.File("app.db");
        await ForeignProgram.RunPythonAsync(Script(input), path);
        Assert.True(File.Exists(path + "-wal"), "python left no -wal");
        var before = ForeignProgram.Snapshot(mount.Path);
        Assert.True(Chattr.Run("+i", path), Chattr.Needed);
        try
        {
            var (exitCode, stdout, stderr) = await WaldenCli.RunAsync("checkpoint", path);

            var all = (stdout + " " + stderr).ReplaceLineEndings(" ");
            _output.WriteLine(all);
            Assert.True(exitCode == 2, $"exit {exitCode}: {all}");
            Assert.Contains("is immutable", all, StringComparison.Ordinal);
            Assert.Contains("chattr -i", all, StringComparison.Ordinal);
            Assert.DoesNotContain("I/O error", all, StringComparison.Ordinal);
        }
        finally
        {
            Chattr.Run("-i", path);
        }

        Assert.Equal(before, ForeignProgram.Snapshot(mount.Path));
    }

    private static string Script(string input) => input switch
    {
        "killedwal" => ForeignProgram.KilledInWalWithOneRow,
        "committedwal" => ForeignProgram.KilledWithCommittedWal,
        "closedwal" => ForeignProgram.ClosedWal,
        _ => ForeignProgram.KilledMidTransaction,
    };
}
