using System.Text.Json;
using Walden.Tests.TestSupport;
using Xunit.Abstractions;

namespace Walden.Tests.Cli;

/// <summary>
/// Every command, on every failure, prints one line that names the cause and what to do, exits with its
/// documented code and leaves no partial file; output is plain when piped; --json is one document.
/// </summary>
public sealed class CommandErrorTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly ITestOutputHelper _output;

    public CommandErrorTests(ITestOutputHelper output) => _output = output;

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Restore_OfABackupThatDoesNotExist_SaysItDoesNotExist_AndExits2()
    {
        var (exit, _, stderr) = await WaldenCli.RunAsync("restore", _dir.File("nope.db"), _dir.File("x.db"));

        Assert.Equal(2, exit);
        Assert.Contains("does not exist", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("has no manifest", stderr, StringComparison.Ordinal); // the forms it takes name the manifest, the missing file has none to lack
        Assert.False(File.Exists(_dir.File("x.db")));
    }

    /// <summary>
    /// A subcommand's wrong option names the command as typed in its hint: it said "Run 'walden verify --help'" for
    /// `walden archive verify --bogus`, a command that does not exist (found by a newcomer helper, stop 33).
    /// </summary>
    [Fact]
    public async Task ASubcommandsWrongOption_HintNamesTheWholeCommand()
    {
        var (exit, _, stderr) = await WaldenCli.RunAsync("archive", "verify", _dir.File("archive"), "--bogus");
        Assert.Equal(2, exit);
        Assert.Contains("'walden archive verify --help'", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Output_WhenPiped_HasNoColourCodes_OnSuccessAndOnError()
    {
        var path = CreateDatabase(_dir.File("app.db"), rows: 10);
        var runs = new[]
        {
            await WaldenCli.RunAsync("check", path),
            await WaldenCli.RunAsync("info", path),
            await WaldenCli.RunAsync("stats", path),
            await WaldenCli.RunAsync("backup", path, _dir.File("backups")),
            await WaldenCli.RunAsync("backups", _dir.File("backups")),
            await WaldenCli.RunAsync("check", _dir.File("missing.db")),
            await WaldenCli.RunAsync("recover", _dir.File("missing.db"), "--output", _dir.File("out.db")),
        };

        foreach (var (exit, stdout, stderr) in runs)
        {
            Assert.DoesNotContain('\u001b', stdout);
            Assert.DoesNotContain('\u001b', stderr);
        }

        Assert.Equal(2, runs[^1].ExitCode);
        Assert.Single(runs[^1].Stderr.Trim().Split('\n')); // one line: no stack trace
    }

    [Fact]
    public async Task Json_OfEveryCommand_IsOneDocument()
    {
        var path = CreateDatabase(_dir.File("app.db"), rows: 10);
        var backup = await WaldenCli.RunAsync("backup", path, _dir.File("backups"), "--json");
        var stored = JsonDocument.Parse(backup.Stdout).RootElement.GetProperty("path").GetString()!;
        var runs = new[]
        {
            backup,
            await WaldenCli.RunAsync("check", path, "--json"),
            await WaldenCli.RunAsync("check", _dir.File("missing.db"), "--json"),
            await WaldenCli.RunAsync("info", path, "--json"),
            await WaldenCli.RunAsync("stats", path, "--json"),
            await WaldenCli.RunAsync("backups", _dir.File("backups"), "--json"),
            await WaldenCli.RunAsync("recover", path, "--output", _dir.File("out.db"), "--json"),
            await WaldenCli.RunAsync("restore", stored, _dir.File("restored.db"), "--json"),
        };

        foreach (var (_, stdout, stderr) in runs)
        {
            using var json = JsonDocument.Parse(stdout); // throws unless stdout is exactly one JSON document
            Assert.Equal(JsonValueKind.Object, json.RootElement.ValueKind);
        }
    }

    [Fact]
    public async Task Backup_Restore_AndRecover_OntoAFullDisk_SayTheDiskIsFull_Exit2_AndLeaveNoPartialFile()
    {
        using var mount = SmallMount.TryCreate(5, out var reason);
        if (mount is null)
        {
            _output.WriteLine(reason);
            return;
        }

        var path = CreateDatabase(_dir.File("big.db"), rows: 3_000); // about 3 MB
        var backup = await WaldenCli.RunAsync("backup", path, _dir.File("backups"), "--json");
        Assert.True(backup.ExitCode == 0, backup.Stderr);
        var stored = JsonDocument.Parse(backup.Stdout).RootElement.GetProperty("path").GetString()!;
        Directory.CreateDirectory(mount.File("backups"));
        mount.Fill(bytesLeft: 1024 * 1024);
        var before = ForeignProgram.Snapshot(mount.Path);

        var runs = new[]
        {
            await WaldenCli.RunAsync("backup", path, mount.File("backups")),
            await WaldenCli.RunAsync("restore", stored, mount.File("restored.db")),
            await WaldenCli.RunAsync("recover", path, "--output", mount.File("recovered.db")),
        };

        foreach (var (exit, stdout, stderr) in runs)
        {
            Assert.True(exit == 2, $"exit {exit}: {stdout} {stderr}");
            Assert.Contains("full", stderr, StringComparison.Ordinal);
            Assert.Single(stderr.Trim().Split('\n'));
            Assert.Equal(before, ForeignProgram.Snapshot(mount.Path));
        }
    }

    [Fact]
    public async Task AWalDatabaseWithoutShm_InAReadOnlyFolder_IsCheckedOnACopy_AndOpenAsyncSaysWhyItCannotOpen()
    {
        using var mount = SmallMount.TryCreate(5, out var reason);
        if (mount is null)
        {
            _output.WriteLine(reason);
            return;
        }

        var path = mount.File("wal.db");
        await ForeignProgram.RunPythonAsync(ForeignProgram.KilledWithCommittedWal, path);
        File.Delete(path + "-shm");
        mount.MakeReadOnly();
        var link = _dir.File("link.db");
        File.CreateSymbolicLink(link, path);

        var check = await WaldenCli.RunAsync("check", path);
        var info = await WaldenCli.RunAsync("info", link);
        var open = await Assert.ThrowsAsync<WaldenReadOnlyException>(() => WaldenDatabase.OpenAsync(path));
        var throughLink = await Assert.ThrowsAsync<WaldenReadOnlyException>(() => WaldenDatabase.OpenAsync(link));

        Assert.True(check.ExitCode == 0, check.Stdout + check.Stderr);
        Assert.True(info.ExitCode == 0, info.Stdout + info.Stderr);
        Assert.Contains("-shm", open.Message, StringComparison.Ordinal);
        Assert.Contains("not writable", open.Message, StringComparison.Ordinal);
        Assert.Contains("symbolic link", throughLink.Message, StringComparison.Ordinal);
        Assert.Contains(mount.Path, throughLink.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Quarantine_PrintsTheFilesItHolds_NotTheTypeNameOfItsList()
    {
        var quarantine = new Walden.Files.WaldenQuarantine("/data/walden-quarantine/x", ["/data/app.db", "/data/app.db-wal"]);

        Assert.DoesNotContain("List`1", quarantine.ToString(), StringComparison.Ordinal);
        Assert.Contains("app.db-wal", quarantine.ToString(), StringComparison.Ordinal);
    }

    private static string CreateDatabase(string path, int rows)
    {
        using var connection = Sql.OpenDirect(path);
        connection.Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB)");
        connection.Exec($"WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {rows}) INSERT INTO t(v) SELECT randomblob(1000) FROM n");
        return path;
    }
}
