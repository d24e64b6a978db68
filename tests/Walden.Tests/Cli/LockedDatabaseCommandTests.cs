using System.Text.Json;
using Microsoft.Data.Sqlite;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Cli;

/// <summary>
/// A database another process keeps locked: every command exits with the "could not run" code (2), its advice is what the
/// tool's user can do (no command has WaldenOptions.BusyTimeout), demo and soak report what they had done before the lock
/// stopped them, and a WAL database held in PRAGMA locking_mode=EXCLUSIVE is named as such: waiting longer does not help.
/// </summary>
public sealed class LockedDatabaseCommandTests : IDisposable
{
    /// <summary>Holds argv[1] in WAL and locking_mode=EXCLUSIVE (after one write, so the lock is taken) until a line on stdin.</summary>
    private const string ExclusiveWalHolder = """
        import sqlite3, sys
        con = sqlite3.connect(sys.argv[1], isolation_level=None)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA locking_mode=EXCLUSIVE")
        con.execute("INSERT INTO t VALUES (1)")
        print("ready", flush=True)
        sys.stdin.readline()
        """;

    /// <summary>
    /// Holds argv[1] (a new rollback-journal database) under SQLite's EXCLUSIVE lock until a line on stdin: its first
    /// transaction outgrows a 10-page cache, and SQLite writes the spilled pages into the file under that lock.
    /// </summary>
    private const string SpilledTransactionHolder = """
        import sqlite3, sys
        con = sqlite3.connect(sys.argv[1], isolation_level=None)
        con.execute("PRAGMA cache_size=10")
        con.execute("BEGIN")
        con.execute("CREATE TABLE t(x)")
        for i in range(2000):
            con.execute("INSERT INTO t VALUES (randomblob(500))")
        print("ready", flush=True)
        sys.stdin.readline()
        con.execute("ROLLBACK")
        """;

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData("demo")]
    [InlineData("soak")]
    public async Task DemoAndSoak_StoppedByAnotherProcessesLock_Exit2_AndTheirJsonKeepsWhatWasDone(string command)
    {
        var path = _dir.File("app.db");
        string[] arguments = command == "demo"
            ? ["demo", "--db", path, "--seconds", "600", "--producers", "2", "--json"]
            : ["soak", "--db", path, "--minutes", "10", "--producers", "2", "--readers", "1", "--json"];
        using var process = WaldenCli.Start(new Dictionary<string, string>(), arguments);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();

        // Once rows are committed, take the write lock and keep it until the command has given up.
        var table = command == "demo" ? "demo_log" : "soak_log";
        using (var holder = new SqliteConnection($"Data Source={path};Pooling=False;Default Timeout=60"))
        {
            await WaitForRowsAsync(path, table, process);
            holder.Open();
            holder.Exec("BEGIN IMMEDIATE");
            await process.WaitForExitAsync();
            holder.Exec("ROLLBACK");
        }

        var output = await stdout;
        var error = (await stderr).ReplaceLineEndings(" ");
        Assert.True(process.ExitCode == 2, $"exit {process.ExitCode}: {output} {error}");
        using var json = JsonDocument.Parse(output);
        var done = json.RootElement.GetProperty(command == "demo" ? "rows" : "writes").GetInt64();
        Assert.True(done > 0, output);
        Assert.Equal(2, json.RootElement.GetProperty("exitCode").GetInt32());
        Assert.Contains("no option to wait longer", json.RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.DoesNotContain("BusyTimeout", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Commands_OnAWalDatabaseHeldInExclusiveLockingMode_SaySoAndThatWaitingDoesNotHelp()
    {
        var path = _dir.File("app.db");
        using (var create = Sql.OpenDirect(path))
        {
            create.Exec("PRAGMA journal_mode=WAL; CREATE TABLE t(a)");
        }

        await using var holder = await HoldingProcess.StartAsync(ForeignProgram.Python, null, "-c", ExclusiveWalHolder, path);
        foreach (var arguments in new[] { new[] { "check", path }, ["backup", path, _dir.File("backups")], ["demo", "--db", path, "--writes", "1"] })
        {
            var (exitCode, stdout, stderr) = await WaldenCli.RunAsync(arguments);

            var error = stderr.ReplaceLineEndings(" ");
            Assert.True(exitCode == 2, $"{arguments[0]}: exit {exitCode}: {stdout} {error}");
            Assert.Contains($"process {holder.ProcessId} holds '{path}' exclusively", error, StringComparison.Ordinal);
            Assert.Contains("locking_mode=EXCLUSIVE", error, StringComparison.Ordinal);
            Assert.Contains("waiting longer does not help", error, StringComparison.Ordinal);
            Assert.DoesNotContain("BusyTimeout", error, StringComparison.Ordinal);
            Assert.DoesNotContain("wait longer:", error, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task ReadingAndBackupCommands_GivingUpOnAnotherProcessesLock_SayNothingWasChanged()
    {
        var path = _dir.File("app.db");
        await using var holder = await HoldingProcess.PythonAsync(SpilledTransactionHolder, path);
        var backups = _dir.File("backups");
        foreach (var arguments in new[] { new[] { "check", path }, ["info", path], ["stats", path], ["backup", path, backups] })
        {
            var (exitCode, stdout, stderr) = await WaldenCli.RunAsync(arguments);

            var error = stderr.ReplaceLineEndings(" ");
            Assert.True(exitCode == 2, $"{arguments[0]}: exit {exitCode}: {stdout} {error}");
            Assert.True(error.Contains("for a lock held by another connection or process", StringComparison.Ordinal), $"{arguments[0]}: {error}");
            Assert.True(error.Contains("Nothing was changed", StringComparison.Ordinal), $"{arguments[0]}: {error}");
            WaldenCli.AssertNoRepeatedSentence(error);
        }

        Assert.False(Directory.Exists(backups), "the backup that gave up left its folder");
    }

    /// <summary>Polls (a read in WAL never waits for the writer) until the command has committed rows, or has ended.</summary>
    private static async Task WaitForRowsAsync(string path, string table, System.Diagnostics.Process process)
    {
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        while (!process.HasExited)
        {
            try
            {
                using var reader = Sql.OpenDirect(path, readOnly: true);
                if (reader.Scalar<long>($"SELECT count(*) FROM {table}") > 0)
                {
                    return;
                }
            }
            catch (SqliteException)
            {
                // not created yet
            }

            await Task.Delay(20, limit.Token);
        }
    }
}
