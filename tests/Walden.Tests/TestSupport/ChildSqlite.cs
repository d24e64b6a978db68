using System.Diagnostics;

namespace Walden.Tests.TestSupport;

/// <summary>Another process (the sqlite3 shell) that tries one thing on a database and says whether it could.</summary>
internal static class ChildSqlite
{
    /// <summary>
    /// Whether another process can take the database EXCLUSIVE right now (locking_mode=EXCLUSIVE, then BEGIN EXCLUSIVE,
    /// no busy wait): it cannot while any connection of this process holds a read transaction, in WAL or rollback mode.
    /// The child ends its transaction at once (nothing is written).
    /// </summary>
    public static bool CanTakeExclusive(string path) => Run(path, "PRAGMA locking_mode=EXCLUSIVE;", "BEGIN EXCLUSIVE;", "ROLLBACK;");

    /// <summary>Whether another process can insert a row into table <paramref name="table"/> right now (no busy wait).</summary>
    public static bool CanInsert(string path, string table, string value) => Run(path, $"INSERT INTO {table} VALUES ('{value}');");

    /// <summary>Whether another process can read table <paramref name="table"/> right now (no busy wait).</summary>
    public static bool CanRead(string path, string table) => Run(path, $"SELECT count(*) FROM {table};");

    /// <summary>Runs statements in the 3.54.1 sqlite3 shell (busy timeout 0); false when SQLite said the database is locked.</summary>
    private static bool Run(string path, params string[] statements)
    {
        var info = new ProcessStartInfo(SqliteShell.BinaryPath)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add("-bail");
        info.ArgumentList.Add(path);
        foreach (var statement in statements)
        {
            info.ArgumentList.Add(statement);
        }

        using var process = Process.Start(info)!;
        var output = process.StandardOutput.ReadToEnd();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode == 0)
        {
            return true;
        }

        return error.Contains("database is locked", StringComparison.Ordinal)
            ? false
            : throw new InvalidOperationException($"sqlite3 child failed: {output} {error}");
    }
}
