using System.Globalization;
using Walden.Archiving;
using Walden.Tests.TestSupport;
using static Walden.Tests.Archiving.ArchiveChecks;

namespace Walden.Tests.Archiving;

/// <summary>
/// The archive in an S3-compatible object store (<see cref="WaldenS3Destination"/>), against a real server (s3rver) started on
/// loopback for each test: archiving in both modes, restore to the latest state, a transaction and a moment, verify, status,
/// retention, and the faults (server down in Sync and Async mode, a damaged object).
/// </summary>
public sealed class S3ArchiveTests : IAsyncLifetime
{
    private readonly TempDirectory _dir = new();
    private S3Server _server = null!;

    public async Task InitializeAsync() => _server = await S3Server.StartAsync(_dir.File("s3"));

    public async Task DisposeAsync()
    {
        await _server.DisposeAsync();
        _dir.Dispose();
    }

    private static WaldenOptions Options(WaldenArchiveMode mode, IWaldenArchiveDestination destination, TimeProvider? time = null) =>
        ArchiveChecks.Options(mode, destination, time);

    private static Task Insert(WaldenDatabase db, int value) => ArchiveChecks.Insert(db, value);

    private async Task AssertRestoredHasAsync(IWaldenArchiveDestination source, IReadOnlyCollection<int> acknowledged)
    {
        var restored = _dir.File($"restored-{Guid.NewGuid():N}.db");
        ArchiveChecks.AssertHoldsAcknowledged(await WaldenArchive.RestoreAsync(source, restored), restored, acknowledged);
    }

    [Theory]
    [InlineData(WaldenArchiveMode.Sync)]
    [InlineData(WaldenArchiveMode.Async)]
    public async Task S3_RestoreFromTheBucketAlone_HasEveryCommittedWriteAndSchemaChange(WaldenArchiveMode mode)
    {
        var path = _dir.File("app.db");
        using var destination = _server.Destination("prod/app");
        await using (var db = await WaldenDatabase.OpenAsync(path, Options(mode, destination)))
        {
            await ArchiveChecks.WriteEveryKindAsync(db, rows: 300);
        }

        // Everything lives under the prefix, in the bucket: nothing beside the server's own data.
        Assert.True(Directory.Exists(Path.Combine(_server.DataDirectory, S3Server.Bucket, "prod", "app")));
        var restored = _dir.File("restored.db");
        using var reader = _server.Destination("prod/app/");
        var result = await WaldenArchive.RestoreAsync(reader, restored);

        ArchiveChecks.AssertHoldsEveryKind(result, path, restored);
    }

    [Fact]
    public async Task S3_RestoreToATxidOrAMoment_VerifyAndStatus_WorkOnTheBucket()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        using var destination = _server.Destination("db");
        var txids = new List<long>();
        await using (var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), Options(WaldenArchiveMode.Sync, destination, time)))
        {
            await db.WriteAsync(c => c.Exec("CREATE TABLE t(a INTEGER PRIMARY KEY)"));
            for (var i = 1; i <= 10; i++)
            {
                // Seconds apart, not minutes: the archive's maintenance (a 1 s loop of real time) compacts once 30 s of this
                // clock passed, and on a loaded machine it ran after the last write, leaving the Compact below nothing to merge.
                time.Advance(TimeSpan.FromSeconds(2));
                await Insert(db, i);
                txids.Add(db.Archiver!.LastTxid);
            }
        }

        var byTxid = await WaldenArchive.RestoreAsync(destination, _dir.File("at-txid.db"), new WaldenArchiveRestoreOptions { Txid = txids[3] });
        Assert.True(byTxid.Complete, byTxid.Problem);
        Assert.Equal(4, Count(_dir.File("at-txid.db")));
        var at = DateTimeOffset.Parse("2026-01-01T00:00:13Z", CultureInfo.InvariantCulture);
        var byTime = await WaldenArchive.RestoreAsync(destination, _dir.File("at-time.db"), new WaldenArchiveRestoreOptions { At = at });
        Assert.True(byTime.Complete, byTime.Problem);
        Assert.Equal(6, Count(_dir.File("at-time.db")));

        var verified = await WaldenArchive.VerifyAsync(destination);
        Assert.True(verified.Complete, verified.Problem);
        Assert.Equal(txids[^1], verified.Txid);
        var status = await WaldenArchive.GetStatusAsync(destination);
        Assert.Equal(destination.Name, status.Destination);
        var only = Assert.Single(status.Bases);
        Assert.Equal(txids[^1], only.LastTxid);
        Assert.Equal(txids[^1], status.LastTxid);
        Assert.True(status.LastVerification!.Ok);

        // Compaction on the bucket: the merged segment replaces the run, and every moment stays restorable.
        var before = destination.List(string.Empty).Count(o => o.Name.EndsWith(".wseg", StringComparison.Ordinal));
        Assert.True(Archiver.Compact(destination, 1024 * 1024) > 0);
        Assert.True(destination.List(string.Empty).Count(o => o.Name.EndsWith(".wseg", StringComparison.Ordinal)) < before);
        var compacted = await WaldenArchive.RestoreAsync(destination, _dir.File("compacted.db"), new WaldenArchiveRestoreOptions { Txid = txids[3] });
        Assert.True(compacted.Complete, compacted.Problem);
        Assert.Equal(4, Count(_dir.File("compacted.db")));
    }

    [Fact]
    public async Task S3_ListingFollowsContinuationTokens_SoEveryObjectIsSeenAndRestored()
    {
        using var destination = _server.Destination("paged");
        await using (var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), Options(WaldenArchiveMode.Sync, destination)))
        {
            await db.WriteAsync(c => c.Exec("CREATE TABLE t(a)"));
            for (var i = 0; i < 12; i++)
            {
                await Insert(db, i);
            }
        }

        using var paged = _server.Destination("paged", o => o.ListPageSize = 5);
        var all = destination.List(string.Empty);
        Assert.True(all.Count > 12, $"{all.Count} objects");
        Assert.Equal(all.Select(o => o.Name).Order(StringComparer.Ordinal), paged.List(string.Empty).Select(o => o.Name).Order(StringComparer.Ordinal));
        Assert.All(all, o => Assert.True(o.Length > 0));
        await AssertRestoredHasAsync(paged, Enumerable.Range(0, 12).ToList());
    }

    [Fact]
    public async Task S3_AnObjectIsNeverOverwritten_EvenOnAServerThatIgnoresIfNoneMatch()
    {
        using var destination = _server.Destination("immutable");
        destination.Put("0000000001/base.wbase", new MemoryStream("first"u8.ToArray()));

        var error = Assert.Throws<IOException>(() => destination.Put("0000000001/base.wbase", new MemoryStream("second"u8.ToArray())));

        Assert.Contains("already exists", error.Message, StringComparison.Ordinal);
        Assert.Contains(destination.Name, error.Message, StringComparison.Ordinal);
        using var stored = new StreamReader(destination.OpenRead("0000000001/base.wbase"));
        Assert.Equal("first", await stored.ReadToEndAsync());
    }

    [Theory]
    [InlineData(100_000, false)] // the server's MD5 ETag still describes the stored bytes: the SDK catches it, and the SHA-256
    [InlineData(100_000, true)] // the server recomputed its checksum over the damaged bytes: only Walden's SHA-256 catches it
    [InlineData(6 * 1024 * 1024, true)] // the same for an object stored in parts
    public async Task S3_AnObjectDamagedInTheStore_IsRefusedOnRead(int size, bool serverChecksumRecomputed)
    {
        using var destination = _server.Destination("rot", o => o.MultipartThresholdBytes = 5L * 1024 * 1024);
        var content = new byte[size];
        Random.Shared.NextBytes(content);
        destination.Put("0000000001/0000000000000002-0000000000000002.wseg", new MemoryStream(content));
        var file = _server.ObjectFile("rot/0000000001/0000000000000002-0000000000000002.wseg");
        var bytes = await File.ReadAllBytesAsync(file);
        bytes[size / 2] ^= 0x10; // one bit flipped on the server's disk, same length
        await File.WriteAllBytesAsync(file, bytes);
        if (serverChecksumRecomputed)
        {
            File.Delete(file + ".md5"); // s3rver's cached MD5: it computes a new one from the damaged bytes
        }

        var error = Assert.Throws<InvalidDataException>(() => destination.OpenRead("0000000001/0000000000000002-0000000000000002.wseg"));
        Assert.Contains("does not match the", error.Message, StringComparison.Ordinal);
        Assert.Contains(destination.Name, error.Message, StringComparison.Ordinal);
        Assert.Throws<FileNotFoundException>(() => destination.OpenRead("0000000001/missing.wseg"));
    }

    [Fact]
    public async Task S3_LargeObjectsGoUpInParts_AndReadBackWhole()
    {
        using var destination = _server.Destination("big", o => o.MultipartThresholdBytes = 5L * 1024 * 1024);
        var content = new byte[(12 * 1024 * 1024) + 123];
        Random.Shared.NextBytes(content);

        destination.Put("0000000001/base.wbase", new MemoryStream(content));

        using var read = destination.OpenRead("0000000001/base.wbase");
        using var copy = new MemoryStream();
        await read.CopyToAsync(copy);
        Assert.True(content.AsSpan().SequenceEqual(copy.ToArray()));
        Assert.Throws<IOException>(() => destination.Put("0000000001/base.wbase", new MemoryStream(content)));
    }

    [Fact]
    public async Task S3_ACorruptSegment_RestoreStopsAtTheLastGoodMomentBeforeItAndSaysSo()
    {
        using var destination = _server.Destination("corrupt");
        await using (var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), Options(WaldenArchiveMode.Sync, destination)))
        {
            await db.WriteAsync(c => c.Exec("CREATE TABLE t(a)"));
            for (var i = 1; i <= 5; i++)
            {
                await Insert(db, i);
            }
        }

        // The segment with the third insert: damaged on the server's disk.
        var segments = destination.List(string.Empty).Select(o => o.Name).Where(n => n.EndsWith(".wseg", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal).ToList();
        Assert.Equal(6, segments.Count);
        var damaged = segments[3];
        var file = _server.ObjectFile("corrupt/" + damaged);
        var bytes = await File.ReadAllBytesAsync(file);
        bytes[^40] ^= 1;
        await File.WriteAllBytesAsync(file, bytes);

        var restored = _dir.File("restored.db");
        var result = await WaldenArchive.RestoreAsync(destination, restored);

        Assert.False(result.Complete);
        Assert.Contains(damaged, result.Problem, StringComparison.Ordinal);
        Assert.Contains("last good moment", result.Problem, StringComparison.Ordinal);
        Assert.Equal(2, Count(restored));
        var verified = await WaldenArchive.VerifyAsync(destination);
        Assert.False(verified.Complete);
        Assert.Contains(damaged, verified.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task S3_Retention_DeletesOnlyBasesOlderThanAVerifiedBaseOutsideTheWindow()
    {
        var time = new FakeTimeProvider();
        using var destination = _server.Destination("retention");
        for (var run = 0; run < 3; run++)
        {
            ForgetPageMap(_dir.File("app.db")); // each open takes a base
            await using var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), Options(WaldenArchiveMode.Sync, destination, time));
            await db.WriteAsync(c => c.Exec("CREATE TABLE IF NOT EXISTS t(a); INSERT INTO t VALUES (1)"));
            time.Advance(TimeSpan.FromDays(1));
        }

        Assert.Equal(0, Archiver.ApplyRetention(destination, TimeSpan.FromHours(1), time.GetUtcNow())); // never verified: nothing goes
        Assert.True(WaldenArchive.Verify(destination, time, CancellationToken.None).Complete);

        Assert.Equal(1, Archiver.ApplyRetention(destination, TimeSpan.FromDays(1.5), time.GetUtcNow()));
        var bases = destination.List(string.Empty).Select(o => ArchiveFormat.Parse(o.Name)).Where(p => p is { IsBase: true }).ToList();
        Assert.Equal(2, bases.Count);
        Assert.DoesNotContain(destination.List(string.Empty), o => ArchiveFormat.Parse(o.Name) is { } p && p.BaseId < bases.Min(b => b!.BaseId));
        var result = await WaldenArchive.RestoreAsync(destination, _dir.File("restored.db"));
        Assert.True(result.Complete, result.Problem);
        Assert.Equal(3, Count(_dir.File("restored.db")));
    }

    [Fact]
    public async Task S3_Sync_WhenTheServerIsDown_WritesFailNamingItAndNothingAcknowledgedIsMissingOnceItIsBack()
    {
        using var destination = _server.Destination("sync-down");
        var acknowledged = new List<int>();
        await using (var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), Options(WaldenArchiveMode.Sync, destination)))
        {
            await db.WriteAsync(c => c.Exec("CREATE TABLE t(a)"));
            await Insert(db, 1);
            acknowledged.Add(1);

            _server.Kill();
            var error = await Assert.ThrowsAsync<WaldenArchiveException>(() => Insert(db, 2));
            Assert.Equal(destination.Name, error.Destination);
            Assert.Contains(destination.Name, error.Message, StringComparison.Ordinal);
            Assert.Contains("not acknowledged", error.Message, StringComparison.Ordinal);
            Assert.True(error.IsTransient);
            await Assert.ThrowsAsync<WaldenArchiveException>(() => Insert(db, 3));
            Assert.Contains(db.GetHealth().Reasons, r => r.Contains(destination.Name, StringComparison.Ordinal));

            await _server.RestartAsync();
            for (var i = 4; i < 10; i++)
            {
                await Insert(db, i);
                acknowledged.Add(i);
            }

            // The destination is no longer named. (The first batch after the restart ships what was pending; on a loaded
            // machine it took 2 s, which the slow-commit rule then rightly reports for a while: not this test's subject.)
            var health = db.GetHealth();
            Assert.DoesNotContain(health.Reasons, r => r.Contains(destination.Name, StringComparison.Ordinal));
            Assert.NotEqual(WaldenHealthStatus.Unhealthy, health.Status);
        }

        await AssertRestoredHasAsync(destination, acknowledged);
    }

    [Fact]
    public async Task S3_Sync_WhenTheServerHangs_WritesFailAfterTheRequestTimeoutNamingItAndCatchUpWithoutAGap()
    {
        // No HEAD first, so the request that hangs is the put itself.
        using var destination = _server.Destination("sync-hang", o =>
        {
            o.RequestTimeout = TimeSpan.FromSeconds(3);
            o.CheckBeforePut = false;
        });
        var acknowledged = new List<int>();
        await using (var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), Options(WaldenArchiveMode.Sync, destination)))
        {
            await db.WriteAsync(c => c.Exec("CREATE TABLE t(a)"));
            await Insert(db, 1);
            acknowledged.Add(1);

            _server.Pause();
            var started = System.Diagnostics.Stopwatch.StartNew();
            var error = await Assert.ThrowsAsync<WaldenArchiveException>(() => Insert(db, 2));
            Assert.True(started.Elapsed < TimeSpan.FromSeconds(30), $"the write waited {started.Elapsed}");
            Assert.Equal(destination.Name, error.Destination);
            Assert.Contains("not acknowledged", error.Message, StringComparison.Ordinal);

            // The server goes on (s3rver drops the put the client gave up on; a server that stored it late would leave an
            // overlapping segment, which restore handles by taking the longer one).
            _server.Resume();
            using (var patient = _server.Destination("sync-hang", o => o.RequestTimeout = TimeSpan.FromSeconds(60)))
            {
                Assert.NotEmpty(patient.List(string.Empty)); // answered: the server has caught up with what it was sent
            }

            for (var i = 3; i < 8; i++)
            {
                await Insert(db, i);
                acknowledged.Add(i);
            }

            AssertHealthy(db);
        }

        await AssertRestoredHasAsync(destination, acknowledged);
        var verified = await WaldenArchive.VerifyAsync(destination);
        Assert.True(verified.Complete, verified.Problem);
    }

    [Fact]
    public async Task S3_Async_WhenTheServerIsDown_TheLagGrowsHealthIsDegradedAndItCatchesUpWithoutAGap()
    {
        var time = new FakeTimeProvider();
        using var destination = _server.Destination("async-down");
        var acknowledged = new List<int>();
        await using (var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), Options(WaldenArchiveMode.Async, destination, time)))
        {
            await db.WriteAsync(c => c.Exec("CREATE TABLE t(a)"));
            Assert.Null(db.Archiver!.ShipAll());

            _server.Kill();
            for (var i = 0; i < 50; i++)
            {
                await Insert(db, i);
                acknowledged.Add(i); // Async: acknowledged once committed locally
            }

            Assert.NotNull(db.Archiver!.ShipAll());
            time.Advance(TimeSpan.FromSeconds(5));
            var health = db.GetHealth();
            Assert.Equal(WaldenHealthStatus.Degraded, health.Status);
            Assert.Contains(health.Reasons, r => r.Contains("behind", StringComparison.Ordinal));
            Assert.Contains(health.Reasons, r => r.Contains(destination.Name, StringComparison.Ordinal));
            Assert.True((double)health.Data["archiveLagMs"] >= 5000);

            await _server.RestartAsync();
            Assert.Null(db.Archiver!.ShipAll());
            Assert.Equal(TimeSpan.Zero, db.Archiver!.CurrentLag());
            AssertHealthy(db);
        }

        await AssertRestoredHasAsync(destination, acknowledged);
    }

    [Fact]
    public async Task Cli_Demo_ArchivesToAnS3Url_AndRestoreRebuildsTheExactRowCount()
    {
        var environment = CliEnvironment();
        var url = $"s3://{S3Server.Bucket}/cli/demo";
        var endpoint = _server.Url.ToString();
        var demo = await WaldenCli.RunAsync(environment, "demo", "--db", _dir.File("demo.db"), "--producers", "4", "--writes", "25",
            "--archive", url, "--endpoint", endpoint, "--archive-mode", "sync");
        Assert.True(demo.ExitCode == 0, demo.Stdout + demo.Stderr);
        Assert.Contains($"restore with: walden restore {url} --endpoint {endpoint}", demo.Stdout, StringComparison.Ordinal);

        var restored = _dir.File("restored.db");
        var restore = await WaldenCli.RunAsync(environment, "restore", url, restored, "--endpoint", endpoint);
        Assert.True(restore.ExitCode == 0, restore.Stdout + restore.Stderr);
        Assert.Equal(100, Count(restored, "demo_log"));

        var noEndpoint = await WaldenCli.RunAsync(environment, "demo", "--producers", "1", "--writes", "1", "--endpoint", endpoint);
        Assert.Equal(2, noEndpoint.ExitCode);
        Assert.Contains("--archive s3://", noEndpoint.Stderr, StringComparison.Ordinal);
    }

    private static void AssertHealthy(WaldenDatabase db) => HealthForTests.AssertHealthy(db);

    /// <summary>Credentials from the standard AWS chain, as a user's shell has them; no instance metadata look-up.</summary>
    private static Dictionary<string, string> CliEnvironment() => new()
    {
        ["AWS_ACCESS_KEY_ID"] = "S3RVER",
        ["AWS_SECRET_ACCESS_KEY"] = "S3RVER",
        ["AWS_EC2_METADATA_DISABLED"] = "true",
    };

    [Fact]
    public async Task Cli_RestoreVerifyAndStatus_TakeAnS3UrlWithEndpoint()
    {
        using var destination = _server.Destination("cli/agents");
        var txids = new List<long>();
        await using (var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), Options(WaldenArchiveMode.Sync, destination)))
        {
            await db.WriteAsync(c => c.Exec("CREATE TABLE t(a)"));
            for (var i = 1; i <= 5; i++)
            {
                await Insert(db, i);
                txids.Add(db.Archiver!.LastTxid);
            }
        }

        var environment = CliEnvironment();
        var url = $"s3://{S3Server.Bucket}/cli/agents";
        var endpoint = _server.Url.ToString();
        var restored = _dir.File("restored.db");
        var restore = await WaldenCli.RunAsync(environment, "restore", url, restored, "--endpoint", endpoint, "--txid",
            txids[2].ToString(CultureInfo.InvariantCulture));
        Assert.True(restore.ExitCode == 0, restore.Stdout + restore.Stderr);
        Assert.Equal(3, Count(restored));

        var verify = await WaldenCli.RunAsync(environment, "archive", "verify", url, "--endpoint", endpoint);
        Assert.True(verify.ExitCode == 0, verify.Stdout + verify.Stderr);
        Assert.Contains("integrity_check ok", verify.Stdout, StringComparison.Ordinal);

        var status = await WaldenCli.RunAsync(environment, "archive", "status", url, "--endpoint", endpoint, "--json");
        Assert.True(status.ExitCode == 0, status.Stdout + status.Stderr);
        using var json = System.Text.Json.JsonDocument.Parse(status.Stdout);
        Assert.Equal(txids[^1], json.RootElement.GetProperty("lastTxid").GetInt64());
        Assert.True(json.RootElement.GetProperty("lastVerification").GetProperty("ok").GetBoolean());

        _server.Kill();
        var down = await WaldenCli.RunAsync(environment, "archive", "status", url, "--endpoint", endpoint);
        Assert.Equal(2, down.ExitCode);
        Assert.Contains("s3://walden/cli/agents/", down.Stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", down.Stderr, StringComparison.Ordinal);
    }
}
