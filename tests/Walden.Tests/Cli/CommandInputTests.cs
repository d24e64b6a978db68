using System.Diagnostics;
using System.Text.Json;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Cli;

/// <summary>
/// What every command says about inputs that are not a healthy database (empty, cut inside the header, another kind
/// of file, a folder, held in EXCLUSIVE locking mode elsewhere): one line naming the user's file and the cause,
/// the documented exit code, and with --json one JSON document on standard output with the same facts.
/// </summary>
public sealed class CommandInputTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData(0, "empty (0 bytes)")]
    [InlineData(50, "truncated inside its header")]
    [InlineData(99, "truncated inside its header")]
    public async Task Recover_OfAnEmptyFileOrOneCutInsideItsHeader_SaysSo_Exits2_AndWritesNothing(int bytes, string says)
    {
        var path = await PrefixOfADatabaseAsync(bytes);

        foreach (var arguments in new[] { new[] { "recover", path, "--output", _dir.File("out.db") }, ["recover", path, "--in-place"] })
        {
            var (exit, stdout, stderr) = await WaldenCli.RunAsync(arguments);

            Assert.True(exit == 2, $"exit {exit}: {stdout} {stderr}");
            Assert.Contains(says, stderr, StringComparison.Ordinal);
            Assert.Contains(path, stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("end of the stream", stderr, StringComparison.Ordinal);
            Assert.False(File.Exists(_dir.File("out.db")));
            Assert.Equal(bytes, new FileInfo(path).Length);
        }
    }

    [Theory]
    [InlineData(50)]
    [InlineData(99)]
    public async Task CheckAndInfo_OfAFileCutInsideItsHeader_SayItIsTruncated_NotThatItHasNoHeader(int bytes)
    {
        var path = await PrefixOfADatabaseAsync(bytes);

        var (exit, stdout, stderr) = await WaldenCli.RunAsync("check", path);
        var info = await WaldenCli.RunAsync("info", path);

        Assert.True(exit == 1, $"exit {exit}: {stdout} {stderr}");
        Assert.Contains($"truncated inside its header: it holds {bytes} bytes", stdout, StringComparison.Ordinal);
        Assert.DoesNotContain("no 'SQLite format 3' header", stdout + stderr, StringComparison.Ordinal);
        Assert.True(info.ExitCode == 2, info.Stdout + info.Stderr);
        Assert.Contains("truncated inside its header", info.Stderr, StringComparison.Ordinal);
    }

    public static TheoryData<string, byte[]> OtherFiles => new()
    {
        { "text.db", "hello, this is a text file, not a database\n"u8.ToArray() },
        { "json.db", "{\"a\": 1}"u8.ToArray() },
        { "gzip.db", GZip("a gzip file, as a log rotation leaves one") },
    };

    [Theory]
    [MemberData(nameof(OtherFiles))]
    public async Task BackupAndRecover_OfAFileThatIsNotADatabase_NameTheUsersFile_NotAWaldenCopy_AndExit2(string name, byte[] content)
    {
        var path = _dir.File(name);
        await File.WriteAllBytesAsync(path, content);

        var runs = new[]
        {
            await WaldenCli.RunAsync("backup", path, _dir.File("backups")),
            await WaldenCli.RunAsync("recover", path, "--output", _dir.File("out.db")),
            await WaldenCli.RunAsync("check", path),
        };

        foreach (var (exit, stdout, stderr) in runs)
        {
            Assert.True(exit == 2, $"exit {exit}: {stdout} {stderr}");
            Assert.Contains($"'{path}' is not an SQLite database", stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("copy", stderr, StringComparison.OrdinalIgnoreCase);
            Assert.DoesNotMatch("walden-(recover|settle|inspect)-", stderr);
            Assert.Single(stderr.Trim().Split('\n'));
        }

        Assert.False(File.Exists(_dir.File("out.db")));
        Assert.Empty(Directory.Exists(_dir.File("backups")) ? Directory.GetFiles(_dir.File("backups")) : []);
    }

    [Fact]
    public async Task EveryCommandGivenAFolder_SaysItIsADirectory()
    {
        var folder = Directory.CreateDirectory(_dir.File("data.db")).FullName;

        var runs = new[]
        {
            await WaldenCli.RunAsync("recover", folder, "--output", _dir.File("out.db")),
            await WaldenCli.RunAsync("recover", folder, "--in-place"),
            await WaldenCli.RunAsync("backup", folder, _dir.File("backups")),
            await WaldenCli.RunAsync("check", folder),
            await WaldenCli.RunAsync("info", folder),
            await WaldenCli.RunAsync("stats", folder),
            await WaldenCli.RunAsync("checkpoint", folder),
        };

        foreach (var (exit, stdout, stderr) in runs)
        {
            Assert.True(exit == 2, $"exit {exit}: {stdout} {stderr}");
            Assert.Contains("is a directory", stderr, StringComparison.Ordinal);
            Assert.DoesNotContain("does not exist", stderr, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Json_OfEveryCommand_OnFailure_IsOneDocumentWithTheErrorAndTheExitCode()
    {
        var missing = _dir.File("missing.db");
        var runs = new[]
        {
            await WaldenCli.RunAsync("info", missing, "--json"),
            await WaldenCli.RunAsync("stats", missing, "--json"),
            await WaldenCli.RunAsync("check", missing, "--json"),
            await WaldenCli.RunAsync("backup", missing, _dir.File("backups"), "--json"),
            await WaldenCli.RunAsync("backups", _dir.File("no-backups"), "--json"),
            await WaldenCli.RunAsync("restore", missing, _dir.File("restored.db"), "--json"),
            await WaldenCli.RunAsync("recover", missing, "--output", _dir.File("out.db"), "--json"),
            await WaldenCli.RunAsync("checkpoint", missing, "--json"),
            await WaldenCli.RunAsync("info", "--json"), // a missing argument
            await WaldenCli.RunAsync("stats", missing, "--no-such-option", "--json"),
        };

        foreach (var (exit, stdout, stderr) in runs)
        {
            Assert.True(exit == 2, $"exit {exit}: {stdout} {stderr}");
            using var json = JsonDocument.Parse(stdout); // exactly one JSON document
            Assert.Equal(2, json.RootElement.GetProperty("exitCode").GetInt32());
            var error = json.RootElement.TryGetProperty("error", out var e)
                ? e.GetString()!
                : string.Join(" ", json.RootElement.GetProperty("findings").EnumerateArray()); // check's own shape
            Assert.False(string.IsNullOrWhiteSpace(error));
            Assert.DoesNotContain('\u001b', stdout + stderr);
        }
    }

    [Theory]
    [InlineData("wal")]
    [InlineData("delete")]
    public async Task ADatabaseHeldInExclusiveLockingMode_IsReportedWithTheProcessAndWhyWaitingDoesNotHelp(string journalMode)
    {
        var path = _dir.File("held.db");
        using var holder = StartExclusiveHolder(path, journalMode);
        await holder.StandardOutput.ReadLineAsync(); // "ready": the lock is held

        var (exit, stdout, stderr) = await WaldenCli.RunAsync("info", path);

        Assert.True(exit == 2, $"exit {exit}: {stdout} {stderr}");
        Assert.Contains($"process {holder.Id}", stderr, StringComparison.Ordinal);
        Assert.Contains("EXCLUSIVE lock", stderr, StringComparison.Ordinal);
        Assert.Contains("locking_mode=EXCLUSIVE", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("waited 0.0", stderr, StringComparison.Ordinal); // the wait is BusyTimeout, not milliseconds
        holder.Kill();
        await holder.WaitForExitAsync();
    }

    private static byte[] GZip(string text)
    {
        using var buffer = new MemoryStream();
        using (var gzip = new System.IO.Compression.GZipStream(buffer, System.IO.Compression.CompressionLevel.Optimal))
        {
            gzip.Write(System.Text.Encoding.UTF8.GetBytes(text));
        }

        return buffer.ToArray();
    }

    private static Process StartExclusiveHolder(string path, string journalMode)
    {
        var info = new ProcessStartInfo(ForeignProgram.Python)
        {
            RedirectStandardOutput = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add("""
            import sqlite3, sys
            con = sqlite3.connect(sys.argv[1], isolation_level=None)
            con.execute("PRAGMA journal_mode=" + sys.argv[2])
            con.execute("PRAGMA locking_mode=EXCLUSIVE")
            con.execute("CREATE TABLE t(a)")
            con.execute("INSERT INTO t VALUES (1)")
            con.execute("SELECT * FROM t").fetchall()
            print("ready", flush=True)
            sys.stdin.read()
            """);
        info.ArgumentList.Add(path);
        info.ArgumentList.Add(journalMode);
        return Process.Start(info) ?? throw new InvalidOperationException("python3 did not start");
    }

    private async Task<string> PrefixOfADatabaseAsync(int bytes)
    {
        var whole = _dir.File("whole.db");
        await ForeignProgram.RunPythonAsync(ForeignProgram.ClosedWal, whole);
        var path = _dir.File($"prefix-{bytes}.db");
        await File.WriteAllBytesAsync(path, (await File.ReadAllBytesAsync(whole))[..bytes]);
        return path;
    }
}
