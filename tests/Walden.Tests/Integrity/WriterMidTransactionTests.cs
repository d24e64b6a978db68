using Walden.Integrity;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Integrity;

/// <summary>
/// A file another process is writing: the first transaction of a new rollback-journal database whose page cache spilled
/// (pages in the file, no header yet, a live -journal, the writer's EXCLUSIVE lock), or a later transaction of an existing
/// one. Whatever judges the file's header waits for that lock and, when it is still held, reports busy with the lock's
/// holder, never "corrupt"; once the writer commits, the open goes through and sees its rows. The same file with the writer
/// killed (a hot journal, nobody holding it) opens healthy, rolled back by SQLite, and is not recovered.
/// </summary>
public sealed class WriterMidTransactionTests : IDisposable
{
    /// <summary>Python's sqlite3: BEGIN, 300 rows of 1,000 bytes with cache_size=5 (the cache spills), "ready", COMMIT on a line.</summary>
    private const string PythonFirstTransaction = """
        import sqlite3, sys
        con = sqlite3.connect(sys.argv[1], isolation_level=None)
        con.execute("PRAGMA cache_size=5")
        con.execute("BEGIN")
        con.execute("CREATE TABLE t(x)")
        for i in range(300):
            con.execute("INSERT INTO t VALUES (randomblob(1000))")
        print("ready", flush=True)
        sys.stdin.readline()
        con.execute("COMMIT")
        con.close()
        """;

    /// <summary>The same with 10 rows committed first: the held transaction grows the file and rewrites page 1.</summary>
    private const string PythonLaterTransaction = """
        import sqlite3, sys
        con = sqlite3.connect(sys.argv[1], isolation_level=None)
        con.execute("CREATE TABLE t(x)")
        for i in range(10):
            con.execute("INSERT INTO t VALUES (randomblob(1000))")
        con.execute("PRAGMA cache_size=5")
        con.execute("BEGIN")
        con.execute("CREATE TABLE u(y)")
        for i in range(290):
            con.execute("INSERT INTO t VALUES (randomblob(1000))")
        print("ready", flush=True)
        sys.stdin.readline()
        con.execute("COMMIT")
        con.close()
        """;

    /// <summary>Node's better-sqlite3, the first transaction as above.</summary>
    private const string NodeFirstTransaction = """
        const Database = require(process.argv[1]);
        const db = new Database(process.argv[2]);
        db.pragma('cache_size = 5');
        db.exec('BEGIN');
        db.exec('CREATE TABLE t(x)');
        const insert = db.prepare('INSERT INTO t VALUES (randomblob(1000))');
        for (let i = 0; i < 300; i++) insert.run();
        console.log('ready');
        process.stdin.once('data', () => { db.exec('COMMIT'); db.close(); process.exit(0); });
        """;

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData("first")]
    [InlineData("later")]
    public async Task OpenAndCheck_WhilePythonWritesATransaction_WaitAndSayBusy_ThenOpenItsRowsOnceCommitted(string transaction)
    {
        var path = _dir.File("app.db");
        await using var writer = await HoldingProcess.PythonAsync(transaction == "first" ? PythonFirstTransaction : PythonLaterTransaction, path);
        await AssertBusyNotCorruptThenOpensAsync(path, writer);
    }

    [NodeFact]
    public async Task OpenAndCheck_WhileNodeWritesTheFirstTransaction_WaitAndSayBusy_ThenOpenItsRowsOnceCommitted()
    {
        var module = await BetterSqlite3.EnsureInstalledAsync();
        var path = _dir.File("node.db");
        await using var writer = await HoldingProcess.StartAsync("node", null, "-e", NodeFirstTransaction, module, path);
        await AssertBusyNotCorruptThenOpensAsync(path, writer);
    }

    [Fact]
    public async Task Commands_WhilePythonWritesTheFirstTransaction_ExitAsBusy_NeverCorrupt_AndChangeNothing()
    {
        var path = _dir.File("app.db");
        await using var writer = await HoldingProcess.PythonAsync(PythonFirstTransaction, path);
        var before = Listing(_dir.Path); // metadata only: the file is in use, so its bytes are not read outside SQLite
        string[][] commands =
        [
            ["demo", "--db", path, "--seconds", "1", "--producers", "1"],
            ["soak", "--db", path, "--minutes", "1", "--producers", "1", "--readers", "1"],
            ["check", path], ["info", path], ["stats", path], ["checkpoint", path, "--busy-timeout", "1"],
            ["backup", path, Path.Combine(Path.GetTempPath(), "walden-test-" + Guid.NewGuid().ToString("N"))],
            ["recover", path, "--output", Path.Combine(Path.GetTempPath(), "walden-test-" + Guid.NewGuid().ToString("N") + ".db")],
        ];
        foreach (var arguments in commands)
        {
            var (exitCode, stdout, stderr) = await WaldenCli.RunAsync(arguments);

            var output = (stdout + " " + stderr).ReplaceLineEndings(" ");
            Assert.True(exitCode == 2, $"{arguments[0]}: exit {exitCode}: {output}");
            Assert.DoesNotContain("corrupt", output, StringComparison.OrdinalIgnoreCase);
            // checkpoint's own busy message names no holder (it says to find the process that keeps the database locked)
            Assert.Contains(arguments[0] == "checkpoint" ? "locked" : $"process {writer.ProcessId}", output, StringComparison.Ordinal);
        }

        var (doctorExit, doctorOut, doctorErr) = await WaldenCli.RunAsync("doctor", path, "--json");
        Assert.True(doctorExit == 0, $"doctor: exit {doctorExit}: {doctorOut} {doctorErr}");
        using (var doctor = System.Text.Json.JsonDocument.Parse(doctorOut))
        {
            var quickCheck = doctor.RootElement.GetProperty("findings").EnumerateArray().Single(f => f.GetProperty("check").GetString() == "quick_check");
            // locked, not unreadable: it said to run the doctor "as a user who can read the database"
            Assert.StartsWith("Run the doctor again once that transaction ends", quickCheck.GetProperty("action").GetString(), StringComparison.Ordinal);
        }

        Assert.Equal(before, Listing(_dir.Path));
        await writer.StopAsync();
    }

    [Theory]
    [InlineData("first")]
    [InlineData("later")]
    public async Task Open_AfterTheWriterWasKilledInItsTransaction_RollsBackAndIsHealthy_NotRecovered(string transaction)
    {
        var path = _dir.File("app.db");
        var writer = await HoldingProcess.PythonAsync(transaction == "first" ? PythonFirstTransaction : PythonLaterTransaction, path);
        await writer.DisposeAsync(); // killed inside the transaction: a hot -journal, nobody holding the file
        Assert.True(new FileInfo(path + "-journal").Length > 0);

        Assert.Equal(WaldenFileStatus.Healthy, WaldenIntegrity.CheckFile(path).Status);
        await using var db = await WaldenDatabase.OpenAsync(path, new WaldenOptions { CorruptionPolicy = WaldenCorruptionPolicy.Recover });

        Assert.Null(db.RecoveryAtOpen);
        Assert.True(db.LastIntegrityCheck!.IsHealthy);
        var rows = await db.ReadAsync(c => c.Scalar<long>("SELECT count(*) FROM sqlite_schema WHERE name = 't'") == 0
            ? -1 : c.Scalar<long>("SELECT count(*) FROM t"));
        Assert.Equal(transaction == "first" ? -1 : 10, rows);
    }

    private static List<string> Listing(string folder) =>
        Directory.EnumerateFileSystemEntries(folder).Order(StringComparer.Ordinal)
            .Select(f => $"{Path.GetFileName(f)} {new FileInfo(f).Length} {File.GetLastWriteTimeUtc(f):O}").ToList();

    private static async Task AssertBusyNotCorruptThenOpensAsync(string path, HoldingProcess writer)
    {
        Assert.False(File.Exists(path + "-wal"));
        var busy = await Assert.ThrowsAsync<WaldenBusyException>(() =>
            WaldenDatabase.OpenAsync(path, new WaldenOptions { BusyTimeout = TimeSpan.FromMilliseconds(200) }));
        Assert.Contains($"Now process {writer.ProcessId} holds a write lock", busy.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("corrupt", busy.Message, StringComparison.OrdinalIgnoreCase);
        var readOnly = await Assert.ThrowsAnyAsync<WaldenException>(() =>
            WaldenDatabase.OpenReadOnlyAsync(path, new WaldenOptions { BusyTimeout = TimeSpan.FromMilliseconds(200) }));
        Assert.DoesNotContain("corrupt", readOnly.Message, StringComparison.OrdinalIgnoreCase);
        var check = WaldenIntegrity.CheckFile(path);
        Assert.True(check.Status == WaldenFileStatus.CannotCheck, string.Join(" | ", check.Findings));
        Assert.Contains($"process {writer.ProcessId}", check.Findings[0], StringComparison.Ordinal);
        Assert.False(File.Exists(path + "-wal"));
        Assert.False(File.Exists(path + "-shm"));

        // An open waiting long enough goes through once the writer commits, and sees every row of its transaction.
        var open = WaldenDatabase.OpenAsync(path, new WaldenOptions { BusyTimeout = TimeSpan.FromMinutes(1) });
        await writer.StopAsync();
        await using var db = await open;
        Assert.Equal(300, await db.ReadAsync(c => c.Scalar<long>("SELECT count(*) FROM t")));
    }
}
