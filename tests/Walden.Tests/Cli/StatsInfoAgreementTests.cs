using System.Text.Json;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Cli;

/// <summary>
/// <c>walden info</c> and <c>walden stats</c> say the same, true thing about a database's journal mode and its -wal and -shm:
/// a file that is not there is null ("none"), never a 0-byte file, and what they report is the user's folder as it was, not the
/// empty -wal and -shm SQLite creates for the moment it reads a closed WAL database. The header records only WAL or rollback;
/// which rollback mode a program uses is its connection's choice, so they say "rollback" (they said "delete" for every
/// program's file, TRUNCATE, PERSIST, MEMORY and OFF alike), and what a leftover -journal shows of it: 0 bytes from TRUNCATE,
/// a zeroed header from PERSIST.
/// </summary>
public sealed class StatsInfoAgreementTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData("delete", "rollback", null)]
    [InlineData("truncate", "rollback", "truncate")]
    [InlineData("persist", "rollback", "persist")]
    [InlineData("memory", "rollback", null)]
    [InlineData("off", "rollback", null)]
    [InlineData("wal", "wal", null)]
    [InlineData("wal-killed", "wal", null)]
    public async Task InfoAndStats_AgreeOnTheJournalModeAndTheWalAndShm_AsTheFolderHasThem(string kind, string journalMode, string? seenInJournal)
    {
        var path = _dir.File("app.db");
        var mode = kind == "wal-killed" ? "wal" : kind;
        var exit = kind == "wal-killed" ? "os.kill(os.getpid(), 9)" : "con.close()";
        await ForeignProgram.RunPythonAsync($"""
            import sqlite3, sys, os
            con = sqlite3.connect(sys.argv[1], isolation_level=None)
            con.execute("PRAGMA journal_mode={mode}")
            con.execute("PRAGMA wal_autocheckpoint=0")
            con.execute("CREATE TABLE t(a)")
            con.execute("INSERT INTO t VALUES (1)")
            {exit}
            """, path);
        long? Size(string file) => File.Exists(file) ? new FileInfo(file).Length : null;
        var wal = Size(path + "-wal");
        var shm = Size(path + "-shm");

        var (i, s) = await InfoAndStatsAsync(path);
        using var infoDocument = i;
        using var statsDocument = s;
        static long? Bytes(JsonElement e) => e.ValueKind == JsonValueKind.Null ? null : e.GetInt64();
        Assert.Equal(journalMode, i.RootElement.GetProperty("journalMode").GetString());
        Assert.Equal(journalMode, s.RootElement.GetProperty("journalMode").GetString());
        Assert.Equal(seenInJournal, i.RootElement.GetProperty("journalModeSeenInJournal").GetString());
        Assert.Equal(seenInJournal, s.RootElement.GetProperty("journalModeSeenInJournal").GetString());
        var text = await WaldenCli.RunAsync("info", path);
        Assert.Contains(journalMode == "wal" ? "wal" : "each connection's choice; not recorded in the file", text.Stdout, StringComparison.Ordinal);
        Assert.Contains(seenInJournal is null ? "journal mode" : $"journal_mode={seenInJournal.ToUpperInvariant()}", text.Stdout, StringComparison.Ordinal);
        Assert.Equal(wal, Bytes(i.RootElement.GetProperty("walBytes")));
        Assert.Equal(wal, Bytes(s.RootElement.GetProperty("walFileBytes")));
        Assert.Equal(shm, Bytes(i.RootElement.GetProperty("shmBytes")));
        Assert.Equal(shm, Bytes(s.RootElement.GetProperty("shmFileBytes")));
        Assert.Equal(wal, Size(path + "-wal")); // and the folder is as it was
        Assert.Equal(shm, Size(path + "-shm"));
    }

    [Fact]
    public async Task InfoAndStats_BesideALiveTransactionsZeroByteJournal_DoNotCallItTruncate()
    {
        // Every rollback mode's transaction has a 0-byte -journal for a moment: SQLite takes RESERVED, creates the journal,
        // then writes its header. The moment is pinned here: the program holds its lock and the journal is made 0 bytes.
        var path = _dir.File("live.db");
        await using var python = await HoldingProcess.PythonAsync("""
            import sqlite3, sys
            c = sqlite3.connect(sys.argv[1], isolation_level=None)
            c.execute("CREATE TABLE t(a)")
            c.execute("INSERT INTO t VALUES (1)")
            c.execute("BEGIN IMMEDIATE")
            print("ready", flush=True)
            sys.stdin.readline()
            """, path);
        await File.WriteAllBytesAsync(path + "-journal", []);

        var (i, s) = await InfoAndStatsAsync(path);
        using var infoDocument = i;
        using var statsDocument = s;
        Assert.Equal(JsonValueKind.Null, i.RootElement.GetProperty("journalModeSeenInJournal").ValueKind);
        Assert.Equal(JsonValueKind.Null, s.RootElement.GetProperty("journalModeSeenInJournal").ValueKind);
        await python.StopAsync();
    }

    [Fact]
    public async Task InfoAndStats_OnAMissingDatabase_BesideALeftoverWal_BothSayItDoesNotExist()
    {
        var path = _dir.File("app.db");
        await File.WriteAllBytesAsync(path + "-wal", new byte[4096]);

        var info = await WaldenCli.RunAsync("info", path);
        var stats = await WaldenCli.RunAsync("stats", path);

        Assert.Equal(2, info.ExitCode);
        Assert.Equal(2, stats.ExitCode);
        Assert.Contains("does not exist", info.Stderr, StringComparison.Ordinal);
        Assert.Equal(info.Stderr, stats.Stderr);
    }

    /// <summary>Runs <c>info --json</c> and <c>stats --json</c> on <paramref name="path"/>; both must exit 0.</summary>
    private static async Task<(JsonDocument Info, JsonDocument Stats)> InfoAndStatsAsync(string path)
    {
        var info = await WaldenCli.RunAsync("info", path, "--json");
        var stats = await WaldenCli.RunAsync("stats", path, "--json");
        Assert.True(info.ExitCode == 0, info.Stderr);
        Assert.True(stats.ExitCode == 0, stats.Stderr);
        return (JsonDocument.Parse(info.Stdout), JsonDocument.Parse(stats.Stdout));
    }
}
