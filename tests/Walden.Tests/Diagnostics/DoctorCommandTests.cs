using System.Diagnostics;
using System.Text.Json;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Diagnostics;

/// <summary>
/// <c>walden doctor</c> as a user runs it, on files and processes as other programs leave them: each case asserts the finding
/// and the exit code (0: no danger, 1: danger, 2: could not run), from its one JSON document.
/// </summary>
public sealed class DoctorCommandTests : IDisposable
{
    private const string PythonHolder = """
        import sqlite3, sys
        c = sqlite3.connect(sys.argv[1], isolation_level=None)
        c.execute("PRAGMA journal_mode=WAL")
        c.execute("CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v TEXT)")
        c.execute("INSERT INTO t(v) VALUES ('from python')")
        print("ready", flush=True)
        sys.stdin.readline()
        c.close()
        """;

    private const string NodeHolder = """
        const Database = require(process.argv[1]);
        const db = new Database(process.argv[2]);
        db.pragma('journal_mode = WAL');
        db.exec('CREATE TABLE IF NOT EXISTS t(id INTEGER PRIMARY KEY, v TEXT)');
        db.prepare("INSERT INTO t(v) VALUES ('from node')").run();
        console.log('ready');
        process.stdin.on('data', () => { db.close(); process.exit(0); });
        process.stdin.on('end', () => { db.close(); process.exit(0); });
        """;

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task Doctor_WhenAPythonProcessWithSqlite3401HoldsAWalDatabase_NamesItsPidAndVersion_AndExits1()
    {
        var db = _dir.File("py.db");
        await using var python = await HoldingProcess.PythonAsync(PythonHolder, db);

        var (exit, report) = await DoctorAsync(db);

        Assert.Equal(1, exit);
        var finding = Single(report, "processes", "danger", $"process {python.ProcessId} ");
        Assert.Contains("Python's sqlite3 module", finding, StringComparison.Ordinal);
        Assert.Contains("3.40.1", finding, StringComparison.Ordinal);
        Assert.Contains("WAL mode", finding, StringComparison.Ordinal);
        var process = Assert.Single(report.GetProperty("processes").EnumerateArray(), p => p.GetProperty("processId").GetInt32() == python.ProcessId);
        var library = Assert.Single(process.GetProperty("sqlite").EnumerateArray());
        Assert.Equal("3.40.1", library.GetProperty("version").GetString());
        Assert.True(library.GetProperty("walResetBug").GetBoolean());
        Single(report, "last writer", "danger", "3.40.1");
        await python.StopAsync();
    }

    [Fact]
    public async Task Doctor_OnAHealthyFileWhoseSchemaUsesTheAppsCollationAndFunction_CallsItNotDamaged()
    {
        // A Python program's file with an index on its own collation "UNICODE" and a CHECK on its own function: the doctor's
        // quick_check failed with "no such collation sequence" and called the file damaged (danger, recover --in-place).
        var db = _dir.File("app.db");
        Assert.Equal(0, await ForeignProgram.RunPythonAsync("""
            import sqlite3, sys
            c = sqlite3.connect(sys.argv[1])
            c.create_collation("UNICODE", lambda a, b: (a.lower() > b.lower()) - (a.lower() < b.lower()))
            c.create_function("valid_email", 1, lambda s: 1 if "@" in s else 0)
            c.executescript("PRAGMA journal_mode=DELETE; CREATE TABLE people(id INTEGER PRIMARY KEY, name TEXT, " +
                "email TEXT CHECK (valid_email(email))); CREATE INDEX people_name ON people(name COLLATE UNICODE);")
            c.executemany("INSERT INTO people(name, email) VALUES (?, ?)", [("Name%d" % i, "e%d@x" % i) for i in range(500)])
            c.commit()
            """, db));

        var (exit, report) = await DoctorAsync(db);

        Assert.Equal(0, exit);
        var finding = Single(report, "quick_check", "ok", "PRAGMA quick_check: ok.");
        Assert.Contains("UNICODE", finding, StringComparison.Ordinal);
        Assert.Contains("valid_email", finding, StringComparison.Ordinal);
    }

    [NodeFact]
    public async Task Doctor_WhenANodeProcessWithBetterSqlite3HoldsTheDatabase_NamesBetterSqlite3AndItsBundledVersion()
    {
        var module = await BetterSqlite3.EnsureInstalledAsync();
        var db = _dir.File("node.db");
        await using var node = await HoldingProcess.StartAsync("node", null, "-e", NodeHolder, module, db);

        var (exit, report) = await DoctorAsync(db);

        var finding = Single(report, "processes", "danger", $"process {node.ProcessId} ");
        Assert.Contains("better-sqlite3 (Node addon)", finding, StringComparison.Ordinal);
        Assert.Contains(BetterSqlite3.BundledSqlite, finding, StringComparison.Ordinal); // 3.49.2: before the WAL-reset fix
        Assert.Contains("better_sqlite3.node", finding, StringComparison.Ordinal);
        Assert.Equal(1, exit);
        await node.StopAsync();
    }

    [Fact]
    public async Task Doctor_WhenAWaldenProcessHoldsTheDatabase_NamesWaldensOwnBuild_AndExits0()
    {
        var db = _dir.File("walden.db");
        using (var shell = new SqliteShell(db))
        {
            await shell.RunAsync(Walden.Cli.Torture.TortureRecord.Schema);
        }

        await using var worker = await HoldingProcess.StartAsync(WaldenCli.DotnetPath, null,
            WaldenCli.DllPath, "torture-worker", "--db", db, "--worker", "1", "--producers", "1");

        var (exit, report) = await DoctorAsync(db);

        var finding = Single(report, "processes", "ok", $"process {worker.ProcessId} ");
        Assert.Contains("Walden's own SQLite build 3.54.1", finding, StringComparison.Ordinal);
        Single(report, "last writer", "ok", "3.54.1");
        Assert.Equal(0, exit);
        Assert.DoesNotContain(report.GetProperty("findings").EnumerateArray(), f => f.GetProperty("severity").GetString() == "danger");
        await worker.StopAsync();
    }

    [Fact]
    public async Task Doctor_OnAWalWithoutItsDatabase_ReportsDanger_AndExits1()
    {
        var db = _dir.File("moved.db");
        using (var shell = new SqliteShell(db))
        {
            await shell.RunAsync("PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0; CREATE TABLE t(v); INSERT INTO t VALUES ('committed');");
            shell.Kill(); // leaves the -wal with its committed frames
        }

        File.Move(db, _dir.File("elsewhere.db")); // the database was moved; its -wal stayed behind

        var (exit, report) = await DoctorAsync(db);

        Assert.Equal(1, exit);
        var finding = Single(report, "files", "danger", "moved.db-wal");
        Assert.Contains("makes SQLite delete the -wal", finding, StringComparison.Ordinal); // what SQLite does, not "cannot be read"
        Assert.DoesNotContain("cannot be read", finding, StringComparison.Ordinal);
        Assert.True(File.Exists(db + "-wal")); // nothing deleted
    }

    /// <summary>
    /// On a full disk the probe's sparse scratch file could not take the first write through its shared map: the kernel's
    /// SIGBUS killed the doctor ("Fatal error. System.AccessViolationException", exit 134) and left the scratch file behind.
    /// </summary>
    [SmallVolumeFact]
    public async Task Doctor_OnAFullDisk_SaysTheProbeCouldNotRun_AndLeavesNoScratchFile()
    {
        using var volume = new SmallVolume(_dir.File("full"), 1);
        var db = Path.Combine(volume.Path, "w.db");
        using (var direct = Sql.OpenDirect(db))
        {
            direct.Exec("CREATE TABLE t(v); INSERT INTO t VALUES (1);");
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        await using (var fill = new FileStream(Path.Combine(volume.Path, "fill"), FileMode.CreateNew))
        {
            try
            {
                while (true)
                {
                    await fill.WriteAsync(new byte[64 * 1024]);
                    await fill.FlushAsync();
                }
            }
            catch (IOException)
            {
                // the volume is full
            }
        }

        var before = Directory.GetFiles(volume.Path).Order(StringComparer.Ordinal).ToArray();

        var (exit, report) = await DoctorAsync(db);

        Assert.True(exit is 0 or 1, $"exit {exit}: {report}");
        Single(report, "locks and shared memory", "warning", "Not probed: a 32 KiB scratch file could not be written");
        Assert.Equal(before, Directory.GetFiles(volume.Path).Order(StringComparer.Ordinal).ToArray());
    }

    [Fact]
    public async Task Doctor_OnADatabaseWithASecondName_ReportsDanger_AndExits1()
    {
        var db = _dir.File("named.db");
        using (var direct = Sql.OpenDirect(db))
        {
            direct.Exec("CREATE TABLE t(v); INSERT INTO t VALUES (1);");
        }

        Assert.Equal(0, Walden.Native.Posix.Link(db, _dir.File("second-name.db")));

        var (exit, report) = await DoctorAsync(db);

        Assert.Equal(1, exit);
        Assert.Contains("2 names", Single(report, "files", "danger", "hard links"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Doctor_OnAnEmptiedDatabaseBesideItsWal_ReportsDanger_WithoutOpeningIt()
    {
        var db = _dir.File("emptied.db");
        using (var shell = new SqliteShell(db))
        {
            await shell.RunAsync("PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0; CREATE TABLE t(v); INSERT INTO t VALUES ('committed');");
            shell.Kill();
        }

        File.WriteAllBytes(db, []); // emptied; the -wal holds the committed rows
        var wal = File.ReadAllBytes(db + "-wal");

        var (exit, report) = await DoctorAsync(db);

        Assert.Equal(1, exit);
        Single(report, "files", "danger", "empty (0-byte) database");
        Assert.Equal(wal, File.ReadAllBytes(db + "-wal")); // SQLite deletes such a -wal on open: the doctor did not open it
    }

    [Fact]
    public async Task Doctor_WhenTheShmIsOwnedByAnotherUser_WarnsNamingBothOwners_AndExits0()
    {
        var db = _dir.File("owned.db");
        using var shell = new SqliteShell(db);
        await shell.RunAsync("PRAGMA journal_mode=WAL; CREATE TABLE t(v); INSERT INTO t VALUES (1);");
        Run("chown", "nobody", db + "-shm");

        var (exit, report) = await DoctorAsync(db);

        var finding = Single(report, "files", "warning", "owned.db-shm");
        Assert.Contains("uid 65534", finding, StringComparison.Ordinal);
        Assert.Contains("the database by uid 0", finding, StringComparison.Ordinal);
        Assert.Equal(0, exit);
    }

    [Fact]
    public async Task Doctor_WhenAReaderHoldsTheWalBack_NamesItsProcessAndHowManyFramesBehind()
    {
        var db = _dir.File("reader.db");
        using var reader = new SqliteShell(db);
        await reader.RunAsync("PRAGMA journal_mode=WAL; CREATE TABLE t(v); INSERT INTO t VALUES (1);");
        await reader.RunAsync("BEGIN; SELECT count(*) FROM t;"); // keeps its snapshot
        using (var writer = new SqliteShell(db))
        {
            await writer.RunAsync(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1500) INSERT INTO t SELECT randomblob(3000) FROM n;");
        }

        var (exit, report) = await DoctorAsync(db);

        var finding = Single(report, "readers", "warning", $"process {reader.ProcessId} ");
        Assert.Matches(@"snapshot is [\d,]+ frames behind", finding);
        Assert.Contains("it has been open at least", finding, StringComparison.Ordinal);
        Assert.Equal(0, exit);
        Single(report, "WAL", "ok", "frames since its last reset");
    }

    [Fact]
    public async Task Doctor_OnAHotJournal_WarnsAndSkipsTheSqliteChecks_LeavingEveryFileAsItWas()
    {
        var db = _dir.File("hot.db");
        await ForeignProgram.RunPythonAsync(ForeignProgram.KilledMidTransaction, db);
        var before = ForeignProgram.Snapshot(_dir.Path);

        var (exit, report) = await DoctorAsync(db);

        Single(report, "hot journal", "warning", "hot.db-journal");
        Assert.DoesNotContain(report.GetProperty("findings").EnumerateArray(), f => f.GetProperty("check").GetString() == "quick_check");
        Assert.Equal(0, exit);
        Assert.Equal(before, ForeignProgram.Snapshot(_dir.Path)); // not rolled back, no scratch file left
    }

    [Fact]
    public async Task Doctor_OnABloatedFreelist_SuggestsVacuumOrIncrementalAutoVacuum_AndExits0()
    {
        var db = _dir.File("bloated.db");
        using (var shell = new SqliteShell(db))
        {
            await shell.RunAsync("CREATE TABLE t(v); " +
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000) INSERT INTO t SELECT randomblob(3000) FROM n; " +
                "DELETE FROM t;");
        }

        var (exit, report) = await DoctorAsync(db);

        var finding = Single(report, "freelist", "warning", "pages are free");
        Assert.Contains("VACUUM", finding, StringComparison.Ordinal);
        Assert.Contains("auto_vacuum=INCREMENTAL", finding, StringComparison.Ordinal);
        Assert.Equal(0, exit);
    }

    [Fact]
    public async Task Doctor_WhenAProcessStillHoldsADeletedWal_SaysTheDataLivesOnlyThere_AndHowToSaveIt()
    {
        var db = _dir.File("lost.db");
        using var shell = new SqliteShell(db);
        await shell.RunAsync("PRAGMA journal_mode=WAL; PRAGMA wal_autocheckpoint=0; CREATE TABLE t(v); INSERT INTO t VALUES ('only in the wal');");
        File.Delete(db + "-wal"); // the "delete the -wal" repair, done under a live connection

        var (exit, report) = await DoctorAsync(db);

        var finding = Single(report, "deleted file held open", "danger", $"process {shell.ProcessId} ");
        Assert.Contains($"/proc/{shell.ProcessId}/fd/", finding, StringComparison.Ordinal);
        Assert.Contains("checkpoint", finding, StringComparison.Ordinal);
        Assert.Equal(1, exit);
    }

    [Fact]
    public async Task Doctor_OnAClosedDatabase_LeavesTheFolderAsItFoundIt_AndReportsTheFileSystemAndProbe()
    {
        var db = _dir.File("closed.db");
        await ForeignProgram.PythonAsync(ForeignProgram.ClosedWal, db);
        var before = ForeignProgram.Snapshot(_dir.Path);

        var (exit, report) = await DoctorAsync(db);

        Assert.Equal(before, ForeignProgram.Snapshot(_dir.Path));
        Single(report, "file system", "ok", "The database is on");
        Single(report, "locks and shared memory", "ok", "POSIX locks are enforced");
        Single(report, "quick_check", "ok", "ok");
        Single(report, "last writer", "danger", "3.40.1"); // Python 3.40.1 wrote this WAL file
        Assert.Equal(1, exit);
    }

    [Fact]
    public async Task Doctor_OnAPathWithNothingThere_ExitsCannotRun_WithOneJsonDocument()
    {
        var (exit, report) = await DoctorAsync(_dir.File("missing.db"));

        Assert.Equal(2, exit);
        Assert.Equal("couldNotRun", report.GetProperty("severity").GetString());
        Assert.Contains("does not exist", report.GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    /// <summary>
    /// A Python program in rollback mode holds its write lock for a moment (a transaction of many rows). The doctor waits for
    /// it, as walden check does, and reads the file; it said "SQLite could not read the database: database is locked" at
    /// once (no busy handler on its connection): beside such a writer, 77 of 80 runs. The holder lets go 2 s after the
    /// doctor starts, well inside the 5 s wait; a doctor that does not wait fails before that.
    /// </summary>
    [Fact]
    public async Task Doctor_BesideARollbackWriterHoldingItsLockForAMoment_WaitsForItAndReadsTheFile()
    {
        var db = _dir.File("rollback.db");
        await using var python = await HoldingProcess.PythonAsync("""
            import sqlite3, sys, time
            c = sqlite3.connect(sys.argv[1], isolation_level=None)
            c.execute("CREATE TABLE t(a)")
            c.execute("BEGIN EXCLUSIVE")
            c.execute("INSERT INTO t VALUES (1)")
            print("ready", flush=True)
            sys.stdin.readline()
            time.sleep(2)
            c.execute("COMMIT")
            print("committed", flush=True)
            sys.stdin.readline()
            """, db);

        var doctor = DoctorAsync(db);
        await python.SendLineAsync();
        var (_, report) = await doctor;

        Single(report, "quick_check", "ok", "PRAGMA quick_check: ok");
        Assert.DoesNotContain("could not read", report.GetRawText(), StringComparison.Ordinal);
        await python.StopAsync();
    }

    [Fact]
    public void AJournalThatVanishesWhileItIsRead_IsNoJournal_NotAnError()
    {
        // A live writer in DELETE mode deletes its journal at every commit: between the size read and the open it is gone.
        var journal = _dir.File("gone.db-journal");
        Assert.True(Walden.Files.DatabaseFiles.JournalFinished(journal));
    }

    /// <summary>Runs <c>walden doctor &lt;db&gt; --json</c>; the whole standard output must be one JSON document.</summary>
    private static async Task<(int Exit, JsonElement Report)> DoctorAsync(string db)
    {
        var (exit, stdout, stderr) = await WaldenCli.RunAsync("doctor", db, "--json");
        try
        {
            using var document = JsonDocument.Parse(stdout);
            return (exit, document.RootElement.Clone());
        }
        catch (JsonException ex)
        {
            throw new InvalidOperationException($"doctor printed no single JSON document (exit {exit}): {stdout} {stderr}", ex);
        }
    }

    /// <summary>The one finding of <paramref name="check"/> with the severity whose text contains <paramref name="text"/>; its whole text.</summary>
    private static string Single(JsonElement report, string check, string severity, string text)
    {
        var findings = report.GetProperty("findings").EnumerateArray()
            .Where(f => f.GetProperty("check").GetString() == check)
            .Select(f => (Severity: f.GetProperty("severity").GetString(),
                Text: $"{f.GetProperty("seen").GetString()} {f.GetProperty("why").GetString()} {f.GetProperty("action").GetString()}"))
            .ToList();
        var matching = findings.Where(f => f.Text.Contains(text, StringComparison.Ordinal)).ToList();
        Assert.True(matching.Count == 1 && matching[0].Severity == severity,
            $"expected one {severity} '{check}' finding containing '{text}'; found: {string.Join(" || ", findings.Select(f => $"{f.Severity}: {f.Text}"))}\n{report}");
        return matching[0].Text;
    }

    private static void Run(string file, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(file, arguments) { RedirectStandardError = true, UseShellExecute = false })!;
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"{file} failed: {error}");
    }
}
