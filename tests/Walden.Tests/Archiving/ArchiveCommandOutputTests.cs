using System.Text.Json;
using Walden.Tests.TestSupport;
using Xunit.Abstractions;
using static Walden.Tests.Archiving.ArchiveChecks;

namespace Walden.Tests.Archiving;

/// <summary>
/// What <c>walden restore &lt;archive&gt;</c> and <c>walden archive verify</c> print when the archive is damaged: a restore
/// that stops early says where (the file written, its base, transaction and time) in text and in --json, and --json is one
/// document with the facts, <c>error</c> and <c>exitCode</c>. A partial restore with --json printed the result and then an
/// error document: two documents on stdout, which no JSON reader takes. A verification of an archive that cannot be
/// written still verifies and says that its outcome was not recorded, and why (it was silent).
/// </summary>
public sealed class ArchiveCommandOutputTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly ITestOutputHelper _output;

    public ArchiveCommandOutputTests(ITestOutputHelper output) => _output = output;

    public void Dispose() => _dir.Dispose();

    private string Archive => _dir.File("archive");

    /// <summary>An archive of five one-row transactions, one segment each, whose third segment is damaged; returns the txids.</summary>
    private async Task<List<long>> DamagedArchiveAsync(string? archive = null, bool damage = true)
    {
        archive ??= Archive;
        Directory.CreateDirectory(archive);
        var txids = new List<long>();
        var segmentPerBatch = new WaldenFolderDestination(archive) { UseAppendLog = false };
        await using (var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), Options(WaldenArchiveMode.Sync, segmentPerBatch)))
        {
            await db.WriteAsync(c => c.Exec("CREATE TABLE t(a)"));
            for (var i = 1; i <= 5; i++)
            {
                await Insert(db, i);
                txids.Add(db.Archiver!.LastTxid);
            }
        }

        if (!damage)
        {
            return txids;
        }

        var third = Directory.EnumerateFiles(archive, $"{txids[2]:D16}-*.wseg", SearchOption.AllDirectories).Single();
        var bytes = await File.ReadAllBytesAsync(third);
        bytes[bytes.Length / 2] ^= 0x40;
        await File.WriteAllBytesAsync(third, bytes);
        return txids;
    }

    [Fact]
    public async Task RestoreCommand_ThatStopsEarly_WithJson_IsOneDocumentSayingWhereItStopped_AndExits1()
    {
        var txids = await DamagedArchiveAsync();
        var output = _dir.File("out.db");

        var (exitCode, stdout, stderr) = await WaldenCli.RunAsync("restore", Archive, output, "--json");

        Assert.True(exitCode == 1, $"exit {exitCode}: {stdout} {stderr}");
        using var json = JsonDocument.Parse(stdout); // throws unless stdout is exactly one JSON document
        var root = json.RootElement;
        Assert.Equal(output, root.GetProperty("path").GetString());
        Assert.True(root.GetProperty("baseId").GetInt64() > 0);
        Assert.Equal(txids[1], root.GetProperty("txid").GetInt64());
        Assert.Equal(JsonValueKind.String, root.GetProperty("time").ValueKind);
        Assert.False(root.GetProperty("complete").GetBoolean());
        Assert.Contains($"{txids[2]:D16}", root.GetProperty("problem").GetString(), StringComparison.Ordinal);
        Assert.Contains("stopped early", root.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal(1, root.GetProperty("exitCode").GetInt32());
        Assert.True(File.Exists(output));
    }

    [Fact]
    public async Task RestoreCommand_ThatStopsEarly_InText_SaysOnBothStreamsWhereItStopped_AndExits1()
    {
        var txids = await DamagedArchiveAsync();
        var output = _dir.File("out.db");

        var (exitCode, stdout, stderr) = await WaldenCli.RunAsync("restore", Archive, output);

        Assert.Equal(1, exitCode);
        Assert.Contains($"only up to the last good moment: base", stdout, StringComparison.Ordinal);
        Assert.Contains($"through transaction {txids[1]} (committed ", stdout, StringComparison.Ordinal);
        Assert.Single(stderr.Trim().Split('\n'));
        Assert.Contains("stopped early, short of the latest state", stderr, StringComparison.Ordinal);
        Assert.Contains($"'{output}' holds base ", stderr, StringComparison.Ordinal);
        Assert.Contains($"through transaction {txids[1]} (committed ", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task VerifyCommand_OfADamagedArchive_WithJson_IsOneDocument_AndExits1()
    {
        await DamagedArchiveAsync();

        var (exitCode, stdout, stderr) = await WaldenCli.RunAsync("archive", "verify", Archive, "--json");

        Assert.True(exitCode == 1, $"exit {exitCode}: {stdout} {stderr}");
        using var json = JsonDocument.Parse(stdout);
        Assert.False(json.RootElement.GetProperty("ok").GetBoolean());
        Assert.Contains("archive verification failed", json.RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal(1, json.RootElement.GetProperty("exitCode").GetInt32());
    }

    [Fact]
    public async Task VerifyAsync_OfAnArchiveThatCanBeWritten_RecordsTheOutcome_AndSaysNothingOfIt()
    {
        await DamagedArchiveAsync(damage: false);

        var result = await WaldenArchive.VerifyAsync(Archive);

        Assert.True(result.Complete, result.Problem);
        Assert.Null(result.RecordingProblem);
        Assert.True((await WaldenArchive.GetStatusAsync(Archive)).LastVerification?.Ok);
    }

    [Theory]
    [InlineData("text")]
    [InlineData("json")]
    public async Task VerifyCommand_OfASoundReadOnlyArchive_PassesWithExit0_AndSaysTheOutcomeWasNotRecordedAndWhy(string mode)
    {
        using var mount = SmallMount.TryCreate(16, out var reason);
        if (mount is null)
        {
            _output.WriteLine(reason);
            return;
        }

        var archive = mount.File("archive");
        var txids = await DamagedArchiveAsync(archive, damage: false);
        mount.MakeReadOnly();

        var (exitCode, stdout, stderr) = mode == "json"
            ? await WaldenCli.RunAsync("archive", "verify", archive, "--json")
            : await WaldenCli.RunAsync("archive", "verify", archive);

        Assert.True(exitCode == 0, $"exit {exitCode}: {stdout} {stderr}");
        if (mode == "json")
        {
            using var json = JsonDocument.Parse(stdout);
            Assert.True(json.RootElement.GetProperty("ok").GetBoolean());
            Assert.Equal(txids[^1], json.RootElement.GetProperty("txid").GetInt64());
            Assert.False(json.RootElement.GetProperty("recorded").GetBoolean());
            Assert.Contains(archive, json.RootElement.GetProperty("recordingProblem").GetString(), StringComparison.Ordinal);
            Assert.Equal(0, json.RootElement.GetProperty("exitCode").GetInt32());
        }
        else
        {
            Assert.Contains($"through transaction {txids[^1]}", stdout, StringComparison.Ordinal);
            Assert.Contains("this outcome was not recorded in the archive", stdout, StringComparison.Ordinal);
            Assert.Contains($"'{archive}' cannot be written", stdout, StringComparison.Ordinal);
        }

        Assert.Null((await WaldenArchive.GetStatusAsync(archive)).LastVerification);
    }

    [Fact]
    public async Task VerifyCommand_OfADamagedReadOnlyArchive_FailsWithExit1_AndSaysTheOutcomeWasNotRecorded()
    {
        using var mount = SmallMount.TryCreate(16, out var reason);
        if (mount is null)
        {
            _output.WriteLine(reason);
            return;
        }

        var archive = mount.File("archive");
        await DamagedArchiveAsync(archive);
        mount.MakeReadOnly();

        var (exitCode, stdout, stderr) = await WaldenCli.RunAsync("archive", "verify", archive);

        Assert.True(exitCode == 1, $"exit {exitCode}: {stdout} {stderr}");
        Assert.Single(stderr.Trim().Split('\n'));
        Assert.Contains("archive verification failed", stderr, StringComparison.Ordinal);
        Assert.Contains("This outcome was not recorded in the archive", stderr, StringComparison.Ordinal);
        WaldenCli.AssertNoRepeatedSentence(stderr);
    }

    /// <summary>Status's --json carries error and exitCode as restore's and verify's do: it exited 1 with neither in the document.</summary>
    [Theory]
    [InlineData("an archive")]
    [InlineData("an empty folder")]
    public async Task StatusCommand_WithJson_CarriesTheExitCode_AndWhyNothingIsRestorable(string what)
    {
        if (what == "an archive")
        {
            await DamagedArchiveAsync(damage: false);
        }
        else
        {
            Directory.CreateDirectory(Archive);
        }

        var (exitCode, stdout, stderr) = await WaldenCli.RunAsync("archive", "status", Archive, "--json");

        using var json = JsonDocument.Parse(stdout);
        var root = json.RootElement;
        Assert.Equal(exitCode, root.GetProperty("exitCode").GetInt32());
        if (what == "an archive")
        {
            Assert.True(exitCode == 0, stderr);
            Assert.Equal(JsonValueKind.Null, root.GetProperty("error").ValueKind);
            Assert.Single(root.GetProperty("bases").EnumerateArray());
        }
        else
        {
            Assert.Equal(1, exitCode);
            Assert.Contains("nothing is restorable", root.GetProperty("error").GetString(), StringComparison.Ordinal);
        }
    }
    /// <summary>
    /// An archive damaged beyond any restore (its only base damaged) is a finding: `walden restore` exits 1, as `archive
    /// verify` does for the same archive; it exited 2, as if the request were wrong. A moment the archive does not hold is
    /// still a request that cannot run (2).
    /// </summary>
    [Theory]
    [InlineData("its only base damaged", 1)]
    [InlineData("a transaction after its last", 2)]
    public async Task RestoreCommand_ExitsAsVerifyDoes_1ForADamagedArchive_2ForAWrongRequest(string kind, int expected)
    {
        var txids = await DamagedArchiveAsync(damage: false);
        string[] extra = [];
        if (kind == "its only base damaged")
        {
            var baseFile = Directory.EnumerateFiles(Archive, "base.wbase", SearchOption.AllDirectories).Single();
            var bytes = await File.ReadAllBytesAsync(baseFile);
            bytes[bytes.Length / 2] ^= 0x40;
            await File.WriteAllBytesAsync(baseFile, bytes);
        }
        else
        {
            extra = ["--txid", (txids[^1] + 100).ToString(System.Globalization.CultureInfo.InvariantCulture)];
        }

        var (exitCode, stdout, stderr) = await WaldenCli.RunAsync(["restore", Archive, _dir.File("out.db"), .. extra]);
        var verify = await WaldenCli.RunAsync("archive", "verify", Archive);

        Assert.True(exitCode == expected, $"exit {exitCode}: {stdout} {stderr}");
        Assert.False(File.Exists(_dir.File("out.db")));
        if (expected == 1)
        {
            Assert.Equal(1, verify.ExitCode);
        }
    }
}
