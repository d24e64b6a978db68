using System.Text.Json;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Cli;

/// <summary>
/// Files a killed program leaves behind (a hot rollback journal in any journal mode, a -wal with or without its
/// -shm, the journals of a multi-database transaction cut off in its commit): every command reads the state SQLite
/// would read, says what it saw, and leaves the user's folder byte for byte as it found it (backup and the input
/// side of recover included). Inputs are made by Python's sqlite3, killed with SIGKILL as a crash would.
/// </summary>
public sealed class LeftBehindFileTests : IDisposable
{
    /// <summary>The class of inputs: a rollback journal in each journal mode, a schema change, WAL files with and without -shm.</summary>
    public static TheoryData<string> Inputs => new()
    {
        "journal-delete", "journal-truncate", "journal-persist", "journal-schema-change",
        "wal-no-shm", "wal-with-shm", "wal-after-truncate-checkpoint-with-shm",
    };

    /// <summary><see cref="ForeignProgram.KilledMidTransaction"/> in the journal mode put in for JOURNAL_MODE.</summary>
    private static readonly string KilledInJournalMode = ForeignProgram.KilledMidTransaction.Replace(
        "con.execute(\"PRAGMA cache_size=2\")", "con.execute(\"PRAGMA journal_mode=JOURNAL_MODE\")\ncon.execute(\"PRAGMA cache_size=2\")",
        StringComparison.Ordinal);

    /// <summary>300 rows checkpointed and the -wal truncated, then 50 more in the -wal, killed: a -wal and -shm, no holder.</summary>
    private const string KilledAfterTruncateCheckpoint = """
        import sqlite3, sys, os
        con = sqlite3.connect(sys.argv[1], isolation_level=None)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA wal_autocheckpoint=0")
        con.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
        for i in range(300):
            con.execute("INSERT INTO t(v) VALUES (?)", ("row%d" % i,))
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        for i in range(50):
            con.execute("INSERT INTO t(v) VALUES (?)", ("late%d" % i,))
        os.kill(os.getpid(), 9)
        """;

    /// <summary>Two databases ATTACHed in one transaction; KILL_AT_UNLINK is set right before COMMIT (see <see cref="UnlinkKiller"/>).</summary>
    private const string MultiDatabaseCommit = """
        import sqlite3, sys, os
        con = sqlite3.connect(sys.argv[1], isolation_level=None)
        con.execute("PRAGMA journal_mode=" + sys.argv[4])
        con.execute("ATTACH ? AS other", (sys.argv[2],))
        con.execute("PRAGMA other.journal_mode=" + sys.argv[4])
        con.execute("CREATE TABLE main.t(id INTEGER PRIMARY KEY, v TEXT)")
        con.execute("CREATE TABLE other.u(id INTEGER PRIMARY KEY, v TEXT)")
        for i in range(100):
            con.execute("INSERT INTO main.t(v) VALUES (?)", ("old%d" % i,))
            con.execute("INSERT INTO other.u(v) VALUES (?)", ("old%d" % i,))
        con.execute("BEGIN")
        con.execute("UPDATE main.t SET v = 'new' || id")
        con.execute("UPDATE other.u SET v = 'new' || id")
        con.execute("INSERT INTO main.t(v) SELECT 'new' FROM t")
        con.execute("INSERT INTO other.u(v) SELECT 'new' FROM u")
        os.environ["KILL_AT_UNLINK"] = sys.argv[3]
        con.execute("COMMIT")
        """;

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [MemberData(nameof(Inputs))]
    public async Task BackupAndRecover_OfAFileAKilledProgramLeft_KeepTheCommittedState_SayWhatTheySaw_AndChangeNoFile(string kind)
    {
        var (folder, path, table, rows) = await MakeAsync(kind);
        var before = ForeignProgram.Snapshot(folder);
        var output = _dir.File("recovered.db");

        var backup = await WaldenCli.RunAsync("backup", path, _dir.File("backups"), "--json");
        var recover = await WaldenCli.RunAsync("recover", path, "--output", output);

        Assert.True(backup.ExitCode == 0, backup.Stdout + backup.Stderr);
        Assert.True(recover.ExitCode == 0, recover.Stdout + recover.Stderr);
        Assert.Equal(before, ForeignProgram.Snapshot(folder));
        using var json = JsonDocument.Parse(backup.Stdout);
        var copy = json.RootElement.GetProperty("backup");
        Assert.Equal(rows, copy.GetProperty("tableRows").GetProperty(table).GetInt64());
        var notes = string.Join(" ", copy.GetProperty("notes").EnumerateArray().Select(note => note.GetString()));
        Assert.Contains("private copy", notes, StringComparison.Ordinal);
        Assert.Contains(kind.StartsWith("journal", StringComparison.Ordinal) ? "hot rollback journal" : "-wal", notes, StringComparison.Ordinal);
        using var recovered = Sql.OpenDirect(output, readOnly: true);
        Assert.Equal(rows, recovered.Scalar<long>($"SELECT count(*) FROM {table}"));
    }

    [Theory]
    [InlineData("wal-with-shm")]
    [InlineData("wal-after-truncate-checkpoint-with-shm")]
    public async Task CheckInfoAndStats_OnAWalDatabaseAKilledWriterLeft_ReadItsRows_AndLeaveTheShmAndWalByteIdentical(string kind)
    {
        var (folder, path, _, _) = await MakeAsync(kind);
        var before = ForeignProgram.Snapshot(folder);

        foreach (var command in new[] { new[] { "check", "--full", path }, ["info", "--json", path], ["stats", path] })
        {
            var (exit, stdout, stderr) = await WaldenCli.RunAsync(command);
            Assert.True(exit == 0, string.Join(' ', command) + ": " + stdout + stderr);
            Assert.Contains("private copy", stdout, StringComparison.Ordinal);
            Assert.Equal(before, ForeignProgram.Snapshot(folder));
        }
    }

    [Theory]
    [InlineData("delete")]
    [InlineData("truncate")]
    public async Task AMultiDatabaseTransaction_KilledBeforeItsSuperJournalWasDeleted_IsRolledBackInBoth_AndNoFileChanges(string journalMode)
    {
        var (folder, a, b) = await MakeMultiDatabaseAsync(journalMode, killAt: "-mj");
        Assert.Single(Directory.GetFiles(folder, "a.db-mj*")); // the super-journal is there: the transaction did not commit

        await AssertEveryCommandReadsAsync(folder, [a, b], expectedRows: 100, expectedFirst: "old0", note: "did not commit");
    }

    [Theory]
    [InlineData("a.db-journal")]
    [InlineData("b.db-journal")]
    public async Task AMultiDatabaseTransaction_KilledAfterItsSuperJournalWasDeleted_IsCommittedInBoth_AndTheJournalsAreNamedAsLeftovers(
        string killAt)
    {
        var (folder, a, b) = await MakeMultiDatabaseAsync("delete", killAt);
        Assert.Empty(Directory.GetFiles(folder, "a.db-mj*")); // the super-journal is gone: the transaction committed
        Assert.True(new FileInfo(b + "-journal").Length > 0);

        // Killed at b's journal, a's journal was already deleted: a is a plain committed database then.
        await AssertEveryCommandReadsAsync(folder, File.Exists(a + "-journal") ? [a, b] : [b], expectedRows: 200, expectedFirst: "new1",
            note: "that committed");
        if (!File.Exists(a + "-journal"))
        {
            using var plain = Sql.OpenDirect(a, readOnly: true);
            Assert.Equal(200, plain.Scalar<long>("SELECT count(*) FROM t"));
        }
    }

    private async Task AssertEveryCommandReadsAsync(string folder, string[] databases, long expectedRows, string expectedFirst, string note)
    {
        var before = ForeignProgram.Snapshot(folder);
        foreach (var path in databases)
        {
            var table = Path.GetFileName(path) == "a.db" ? "t" : "u";
            var check = await WaldenCli.RunAsync("check", "--full", "--json", path);
            var info = await WaldenCli.RunAsync("info", "--json", path);
            var backup = await WaldenCli.RunAsync("backup", path, _dir.File("backups"), "--json");
            var output = _dir.File($"recovered-{table}.db");
            var recover = await WaldenCli.RunAsync("recover", path, "--output", output, "--json");

            foreach (var (exit, stdout, stderr) in new[] { check, info, backup, recover })
            {
                Assert.True(exit == 0, stdout + stderr);
                Assert.Contains(note, stdout, StringComparison.Ordinal);
            }

            Assert.Equal(before, ForeignProgram.Snapshot(folder));
            using var json = JsonDocument.Parse(backup.Stdout);
            Assert.Equal(expectedRows, json.RootElement.GetProperty("backup").GetProperty("tableRows").GetProperty(table).GetInt64());
            using var recovered = Sql.OpenDirect(output, readOnly: true);
            Assert.Equal(expectedRows, recovered.Scalar<long>($"SELECT count(*) FROM {table}"));
            Assert.Equal(expectedFirst, recovered.Scalar<string>($"SELECT v FROM {table} ORDER BY id LIMIT 1"));
        }
    }

    private async Task<(string Folder, string A, string B)> MakeMultiDatabaseAsync(string journalMode, string killAt)
    {
        var folder = Directory.CreateDirectory(_dir.File("app")).FullName;
        var library = await UnlinkKiller.BuildAsync(Directory.CreateDirectory(_dir.File("tools")).FullName);
        var (a, b) = (Path.Combine(folder, "a.db"), Path.Combine(folder, "b.db"));
        var exit = await UnlinkKiller.RunPythonAsync(library, MultiDatabaseCommit, a, b, killAt, journalMode);
        Assert.True(exit is 137 or -9, $"python3 was not killed in its commit (exit {exit})");
        return (folder, a, b);
    }

    private async Task<(string Folder, string Path, string Table, long Rows)> MakeAsync(string kind)
    {
        var folder = Directory.CreateDirectory(_dir.File("app")).FullName;
        var path = Path.Combine(folder, "app.db");
        switch (kind)
        {
            case "journal-schema-change":
                await ForeignProgram.RunPythonAsync(ForeignProgram.KilledMidSchemaChange, path);
                Assert.True(new FileInfo(path + "-journal").Length > 0);
                return (folder, path, "doomed", 500);
            case var journal when journal.StartsWith("journal-", StringComparison.Ordinal):
                var script = KilledInJournalMode.Replace("JOURNAL_MODE", journal["journal-".Length..], StringComparison.Ordinal);
                await ForeignProgram.RunPythonAsync(script, path);
                Assert.True(new FileInfo(path + "-journal").Length > 0);
                return (folder, path, "t", 200);
            case "wal-after-truncate-checkpoint-with-shm":
                await ForeignProgram.RunPythonAsync(KilledAfterTruncateCheckpoint, path);
                Assert.True(File.Exists(path + "-shm"));
                return (folder, path, "t", 350);
            default:
                await ForeignProgram.RunPythonAsync(ForeignProgram.KilledWithCommittedWal, path);
                Assert.True(File.Exists(path + "-shm") && new FileInfo(path + "-wal").Length > 32);
                if (kind == "wal-no-shm")
                {
                    File.Delete(path + "-shm"); // as a copy of only the database and its -wal leaves it (the writer is dead)
                }

                return (folder, path, "t", 300);
        }
    }
}
