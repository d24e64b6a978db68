using System.Buffers.Binary;
using System.Diagnostics;

namespace Walden.Tests.TestSupport;

/// <summary>
/// A WAL database a program was killed with, its committed transactions still in the -wal (one row and one frame per
/// transaction), and the damage bit rot or a bad sector leaves in that -wal afterwards.
/// </summary>
internal static class DamagedWal
{
    /// <summary>Python's sqlite3: a table checkpointed into the file, then <c>sys.argv[3]</c> single-row commits left in the -wal; SIGKILL.</summary>
    public const string PythonKilledWithCommits = """
        import sqlite3, os, sys
        c = sqlite3.connect(sys.argv[1], isolation_level=None)
        c.execute("PRAGMA page_size=%d" % int(sys.argv[2]))
        c.execute("PRAGMA journal_mode=WAL")
        c.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, x)")
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        c.execute("PRAGMA wal_autocheckpoint=0")
        for i in range(int(sys.argv[3])):
            c.execute("INSERT INTO t(x) VALUES (?)", (os.urandom(100),))
        os.kill(os.getpid(), 9)
        """;

    /// <summary>The same from Node's better-sqlite3 (argv: module, database, page size, commits).</summary>
    public const string NodeKilledWithCommits = """
        const Database = require(process.argv[1]);
        const db = new Database(process.argv[2]);
        db.pragma("page_size=" + process.argv[3]);
        db.pragma("journal_mode=WAL");
        db.exec("CREATE TABLE t(id INTEGER PRIMARY KEY, x)");
        db.pragma("wal_checkpoint(TRUNCATE)");
        db.pragma("wal_autocheckpoint=0");
        const insert = db.prepare("INSERT INTO t(x) VALUES (?)");
        for (let i = 0; i < Number(process.argv[4]); i++) insert.run(require("crypto").randomBytes(100));
        process.kill(process.pid, "SIGKILL");
        """;

    /// <summary>
    /// The guards' inputs, from Python: "torn" (100 commits, then a transaction whose cache spilled, killed in it: uncommitted
    /// frames at the end), "restarted" (100 commits, a RESTART checkpoint, 5 commits: the earlier generation's frames, with
    /// other salts, beyond them), "overwritten" (20 commits, a spilled transaction rolled back, 3 commits written over the start
    /// of its frames: the rest of them, same salts, no commit, beyond).
    /// </summary>
    public const string PythonGuards = """
        import sqlite3, os, sys
        c = sqlite3.connect(sys.argv[1], isolation_level=None)
        kind = sys.argv[2]
        c.execute("PRAGMA journal_mode=WAL")
        c.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, x)")
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        c.execute("PRAGMA wal_autocheckpoint=0")
        def commits(n):
            for i in range(n):
                c.execute("INSERT INTO t(x) VALUES (?)", (os.urandom(100),))
        def spill():
            c.execute("PRAGMA cache_size=2")
            c.execute("BEGIN")
            for i in range(200):
                c.execute("INSERT INTO t(x) VALUES (?)", (os.urandom(3000),))
        if kind == "torn":
            commits(100); spill()
        elif kind == "restarted":
            commits(100); c.execute("PRAGMA wal_checkpoint(RESTART)"); commits(5)
        elif kind == "overwritten":
            commits(20); spill(); c.execute("ROLLBACK"); c.execute("PRAGMA cache_size=2000"); commits(3)
        os.kill(os.getpid(), 9)
        """;

    /// <summary>Leaves <paramref name="commits"/> committed single-row transactions in the -wal of <paramref name="path"/>, from Python.</summary>
    public static Task PythonAsync(string path, int pageSize = 4096, int commits = 100) =>
        ForeignProgram.RunPythonAsync(PythonKilledWithCommits, new Dictionary<string, string>(), path, $"{pageSize}", $"{commits}");

    /// <summary>The same from the sqlite3 shell (Walden's SQLite), killed with SIGKILL.</summary>
    public static async Task ShellAsync(string path, int pageSize = 4096, int commits = 100)
    {
        using var shell = new SqliteShell(path);
        await shell.RunAsync($"PRAGMA page_size={pageSize}; PRAGMA journal_mode=WAL; CREATE TABLE t(id INTEGER PRIMARY KEY, x); " +
            "PRAGMA wal_checkpoint(TRUNCATE); PRAGMA wal_autocheckpoint=0;");
        await shell.RunAsync(string.Concat(Enumerable.Repeat("INSERT INTO t(x) VALUES (randomblob(100));\n", commits)));
        shell.Kill();
    }

    /// <summary>The same from Node's better-sqlite3.</summary>
    public static async Task NodeAsync(string path, int pageSize = 4096, int commits = 100)
    {
        var module = await BetterSqlite3.EnsureInstalledAsync();
        var info = new ProcessStartInfo("node") { RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { "-e", NodeKilledWithCommits, module, path, $"{pageSize}", $"{commits}" })
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info)!;
        var stderr = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.True(process.ExitCode is 137 or -9 or 9, $"node: {process.ExitCode} {stderr}");
    }

    /// <summary>The page size the -wal's header names.</summary>
    public static int PageSize(string path) => (int)BinaryPrimitives.ReadUInt32BigEndian(Read(path + "-wal", 8, 4));

    /// <summary>Where frame <paramref name="frame"/> (1-based) starts in the -wal.</summary>
    public static long FrameOffset(string path, int frame) => 32 + ((long)(frame - 1) * (24 + PageSize(path)));

    /// <summary>Whole frames in the -wal.</summary>
    public static int Frames(string path) => (int)((new FileInfo(path + "-wal").Length - 32) / (24 + PageSize(path)));

    /// <summary>
    /// Damages the -wal of <paramref name="path"/> at <paramref name="frame"/> (0: the WAL header) as <paramref name="kind"/> says:
    /// "data" (a byte of the page), "pgno" (the page number), "checksum" (the stored checksum), "salt", "sector" (a 512-byte
    /// sector of the page zeroed), "frame" (the whole frame zeroed), "header" (the WAL header's checkpoint sequence).
    /// </summary>
    public static void Damage(string path, int frame, string kind)
    {
        var wal = path + "-wal";
        var pageSize = PageSize(path);
        var start = frame == 0 ? 0 : FrameOffset(path, frame);
        switch (kind)
        {
            case "data": Flip(wal, start + 24 + (pageSize / 2)); break;
            case "pgno": Flip(wal, start + 3); break;
            case "checksum": Flip(wal, start + 17); break;
            case "salt": Flip(wal, start + 9); break;
            case "header": Flip(wal, 12); break;
            case "sector":
                // The page's last whole sector: a table leaf keeps its cells at the end (zeros elsewhere would change nothing).
                var sector = ((start + 24 + pageSize) / 512 * 512) - 512;
                Assert.True(sector >= start + 24, "the sector lies inside the page");
                Write(wal, sector, new byte[512]);
                break;
            case "frame": Write(wal, start, new byte[24 + pageSize]); break;
            default: throw new ArgumentException(kind, nameof(kind));
        }
    }

    /// <summary>Rows SQLite reads from the database (on a private copy of it and its -wal: the user's files are not opened).</summary>
    public static long RowsSqliteReads(string path, string scratch)
    {
        Directory.CreateDirectory(scratch);
        var copy = Path.Combine(scratch, "copy.db");
        File.Copy(path, copy, overwrite: true);
        if (File.Exists(path + "-wal"))
        {
            File.Copy(path + "-wal", copy + "-wal", overwrite: true);
        }

        using var connection = Sql.OpenDirect(copy);
        return connection.Scalar<long>("SELECT count(*) FROM t");
    }

    /// <summary>The frames (1-based) of the -wal's current generation whose "database size after commit" field is set.</summary>
    public static List<int> CommitFrames(string path)
    {
        var bytes = File.ReadAllBytes(path + "-wal");
        var pageSize = PageSize(path);
        var salts = bytes.AsSpan(16, 8).ToArray();
        var commits = new List<int>();
        for (var frame = 1; 32 + ((long)frame * (24 + pageSize)) <= bytes.Length; frame++)
        {
            var at = (int)FrameOffset(path, frame);
            if (bytes.AsSpan(at + 8, 8).SequenceEqual(salts) && BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(at + 4)) != 0)
            {
                commits.Add(frame);
            }
        }

        return commits;
    }

    private static void Flip(string file, long offset)
    {
        using var stream = new FileStream(file, FileMode.Open, FileAccess.ReadWrite);
        stream.Position = offset;
        var b = stream.ReadByte();
        stream.Position = offset;
        stream.WriteByte((byte)(b ^ 0xFF));
    }

    private static void Write(string file, long offset, byte[] bytes)
    {
        using var stream = new FileStream(file, FileMode.Open, FileAccess.ReadWrite);
        stream.Position = offset;
        stream.Write(bytes);
    }

    private static byte[] Read(string file, long offset, int count)
    {
        using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        stream.Position = offset;
        var bytes = new byte[count];
        stream.ReadExactly(bytes);
        return bytes;
    }
}
