using System.Diagnostics;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Cli;

/// <summary>
/// A named pipe, device or socket where a database belongs (given, or reached through a symbolic link) is refused before anything
/// opens it: exit 2, "not a regular file", nothing changed. Found by a breaker: opening a FIFO for reading blocks, so check, info,
/// doctor, backup and restore hung forever; a zero device was "healthy" and backed up as 0 tables; and restore onto a link to a
/// character device moved the device node into walden-quarantine/ (with app.db -> /dev/null it would move /dev/null itself).
/// The nodes are made in the test's own folder, never /dev's.
/// </summary>
public sealed class SpecialFileTests : IDisposable
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(90);
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    public static TheoryData<string> Kinds => ["fifo", "zero device", "null device"];

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task EveryCommand_GivenASpecialFileOrALinkToOne_RefusesIt_WithoutHanging_AndChangesNothing(string kind)
    {
        var node = MakeNode(_dir.File("node.db"), kind);
        if (node is null)
        {
            return; // mknod needs root; the FIFO case runs everywhere
        }

        var link = _dir.File("app.db");
        File.CreateSymbolicLink(link, node);
        var backup = await TakeBackupAsync();
        var before = Snapshot();

        foreach (var path in new[] { node, link })
        {
            foreach (var arguments in new[]
            {
                new[] { "check", path }, ["check", path, "--full"], ["info", path], ["stats", path], ["doctor", path], ["checkpoint", path],
                ["backup", path, _dir.File("new-backups")], ["recover", path, "--output", _dir.File("out.db")], ["recover", path, "--in-place"],
                ["restore", backup, path], ["restore", path, _dir.File("restored.db")],
            })
            {
                var (exit, stdout, stderr) = await RunWithinLimitAsync(arguments);

                var what = string.Join(' ', arguments);
                Assert.True(exit == 2, $"{what}: exit {exit}: {stdout} {stderr}");
                Assert.True(stderr.Contains("not a regular file", StringComparison.Ordinal), $"{what}: {stdout} {stderr}");
                Assert.Contains("Nothing was changed", stderr, StringComparison.Ordinal);
                Assert.True(before == Snapshot(), $"{what} changed the folder");
            }
        }
    }

    [Fact]
    public async Task Restore_OntoALinkToADevice_NamesTheLinkAndTheDevice_AndNeverMovesTheNode()
    {
        var node = MakeNode(_dir.File("mynull"), "null device");
        if (node is null)
        {
            return; // mknod needs root
        }

        var link = _dir.File("app.db");
        File.CreateSymbolicLink(link, node);
        var backup = await TakeBackupAsync();

        var (exit, stdout, stderr) = await RunWithinLimitAsync("restore", backup, link);

        Assert.True(exit == 2, stdout + stderr);
        Assert.Contains($"'{link}' is a symbolic link to '{node}', which is a character device, not a regular file", stderr, StringComparison.Ordinal);
        Assert.Equal("character special file", Stat(node));
        Assert.False(Directory.Exists(_dir.File("walden-quarantine")), "the device node was put in quarantine");
    }

    [Fact]
    public async Task TheEngine_OpeningANamedPipe_RefusesIt_InsteadOfBlocking()
    {
        var fifo = MakeNode(_dir.File("pipe.db"), "fifo")!;

        var open = Task.Run(() => WaldenDatabase.OpenReadOnlyAsync(fifo));
        var write = Task.Run(() => WaldenDatabase.OpenAsync(fifo));

        Assert.Same(open, await Task.WhenAny(open, Task.Delay(Limit)));
        Assert.Same(write, await Task.WhenAny(write, Task.Delay(Limit)));
        var error = await Assert.ThrowsAsync<WaldenConfigurationException>(() => open);
        await Assert.ThrowsAsync<WaldenConfigurationException>(() => write);
        Assert.Contains("is a FIFO (named pipe), not a regular file", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Quarantine_NeverMovesANamedPipe()
    {
        var fifo = MakeNode(_dir.File("pipe.db"), "fifo")!;
        var replacement = _dir.File("new.db");
        File.WriteAllBytes(replacement, new byte[512]);

        // On a thread of its own, so that a regression that opens the pipe (and blocks) fails here instead of hanging the run.
        var swap = Task.Run(() => Walden.Files.Quarantine.Swap(fifo, replacement, "test", TimeProvider.System));
        var move = Task.Run(() => Walden.Files.Quarantine.Move(fifo, "test", TimeProvider.System));
        Assert.Same(swap, await Task.WhenAny(swap, Task.Delay(Limit)));
        Assert.Same(move, await Task.WhenAny(move, Task.Delay(Limit)));
        await Assert.ThrowsAsync<WaldenConfigurationException>(() => swap);
        await Assert.ThrowsAsync<WaldenConfigurationException>(() => move);

        Assert.Equal("fifo", Stat(fifo));
        Assert.False(Directory.Exists(_dir.File("walden-quarantine")));
    }

    private async Task<string> TakeBackupAsync()
    {
        var source = _dir.File("src.db");
        using (var connection = Sql.OpenDirect(source))
        {
            connection.Exec("CREATE TABLE t(a); INSERT INTO t VALUES (1)");
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        var backups = _dir.File("bk");
        var (exit, stdout, stderr) = await WaldenCli.RunAsync("backup", source, backups);
        Assert.True(exit == 0, stdout + stderr);
        return Directory.GetFiles(backups, "*.db").Single();
    }

    /// <summary>Runs the CLI, killing it after <see cref="Limit"/>: a regression that blocks on the pipe fails instead of hanging.</summary>
    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunWithinLimitAsync(params string[] arguments)
    {
        using var process = WaldenCli.Start(arguments);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var limit = new CancellationTokenSource(Limit);
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"walden {string.Join(' ', arguments)} hung (killed after {Limit.TotalSeconds} s)");
        }

        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>A FIFO, or a character device like /dev/zero (1,5) or /dev/null (1,3); null when mknod is not allowed (not root).</summary>
    private static string? MakeNode(string path, string kind)
    {
        var (program, arguments) = kind switch
        {
            "fifo" => ("mkfifo", new[] { path }),
            "zero device" => ("mknod", new[] { path, "c", "1", "5" }),
            _ => ("mknod", new[] { path, "c", "1", "3" }),
        };
        using var make = Process.Start(new ProcessStartInfo(program, arguments) { RedirectStandardError = true })!;
        make.WaitForExit();
        Assert.True(make.ExitCode == 0 || kind != "fifo", make.StandardError.ReadToEnd());
        return make.ExitCode == 0 ? path : null;
    }

    private static string Stat(string path)
    {
        using var stat = Process.Start(new ProcessStartInfo("stat", ["-c", "%F", path]) { RedirectStandardOutput = true })!;
        var kind = stat.StandardOutput.ReadToEnd().Trim();
        stat.WaitForExit();
        return kind;
    }

    /// <summary>Every entry with its kind; regular files with their size and hash (a device or pipe is never read).</summary>
    private string Snapshot() => string.Join("\n", Directory.EnumerateFileSystemEntries(_dir.Path, "*", SearchOption.AllDirectories)
        .Order(StringComparer.Ordinal)
        .Select(path => new FileInfo(path).LinkTarget is { } target ? $"{path} -> {target}"
            : Walden.Files.FileKind.Special(path) is { } special ? $"{path} {special}"
            : File.Exists(path) ? $"{path} {new FileInfo(path).Length} {Hash(path)}" : path));

    private static string Hash(string path) => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(path)));
}
