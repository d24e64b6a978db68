using Walden.Tests.TestSupport;
using Xunit.Abstractions;

namespace Walden.Tests.Cli;

/// <summary>
/// Every command's failure on a full disk leaves no file of Walden's own: in-place recovery's owner file (created, then its
/// process id could not be written) stayed beside the database, named as the cause of the failure. Each command runs on a
/// small tmpfs filled so that different steps fail: the first file it creates, or the copy midway.
/// </summary>
public sealed class FullDiskLeavesNothingTests : IDisposable
{
    private const string Rows = """
        import sqlite3, sys
        con = sqlite3.connect(sys.argv[1])
        con.execute("CREATE TABLE keep(x)")
        con.executemany("INSERT INTO keep VALUES (randomblob(1000))", [()] * 300)
        con.commit()
        con.close()
        """;

    private readonly TempDirectory _dir = new();
    private readonly ITestOutputHelper _output;

    public FullDiskLeavesNothingTests(ITestOutputHelper output) => _output = output;

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData("recover-in-place", 0)]
    [InlineData("recover-in-place", 100 * 1024)]
    [InlineData("recover", 0)]
    [InlineData("recover", 100 * 1024)]
    [InlineData("backup", 0)]
    [InlineData("backup", 100 * 1024)]
    public async Task ACommand_ThatRunsOutOfSpace_SaysTheDiskIsFull_AndLeavesOnlyTheFilesThatWereThere(string command, long bytesLeft)
    {
        using var mount = SmallMount.TryCreate(2, out var reason);
        if (mount is null)
        {
            _output.WriteLine(reason);
            return;
        }

        var path = mount.File("app.db");
        await ForeignProgram.RunPythonAsync(Rows, path);
        Directory.CreateDirectory(mount.File("out"));
        mount.Fill(bytesLeft);
        var before = ForeignProgram.Snapshot(mount.Path);
        var entriesBefore = Directory.GetFileSystemEntries(mount.Path, "*", SearchOption.AllDirectories).Order().ToList();
        string[] arguments = command switch
        {
            "recover-in-place" => ["recover", path, "--in-place"],
            "recover" => ["recover", path, "--output", mount.File("out/recovered.db")],
            _ => ["backup", path, mount.File("out/backups")],
        };

        var (exitCode, stdout, stderr) = await WaldenCli.RunAsync(arguments);

        var error = stderr.ReplaceLineEndings(" ");
        _output.WriteLine(stdout + error);
        Assert.True(exitCode == 2, $"exit {exitCode}: {stdout} {stderr}");
        Assert.Contains("full", error, StringComparison.Ordinal);
        Assert.DoesNotContain(".owner", error, StringComparison.Ordinal);
        Assert.Equal(entriesBefore, Directory.GetFileSystemEntries(mount.Path, "*", SearchOption.AllDirectories).Order().ToList());
        Assert.Equal(before, ForeignProgram.Snapshot(mount.Path));
    }
}
