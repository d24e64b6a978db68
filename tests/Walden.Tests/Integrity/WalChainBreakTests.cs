using Walden.Integrity;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Integrity;

/// <summary>
/// A program killed with committed transactions in its -wal, one frame of which then rots: SQLite's recovery stops at the first
/// frame whose checksum or salts fail and ignores every committed transaction after it, intact as they are. The check calls
/// such a file corrupt, naming the frame and how many committed transactions SQLite ignores; the engine refuses to open it
/// before any connection could checkpoint them away (or, with CorruptionPolicy = Recover, keeps the original with its -wal in
/// quarantine). Before, the check said healthy and the open went on. Torn tails, an earlier generation's frames and a rolled-back
/// transaction's leftovers are no such damage.
/// </summary>
public sealed class WalChainBreakTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData("python", 4096, 21, "data")]
    [InlineData("python", 1024, 21, "data")]
    [InlineData("python", 65536, 21, "data")]
    [InlineData("python", 4096, 21, "pgno")]
    [InlineData("python", 4096, 21, "checksum")]
    [InlineData("python", 4096, 21, "salt")]
    [InlineData("python", 4096, 21, "sector")]
    [InlineData("python", 1024, 30, "sector")]
    [InlineData("python", 4096, 21, "frame")]
    [InlineData("python", 4096, 1, "data")]
    [InlineData("python", 4096, 0, "header")]
    [InlineData("shell", 4096, 21, "data")]
    [InlineData("shell", 65536, 50, "sector")]
    [InlineData("shell", 512, 60, "checksum")]
    public async Task CheckFile_WhenCommittedFramesFollowADamagedFrame_IsCorrupt_NamingTheFrameAndTheCommitsSqliteIgnores(
        string program, int pageSize, int frame, string kind)
    {
        var path = _dir.File("app.db");
        await (program == "python" ? DamagedWal.PythonAsync(path, pageSize) : DamagedWal.ShellAsync(path, pageSize));
        var commits = DamagedWal.CommitFrames(path);
        Assert.Equal(100, commits.Count);
        DamagedWal.Damage(path, frame, kind);
        // A zeroed frame takes the checksum the next frame continues from with it: that frame cannot be verified.
        var expected = commits.Count(f => f > frame && !(kind == "frame" && f == frame + 1));

        AssertIgnoredCommits(path, frame, commits.Count(f => f < frame), expected);
    }

    [Fact]
    public async Task CheckFile_WithSeveralDamagedFrames_NamesTheFirst_AndCountsTheCommitsThatStillVerify()
    {
        var path = _dir.File("app.db");
        await DamagedWal.PythonAsync(path);
        var commits = DamagedWal.CommitFrames(path);
        DamagedWal.Damage(path, 21, "data");
        DamagedWal.Damage(path, 40, "data");
        DamagedWal.Damage(path, 70, "checksum");

        AssertIgnoredCommits(path, 21, commits.Count(f => f < 21), commits.Count(f => f > 21 && f != 40 && f != 70));
    }

    [NodeFact]
    public async Task CheckFile_OnANodeWalWithADamagedFrame_IsCorrupt()
    {
        var path = _dir.File("node.db");
        await DamagedWal.NodeAsync(path);
        var commits = DamagedWal.CommitFrames(path);
        DamagedWal.Damage(path, 21, "data");

        AssertIgnoredCommits(path, 21, commits.Count(f => f < 21), commits.Count(f => f > 21));
    }

    [Theory]
    [InlineData("torn")]
    [InlineData("restarted")]
    [InlineData("overwritten")]
    public async Task CheckFile_WhenNoCommitFollowsTheEndOfTheChain_IsHealthy(string kind)
    {
        var path = _dir.File("app.db");
        await ForeignProgram.RunPythonAsync(DamagedWal.PythonGuards, new Dictionary<string, string>(), path, kind);
        var rows = DamagedWal.RowsSqliteReads(path, _dir.File("scratch"));
        if (kind == "torn")
        {
            // A torn or garbage tail after the last commit: the first uncommitted frame damaged, and random bytes appended.
            DamagedWal.Damage(path, DamagedWal.CommitFrames(path).Max() + 1, "data");
            File.AppendAllBytes(path + "-wal", System.Security.Cryptography.RandomNumberGenerator.GetBytes(3 * 4120));
        }

        var check = WaldenIntegrity.CheckFile(path);

        Assert.True(check.Status == WaldenFileStatus.Healthy, string.Join(" | ", check.Findings));
        Assert.Equal(kind switch { "torn" => 100, "restarted" => 105, _ => 23 }, rows);
        Assert.Equal(rows, DamagedWal.RowsSqliteReads(path, _dir.File("scratch")));
    }

    [Fact]
    public async Task OpenAsync_WhenCommittedFramesFollowADamagedFrame_RefusesBeforeAnyConnection_AndChangesNothing()
    {
        var path = _dir.File("app.db");
        await DamagedWal.PythonAsync(path);
        DamagedWal.Damage(path, 21, "data");
        var before = ForeignProgram.Snapshot(_dir.Path);

        var refused = await Assert.ThrowsAsync<WaldenCorruptException>(() => WaldenDatabase.OpenAsync(path));

        Assert.Contains("damaged at frame 21 of", refused.Message, StringComparison.Ordinal);
        Assert.Contains("walden recover <db> --in-place", refused.Message, StringComparison.Ordinal);
        Assert.Equal(before, ForeignProgram.Snapshot(_dir.Path)); // the -wal still holds every frame: nothing checkpointed or reset
    }

    [Fact]
    public async Task OpenAsync_WithCorruptionPolicyRecover_KeepsTheOriginalWithItsWalInQuarantine_AndSaysWhatWasLeftOut()
    {
        var path = _dir.File("app.db");
        await DamagedWal.PythonAsync(path);
        var commits = DamagedWal.CommitFrames(path);
        DamagedWal.Damage(path, 21, "data");
        var damagedWal = File.ReadAllBytes(path + "-wal");

        await using (var db = await WaldenDatabase.OpenAsync(path, new WaldenOptions { CorruptionPolicy = WaldenCorruptionPolicy.Recover }))
        {
            var report = db.RecoveryAtOpen!;
            Assert.Equal(commits.Count(f => f > 21), report.WalCommitsIgnored);
            Assert.Contains(report.Notes, note => note.StartsWith("Incomplete: the write-ahead log", StringComparison.Ordinal));
            Assert.Contains(path + "-wal", report.Quarantine!.Files);
            Assert.Equal(damagedWal, File.ReadAllBytes(Path.Combine(report.Quarantine.Folder, "app.db-wal"))); // every committed frame is still there to be looked at
            Assert.Equal(commits.Count(f => f < 21), await db.ReadAsync(c => c.Scalar<long>("SELECT count(*) FROM t")));
        }
    }

    [Fact]
    public async Task OpenAsync_OnAWalReusedAfterARestart_Opens()
    {
        var path = _dir.File("app.db");
        await ForeignProgram.RunPythonAsync(DamagedWal.PythonGuards, new Dictionary<string, string>(), path, "restarted");

        await using var db = await WaldenDatabase.OpenAsync(path);

        Assert.Equal(105, await db.ReadAsync(c => c.Scalar<long>("SELECT count(*) FROM t")));
    }

    private void AssertIgnoredCommits(string path, int frame, int commitsBefore, int commitsPast)
    {
        Assert.True(commitsPast > 0);
        Assert.Equal(commitsBefore, DamagedWal.RowsSqliteReads(path, _dir.File("scratch"))); // what SQLite itself makes of it

        var check = WaldenIntegrity.CheckFile(path);

        Assert.Equal(WaldenFileStatus.Corrupt, check.Status);
        var finding = check.Findings[0];
        Assert.Contains($"'{path}-wal' is damaged {(frame == 0 ? "in its header" : $"at frame {frame} of")}", finding, StringComparison.Ordinal);
        Assert.Contains($"ignores the {commitsPast} committed transaction", finding, StringComparison.Ordinal);
        Assert.Contains($"reads the {commitsBefore} committed transaction", finding, StringComparison.Ordinal);
        Assert.Contains("Keep the -wal", finding, StringComparison.Ordinal);
    }
}
