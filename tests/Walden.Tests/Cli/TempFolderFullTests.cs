using Walden.Tests.TestSupport;
using Xunit.Abstractions;

namespace Walden.Tests.Cli;

/// <summary>
/// A full temporary folder (TMPDIR / SQLITE_TMPDIR on a 1 MB tmpfs) while a command works: the error names that folder and
/// how to point it elsewhere, never the output's disk or the backup folder (which have room), and the user's files stay as
/// they were. Two kinds of temporary files fill it: Walden's private copy of a file a killed writer left (a -wal to recover),
/// and SQLite's own (the recover extension's scratch database).
/// </summary>
public sealed class TempFolderFullTests : IDisposable
{
    /// <summary>A WAL database a killed writer left with its -wal (about 4 MB), which every command reads on a private copy.</summary>
    private const string KilledWithWal = """
        import sqlite3, sys, os
        con = sqlite3.connect(sys.argv[1], isolation_level=None)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA wal_autocheckpoint=0")
        con.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)")
        con.execute("INSERT INTO t(v) SELECT randomblob(1000) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<4000) SELECT x FROM c)")
        os.kill(os.getpid(), 9)
        """;

    /// <summary>A closed rollback-journal database of about 10 MB: nothing to settle, read in place.</summary>
    private const string Closed = """
        import sqlite3, sys
        con = sqlite3.connect(sys.argv[1], isolation_level=None)
        con.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT, v BLOB)")
        con.execute("INSERT INTO t(a, v) SELECT hex(randomblob(20)), randomblob(100) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<50000) SELECT x FROM c)")
        con.execute("CREATE INDEX ta ON t(a)")
        con.close()
        """;

    /// <summary>The same closed database in WAL mode (no -wal, no -shm: as Python leaves one): read in place, SQLite creates both.</summary>
    private const string ClosedWal = """
        import sqlite3, sys
        con = sqlite3.connect(sys.argv[1], isolation_level=None)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, a TEXT, v BLOB)")
        con.execute("INSERT INTO t(a, v) SELECT hex(randomblob(20)), randomblob(100) FROM (WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM c WHERE x<50000) SELECT x FROM c)")
        con.execute("CREATE INDEX ta ON t(a)")
        con.close()
        """;

    private readonly TempDirectory _dir = new();
    private readonly ITestOutputHelper _output;

    public TempFolderFullTests(ITestOutputHelper output) => _output = output;

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData("wal", "check")]
    [InlineData("wal", "stats")]
    [InlineData("wal", "backup")]
    [InlineData("wal", "recover")]
    [InlineData("closed", "recover")]
    [InlineData("closedwal", "recover")]
    [InlineData("closedwal", "recover-in-place")]
    public async Task ACommand_WhoseTemporaryFolderFillsUp_NamesThatFolderAndTmpdir_NotTheOutput_AndChangesNoFile(string input, string command)
    {
        using var temp = SmallMount.TryCreate(1, out var reason);
        if (temp is null)
        {
            _output.WriteLine(reason);
            return;
        }

        var folder = Directory.CreateDirectory(_dir.File("data")).FullName;
        var path = Path.Combine(folder, "app.db");
        var exit = await ForeignProgram.RunPythonAsync(input switch { "wal" => KilledWithWal, "closedwal" => ClosedWal, _ => Closed }, path);
        Assert.True(input != "wal" || File.Exists(path + "-wal"), $"python exited {exit} without leaving a -wal");
        var before = ForeignProgram.Snapshot(folder);
        string[] arguments = command switch
        {
            "backup" => ["backup", path, _dir.File("backups")],
            "recover" => ["recover", path, "--output", _dir.File("recovered.db")],
            "recover-in-place" => ["recover", path, "--in-place"],
            _ => [command, path],
        };

        var (exitCode, stdout, stderr) = await WaldenCli.RunAsync(
            new Dictionary<string, string> { ["TMPDIR"] = temp.Path, ["SQLITE_TMPDIR"] = temp.Path }, arguments);

        var error = stderr.ReplaceLineEndings(" ");
        Assert.True(exitCode == 2, $"exit {exitCode}: {stdout} {stderr}");
        Assert.Contains($"the temporary folder '{temp.Path}'", error, StringComparison.Ordinal);
        Assert.Contains("is full", error, StringComparison.Ordinal);
        Assert.Contains("TMPDIR", error, StringComparison.Ordinal);
        Assert.DoesNotContain($"the disk holding '{_dir.File("backups")}'", error, StringComparison.Ordinal);
        Assert.DoesNotContain($"the disk holding '{_dir.Path}'", error, StringComparison.Ordinal);
        Assert.Equal(before, ForeignProgram.Snapshot(folder));
        Assert.False(File.Exists(_dir.File("recovered.db")));
    }

    /// <summary>The other side of the same decision: the backup folder's disk is the full one, the temporary folder has room.</summary>
    [Theory]
    [InlineData("--vacuum")]
    [InlineData("--json")]
    public async Task Backup_IntoAFolderWhoseDiskIsFull_NamesThatFolder_AndLeavesNothingThere(string option)
    {
        using var backups = SmallMount.TryCreate(1, out var reason);
        if (backups is null)
        {
            _output.WriteLine(reason);
            return;
        }

        var path = _dir.File("app.db");
        await ForeignProgram.RunPythonAsync(Closed, path);

        var (exitCode, stdout, stderr) = await WaldenCli.RunAsync("backup", path, backups.Path, option);

        var error = stderr.ReplaceLineEndings(" ");
        Assert.True(exitCode == 2, $"exit {exitCode}: {stdout} {stderr}");
        Assert.Contains($"the disk holding '{backups.Path}' is full", error, StringComparison.Ordinal);
        Assert.DoesNotContain("temporary folder", error, StringComparison.Ordinal);
        Assert.Empty(Directory.GetFileSystemEntries(backups.Path));
    }
}
