using System.Text.Json;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Cli;

/// <summary>
/// <c>walden checkpoint</c> on a rollback-journal database a killed program left with a hot journal: it refuses (exit 2) and
/// says so (a hot journal, not WAL, nothing done), and changes no file. Opening it would have made SQLite roll the journal
/// back in place, after which it said only "nothing to checkpoint".
/// </summary>
public sealed class CheckpointHotJournalTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData("DELETE", false)]
    [InlineData("TRUNCATE", false)]
    [InlineData("PERSIST", false)]
    [InlineData("DELETE", true)]
    public async Task Checkpoint_OnAHotJournal_SaysSo_Exits2_AndLeavesTheDatabaseAndJournalAsTheyWere(string journalMode, bool schemaChange)
    {
        var path = _dir.File("hot.db");
        var killed = (schemaChange ? ForeignProgram.KilledMidSchemaChange : ForeignProgram.KilledMidTransaction).Replace(
            "con.execute(\"PRAGMA cache_size=2\")", $"con.execute(\"PRAGMA journal_mode={journalMode}\")\ncon.execute(\"PRAGMA cache_size=2\")",
            StringComparison.Ordinal);
        Assert.Contains($"journal_mode={journalMode}", killed, StringComparison.Ordinal);
        await ForeignProgram.RunPythonAsync(killed, path);
        Assert.True(new FileInfo(path + "-journal").Length > 0);
        var before = ForeignProgram.Snapshot(_dir.Path);

        var text = await WaldenCli.RunAsync("checkpoint", path);
        var json = await WaldenCli.RunAsync("checkpoint", path, "--mode", "truncate", "--json");

        Assert.True(text.ExitCode == 2, text.Stdout + text.Stderr);
        Assert.Contains("has a hot rollback journal ('hot.db-journal'", text.Stderr, StringComparison.Ordinal);
        Assert.Contains("not WAL", text.Stderr, StringComparison.Ordinal);
        Assert.Contains("Nothing was done", text.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("is in journal mode", text.Stdout, StringComparison.Ordinal);
        Assert.Equal(2, json.ExitCode);
        using var document = JsonDocument.Parse(json.Stdout);
        Assert.Contains("hot rollback journal", document.RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal(before, ForeignProgram.Snapshot(_dir.Path)); // not rolled back: database and journal byte-identical
    }

    /// <summary>
    /// A WAL database beside a hot journal (another program's, copied or renamed here, or one from before the switch to WAL):
    /// SQLite rolls such a journal back before it reads any -wal (pager.c, sqlite3PagerSharedLock), so checkpoint refuses as
    /// for any hot journal, but no longer says that the database is in rollback-journal mode: its header says WAL.
    /// </summary>
    [Fact]
    public async Task Checkpoint_OnAWalDatabaseBesideAHotJournal_SaysTheHeaderSaysWal_AndLeavesBothAsTheyWere()
    {
        var path = _dir.File("wal.db");
        await ForeignProgram.RunPythonAsync(ForeignProgram.ClosedWal, path);
        var other = _dir.File("other.db");
        await ForeignProgram.RunPythonAsync(ForeignProgram.KilledMidTransaction, other);
        File.Move(other + "-journal", path + "-journal");
        File.Delete(other);
        var before = ForeignProgram.Snapshot(_dir.Path);

        var (exit, stdout, stderr) = await WaldenCli.RunAsync("checkpoint", path);

        Assert.True(exit == 2, stdout + stderr);
        Assert.Contains("although its header says WAL", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("is in rollback-journal mode", stderr, StringComparison.Ordinal);
        Assert.Equal(before, ForeignProgram.Snapshot(_dir.Path));

        // The doctor: a danger (it advised keeping the journal for the next program to roll back, which would write another
        // file's pages into this one), with the same reading.
        var doctor = await WaldenCli.RunAsync("doctor", path, "--json");
        using var report = JsonDocument.Parse(doctor.Stdout);
        var finding = report.RootElement.GetProperty("findings").EnumerateArray().Single(f => f.GetProperty("check").GetString() == "hot journal");
        Assert.Equal("danger", finding.GetProperty("severity").GetString());
        Assert.Contains("header says WAL", finding.GetProperty("seen").GetString(), StringComparison.Ordinal);
        Assert.Equal(1, doctor.ExitCode);
        Assert.Equal(before, ForeignProgram.Snapshot(_dir.Path));
    }
}
