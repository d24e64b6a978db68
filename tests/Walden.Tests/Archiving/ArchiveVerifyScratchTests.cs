using Walden.Tests.TestSupport;
using Xunit.Abstractions;
using static Walden.Tests.Archiving.ArchiveChecks;

namespace Walden.Tests.Archiving;

/// <summary>
/// A verification or restore drill whose scratch folder (the temporary folder) is full or read-only blames that folder, not
/// the archive: <c>walden archive verify</c> exits 2 naming TMPDIR and records nothing in the archive, and a drill that cannot
/// run makes health Degraded saying so, never Healthy as if the archive had been proven.
/// </summary>
public sealed class ArchiveVerifyScratchTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly ITestOutputHelper _output;

    public ArchiveVerifyScratchTests(ITestOutputHelper output) => _output = output;

    public void Dispose() => _dir.Dispose();

    private string Archive => _dir.File("archive");

    private static void Spoil(SmallMount mount, string how)
    {
        if (how == "full")
        {
            mount.Fill(bytesLeft: 0);
        }
        else
        {
            mount.MakeReadOnly();
        }
    }

    [Theory]
    [InlineData("full")]
    [InlineData("read-only")]
    public async Task VerifyCommand_WithAScratchFolderThatCannotTakeTheRestore_NamesTmpdir_AndRecordsNothingInTheArchive(string how)
    {
        using var mount = SmallMount.TryCreate(1, out var reason);
        if (mount is null)
        {
            _output.WriteLine(reason);
            return;
        }

        Directory.CreateDirectory(Archive);
        await using (var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), Options(WaldenArchiveMode.Sync, new WaldenFolderDestination(Archive))))
        {
            await db.WriteAsync(c => c.Exec("CREATE TABLE t(a); INSERT INTO t SELECT randomblob(1000) FROM (SELECT 1 UNION ALL SELECT 2)"));
        }

        Spoil(mount, how);
        var (exitCode, _, stderr) = await WaldenCli.RunAsync(new Dictionary<string, string> { ["TMPDIR"] = mount.Path }, "archive", "verify", Archive);

        Assert.Equal(2, exitCode);
        var error = stderr.ReplaceLineEndings(string.Empty);
        Assert.Contains("(TMPDIR)", error, StringComparison.Ordinal);
        Assert.Contains("The archive itself was not judged", error, StringComparison.Ordinal);
        Assert.DoesNotContain("drill.db", error, StringComparison.Ordinal);
        Assert.Null((await WaldenArchive.GetStatusAsync(Archive)).LastVerification);
    }

    [Theory]
    [InlineData("full")]
    [InlineData("read-only")]
    public async Task ADrillThatCannotRunForItsScratchFolder_MakesHealthDegradedSayingSo_NotHealthy(string how)
    {
        using var mount = SmallMount.TryCreate(1, out var reason);
        if (mount is null)
        {
            _output.WriteLine(reason);
            return;
        }

        Directory.CreateDirectory(Archive);
        await using var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), Options(WaldenArchiveMode.Sync, new WaldenFolderDestination(Archive)));
        await db.WriteAsync(c => c.Exec("CREATE TABLE t(a); INSERT INTO t SELECT randomblob(1000) FROM (SELECT 1 UNION ALL SELECT 2)"));
        db.Archiver!.DrillScratchFolder = mount.Path;
        Spoil(mount, how);

        var result = db.Archiver.RunDrill();

        Assert.False(result.Complete);
        var health = db.GetHealth();
        Assert.Equal(WaldenHealthStatus.Degraded, health.Status);
        Assert.Contains(health.Reasons, r => r.Contains("could not run", StringComparison.Ordinal) && r.Contains(mount.Path, StringComparison.Ordinal));
        Assert.Null((await WaldenArchive.GetStatusAsync(Archive)).LastVerification);
    }

    [Fact]
    public async Task AVerificationKilledBeforeItsEnd_LeavesAScratchFolderTheNextOneRemoves()
    {
        Directory.CreateDirectory(Archive);
        await using (var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), Options(WaldenArchiveMode.Sync, new WaldenFolderDestination(Archive))))
        {
            await db.WriteAsync(c => c.Exec("CREATE TABLE t(a); INSERT INTO t VALUES (1)"));
        }

        var temp = _dir.File("tmp");
        Directory.CreateDirectory(temp);
        var environment = new Dictionary<string, string> { ["TMPDIR"] = temp };
        await WaldenCli.KillAtAsync("archive-restore-built", environment, "archive", "verify", Archive);
        Assert.NotEmpty(Directory.EnumerateDirectories(temp, "walden-archive-drill-*"));

        var (exitCode, stdout, stderr) = await WaldenCli.RunAsync(environment, "archive", "verify", Archive);

        Assert.True(exitCode == 0, stdout + stderr);
        Assert.Empty(Directory.EnumerateFileSystemEntries(temp, "walden-archive-drill-*"));
    }
}
