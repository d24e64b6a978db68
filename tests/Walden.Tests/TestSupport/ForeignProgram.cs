using System.Diagnostics;
using System.Security.Cryptography;

namespace Walden.Tests.TestSupport;

/// <summary>
/// Python's sqlite3 (Debian's 3.40.1) as the foreign program that leaves a database behind: an app with
/// its own collations and functions, or one killed with SIGKILL in the middle of a transaction.
/// </summary>
internal static class ForeignProgram
{
    /// <summary>Debian's interpreter when it is there: a pyenv shim on PATH can take seconds to start.</summary>
    public static string Python => File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

    /// <summary>Runs <paramref name="script"/> with <c>python3 -c</c>; the arguments are <c>sys.argv[1:]</c>. Throws with its stderr when it fails.</summary>
    public static async Task PythonAsync(string script, params string[] arguments)
    {
        var info = new ProcessStartInfo(Python)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(script);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException("python3 did not start");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        await Task.WhenAll(stdout, stderr);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"python3 exited with {process.ExitCode}: {await stderr}");
        }
    }

    /// <summary>Overwrites one page of a closed database file with zeros (damage as a stray write leaves it).</summary>
    public static void ZeroPage(string path, long pgno, int pageSize)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Write);
        stream.Position = (pgno - 1) * pageSize;
        stream.Write(new byte[pageSize]);
    }

    /// <summary>Runs a Python script with the database path as sys.argv[1]; returns the exit code (137/-9 after a SIGKILL of itself).</summary>
    public static Task<int> RunPythonAsync(string script, string databasePath)
        => RunPythonAsync(script, new Dictionary<string, string>(), databasePath);

    /// <summary>
    /// Runs a Python script with <paramref name="arguments"/> as sys.argv[1:] and <paramref name="environment"/> on top of
    /// this process's; returns the exit code (137/-9 after a SIGKILL of itself).
    /// </summary>
    /// <exception cref="InvalidOperationException">python3 did not start, or failed other than by a SIGKILL.</exception>
    public static async Task<int> RunPythonAsync(string script, IReadOnlyDictionary<string, string> environment, params string[] arguments)
    {
        var info = new ProcessStartInfo(Python) { RedirectStandardError = true, UseShellExecute = false };
        foreach (var (name, value) in environment)
        {
            info.Environment[name] = value;
        }

        info.ArgumentList.Add("-c");
        info.ArgumentList.Add(script);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException("python3 did not start");
        var stderr = await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0 && process.ExitCode != 137 && process.ExitCode != -9)
        {
            throw new InvalidOperationException($"python3 failed ({process.ExitCode}): {stderr}");
        }

        return process.ExitCode;
    }

    /// <summary>The Android-style input: a LOCALIZED collation with UNIQUE(name), 2,000 rows, plus an ordinary table.</summary>
    public const string LocalizedCollation = """
        import sqlite3, sys
        con = sqlite3.connect(sys.argv[1])
        con.create_collation("LOCALIZED", lambda a, b: (a.lower() > b.lower()) - (a.lower() < b.lower()))
        con.execute("CREATE TABLE names(id INTEGER PRIMARY KEY, name TEXT COLLATE LOCALIZED, UNIQUE(name))")
        con.execute("CREATE TABLE plain(id INTEGER PRIMARY KEY, v TEXT)")
        con.executemany("INSERT INTO names(name) VALUES (?)", [("Name%d" % (2000 - i) if i % 2 else "name%d" % i,) for i in range(2000)])
        con.executemany("INSERT INTO plain(v) VALUES (?)", [("v%d" % i,) for i in range(100)])
        con.commit()
        con.close()
        """;

    /// <summary>
    /// An app function in every place a schema can call it: a CHECK, an index expression, a generated column,
    /// a view and a trigger; WAL mode; 2,000 rows plus an ordinary table.
    /// </summary>
    public const string AppFunctions = """
        import sqlite3, sys
        con = sqlite3.connect(sys.argv[1])
        con.create_function("valid_email", 1, lambda s: 1 if s and "@" in s else 0, deterministic=True)
        con.create_function("domain_of", 1, lambda s: s.split("@")[-1] if s else None, deterministic=True)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("CREATE TABLE users(id INTEGER PRIMARY KEY, email TEXT CHECK(valid_email(email)), "
                    "domain TEXT GENERATED ALWAYS AS (domain_of(email)) STORED)")
        con.execute("CREATE INDEX users_domain ON users(domain_of(email))")
        con.execute("CREATE VIEW valid_users AS SELECT * FROM users WHERE valid_email(email)")
        con.execute("CREATE TABLE audit(id INTEGER PRIMARY KEY, note TEXT)")
        con.execute("CREATE TRIGGER users_audit AFTER INSERT ON users BEGIN INSERT INTO audit(note) VALUES (domain_of(new.email)); END")
        con.executemany("INSERT INTO users(email) VALUES (?)", [("u%d@d%d.example" % (i, i % 7),) for i in range(2000)])
        con.commit()
        con.close()
        """;

    /// <summary>Default journal, cache_size=2, 200 rows committed, then BEGIN and 3,000 inserts, SIGKILL: a hot -journal.</summary>
    public const string KilledMidTransaction = """
        import sqlite3, sys, os
        con = sqlite3.connect(sys.argv[1], isolation_level=None)
        con.execute("PRAGMA cache_size=2")
        con.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
        for i in range(200):
            con.execute("INSERT INTO t(v) VALUES (?)", ("committed%d" % i + "x" * 100,))
        con.execute("BEGIN")
        for i in range(3000):
            con.execute("INSERT INTO t(v) VALUES (?)", ("pending%d" % i + "y" * 100,))
        os.kill(os.getpid(), 9)
        """;

    /// <summary>Another of the class: the cut-off transaction drops a table and rewrites rows of another; rollback must bring both back.</summary>
    public const string KilledMidSchemaChange = """
        import sqlite3, sys, os
        con = sqlite3.connect(sys.argv[1], isolation_level=None)
        con.execute("PRAGMA cache_size=2")
        con.execute("CREATE TABLE keep(id INTEGER PRIMARY KEY, v TEXT)")
        con.execute("CREATE TABLE doomed(id INTEGER PRIMARY KEY, v TEXT)")
        con.execute("BEGIN")
        for i in range(500):
            con.execute("INSERT INTO keep(v) VALUES (?)", ("k%d" % i + "x" * 200,))
            con.execute("INSERT INTO doomed(v) VALUES (?)", ("d%d" % i,))
        con.execute("COMMIT")
        con.execute("BEGIN")
        con.execute("DROP TABLE doomed")
        con.execute("UPDATE keep SET v = 'overwritten' || randomblob(300)")
        os.kill(os.getpid(), 9)
        """;

    /// <summary>WAL mode, 300 rows committed in the -wal, killed before closing; the caller removes the -shm (as a copy of db and -wal would).</summary>
    public const string KilledWithCommittedWal = """
        import sqlite3, sys, os
        con = sqlite3.connect(sys.argv[1], isolation_level=None)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA wal_autocheckpoint=0")
        con.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
        for i in range(300):
            con.execute("INSERT INTO t(v) VALUES (?)", ("row%d" % i,))
        os.kill(os.getpid(), 9)
        """;

    /// <summary>A WAL database whose writer was killed after one row in t(a): its -wal and -shm stay beside it.</summary>
    public const string KilledInWalWithOneRow = """
        import sqlite3, sys, os
        con = sqlite3.connect(sys.argv[1], isolation_level=None)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA wal_autocheckpoint=0")
        con.execute("CREATE TABLE t(a)")
        con.execute("INSERT INTO t VALUES (1)")
        os.kill(os.getpid(), 9)
        """;

    /// <summary>A WAL database closed cleanly: SQLite removed its -wal and -shm.</summary>
    public const string ClosedWal = """
        import sqlite3, sys
        con = sqlite3.connect(sys.argv[1])
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("CREATE TABLE t(id INTEGER PRIMARY KEY, v TEXT)")
        con.executemany("INSERT INTO t(v) VALUES (?)", [("r%d" % i,) for i in range(500)])
        con.commit()
        con.close()
        """;

    /// <summary>Every file in <paramref name="folder"/> (recursively) with its SHA-256: what "left as it was found" compares.</summary>
    public static SortedDictionary<string, string> Snapshot(string folder)
    {
        var files = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var file in Directory.EnumerateFiles(folder, "*", SearchOption.AllDirectories))
        {
            files[Path.GetRelativePath(folder, file)] = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(file)));
        }

        return files;
    }
}
