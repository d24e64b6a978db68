using Walden.Backup;
using Walden.Recovery;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Cli;

/// <summary>
/// A path no program can follow (a symbolic-link loop on a folder of it, or on the file itself; a chain of more links than
/// the kernel follows; a folder that is a link to nothing) is refused by every command, and by the engine, naming the
/// component where it fails: exit 2, nothing created or changed. Found by a breaker: .NET's File.Exists and
/// Directory.Exists read such a path as missing or as a file, so restore and recover said "'d/x' on its path is a file",
/// backup "the backup folder is a file", check "Too many levels of symbolic links ... Check the files involved".
/// </summary>
public sealed class LinkLoopPathTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    public static TheoryData<string> Kinds => ["self loop", "two-link loop", "chain too long", "dangling folder link"];

    /// <summary>Makes the broken component for <paramref name="kind"/> in the test folder; returns it and the words its refusal holds.</summary>
    private (string Component, string Says) Make(string kind)
    {
        switch (kind)
        {
            case "self loop":
                File.CreateSymbolicLink(_dir.File("loop"), "loop");
                return (_dir.File("loop"), "goes through a symbolic-link loop at");
            case "two-link loop":
                Directory.CreateDirectory(_dir.File("d"));
                File.CreateSymbolicLink(_dir.File("d/x"), "y");
                File.CreateSymbolicLink(_dir.File("d/y"), "x");
                return (_dir.File("d/x"), "goes through a symbolic-link loop at");
            case "chain too long":
                // Linux follows at most 40 links in one path (MAXSYMLINKS); each of these leads to a real folder in the end.
                var previous = Directory.CreateDirectory(_dir.File("real")).Name;
                for (var i = 1; i <= 45; i++)
                {
                    File.CreateSymbolicLink(_dir.File($"c{i}"), previous);
                    previous = $"c{i}";
                }

                return (_dir.File(previous), "goes through a symbolic-link loop at");
            default:
                File.CreateSymbolicLink(_dir.File("gone"), "no-such-folder");
                return (_dir.File("gone"), "a symbolic link to 'no-such-folder', which does not exist");
        }
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task EveryCommand_GivenAPathThroughABrokenLink_NamesTheComponent_ExitsTwo_AndCreatesNothing(string kind)
    {
        var (source, backup) = await SourceAndBackupAsync();
        var (component, says) = Make(kind);
        var inside = Path.Combine(component, "app.db");
        var before = Snapshot();

        foreach (var arguments in new[]
        {
            new[] { "check", inside }, ["check", component], ["info", inside], ["stats", inside], ["doctor", inside], ["checkpoint", inside],
            ["backup", inside, _dir.File("new-backups")], ["backup", source, component], ["backup", source, inside],
            ["backups", component], ["recover", inside, "--in-place"], ["recover", source, "--output", inside],
            ["recover", source, "--output", _dir.File("out.db"), "--schema-from", inside],
            ["restore", backup, inside], ["restore", inside, _dir.File("restored.db")], ["restore", component, _dir.File("restored.db")],
            ["archive", "status", component], ["archive", "verify", component],
            ["bench", "--dir", component, "--quick", "--scenarios", "full", "--producers", "1"], ["torture", "--dir", component, "--cycles", "1"],
            ["demo", "--db", inside, "--seconds", "1"],
        })
        {
            var (exit, stdout, stderr) = await WaldenCli.RunAsync(arguments);

            var what = string.Join(' ', arguments);
            Assert.True(exit == 2, $"{what}: exit {exit}: {stdout} {stderr}");
            Assert.True(stderr.Contains($"'{component}'", StringComparison.Ordinal) && stderr.Contains(says, StringComparison.Ordinal),
                $"{what}: {stderr}");
            Assert.True(stderr.Contains("Nothing was created or changed", StringComparison.Ordinal), $"{what}: {stderr}");
            Assert.True(before.SequenceEqual(Snapshot()), $"{what} changed the folder");
        }
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task TheEngine_GivenAPathThroughABrokenLink_RefusesItNamingTheComponent(string kind)
    {
        var (source, backup) = await SourceAndBackupAsync();
        var (component, says) = Make(kind);
        var inside = Path.Combine(component, "app.db");
        var before = Snapshot();

        foreach (var attempt in new Func<Task>[]
        {
            async () => await (await WaldenDatabase.OpenAsync(inside)).DisposeAsync(),
            () => WaldenBackups.BackupAsync(source, component),
            () => WaldenBackups.RestoreAsync(backup, inside),
            () => WaldenRecovery.RecoverToAsync(source, inside),
        })
        {
            var error = await Assert.ThrowsAsync<WaldenConfigurationException>(attempt);
            Assert.Contains($"'{component}'", error.Message, StringComparison.Ordinal);
            Assert.Contains(says, error.Message, StringComparison.Ordinal);
            Assert.True(before.SequenceEqual(Snapshot()), error.Message);
        }
    }

    private async Task<(string Source, string Backup)> SourceAndBackupAsync()
    {
        var source = _dir.File("src.db");
        await ForeignProgram.PythonAsync(
            "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute('CREATE TABLE t(x)'); c.execute('INSERT INTO t VALUES (1)'); " +
            "c.commit(); c.close()", source);
        var backup = (await WaldenBackups.BackupAsync(source, _dir.File("bk"))).Path;
        return (source, backup);
    }

    private List<string> Snapshot() => FolderListing.Of(_dir.Path);
}
