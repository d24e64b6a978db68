using System.Diagnostics;
using Walden.Tests.TestSupport;
using Xunit.Abstractions;
using static Walden.Tests.Archiving.ArchiveChecks;

namespace Walden.Tests.Archiving;

/// <summary>A destination that is missing, full, read-only or slow; a segment that is damaged or missing.</summary>
public sealed class ArchiveFaultTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly ITestOutputHelper _output;

    public ArchiveFaultTests(ITestOutputHelper output) => _output = output;

    public void Dispose() => _dir.Dispose();

    private static WaldenOptions Options(WaldenArchiveMode mode, IWaldenArchiveDestination destination, TimeProvider? time = null) =>
        ArchiveChecks.Options(mode, destination, time);

    private static Task Insert(WaldenDatabase db, int value) => ArchiveChecks.Insert(db, value);

    /// <summary>Every acknowledged value must be in the archive; the unacknowledged ones may be too (they were committed locally).</summary>
    private async Task AssertArchiveHasAsync(string archive, IReadOnlyCollection<int> acknowledged)
    {
        var restored = _dir.File($"restored-{Guid.NewGuid():N}.db");
        ArchiveChecks.AssertHoldsAcknowledged(await WaldenArchive.RestoreAsync(archive, restored), restored, acknowledged);
    }

    [Fact]
    public async Task Sync_WhenTheDestinationIsMissing_WritesFailNamingItAndCatchUpWithoutAGapWhenItReturns()
    {
        var archive = _dir.File("archive");
        var path = _dir.File("app.db");
        var acknowledged = new List<int>();
        await using (var db = await WaldenDatabase.OpenAsync(path, Options(WaldenArchiveMode.Sync, new WaldenFolderDestination(archive))))
        {
            var error = await Assert.ThrowsAsync<WaldenArchiveException>(() => db.WriteAsync(c => c.Exec("CREATE TABLE t(a)")));
            Assert.Equal(archive, error.Destination);
            Assert.Contains(archive, error.Message, StringComparison.Ordinal);
            Assert.Contains("not acknowledged", error.Message, StringComparison.Ordinal);
            Assert.True(error.IsTransient);
            await Assert.ThrowsAsync<WaldenArchiveException>(() => Insert(db, 1));
            Assert.Contains(db.GetHealth().Reasons, r => r.Contains(archive, StringComparison.Ordinal));

            Directory.CreateDirectory(archive); // the disk is back
            await Insert(db, 2);
            acknowledged.Add(2);
            for (var i = 3; i < 20; i++)
            {
                await Insert(db, i);
                acknowledged.Add(i);
            }

            HealthForTests.AssertHealthy(db);
        }

        await AssertArchiveHasAsync(archive, acknowledged);
    }

    [Fact]
    public async Task Sync_WhenTheDestinationDiskIsFull_WritesFailNamingItAndCatchUpWhenSpaceReturns()
    {
        using var mount = SmallMount.TryCreate(16, out var reason);
        if (mount is null)
        {
            _output.WriteLine(reason);
            return;
        }

        var archive = mount.File("archive");
        Directory.CreateDirectory(archive);
        var acknowledged = new List<int>();
        await using (var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), Options(WaldenArchiveMode.Sync, new WaldenFolderDestination(archive))))
        {
            await db.WriteAsync(c => c.Exec("CREATE TABLE t(a, pad)"));
            mount.Fill(bytesLeft: 0);
            // More than the append log has allocated ahead (1 MiB a file): its file must grow, and the full disk refuses it.
            var error = await Assert.ThrowsAsync<WaldenArchiveException>(
                () => db.WriteAsync(c => c.Exec("INSERT INTO t VALUES (1, randomblob(3000000))")));
            Assert.Equal(archive, error.Destination);
            Assert.Empty(Directory.EnumerateFiles(archive, "*.partial", SearchOption.AllDirectories));

            File.Delete(mount.File("filler.bin"));
            await Insert(db, 2);
            acknowledged.Add(2);
        }

        await AssertArchiveHasAsync(archive, acknowledged);
    }

    [Fact]
    public async Task Restore_IntoAFullFolder_SaysTheFolderIsFull_NotThatTheArchiveIsDamaged_AndLeavesNothing()
    {
        using var mount = SmallMount.TryCreate(16, out var reason);
        if (mount is null)
        {
            _output.WriteLine(reason);
            return;
        }

        var archive = _dir.File("archive");
        Directory.CreateDirectory(archive);
        await using (var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), Options(WaldenArchiveMode.Sync, new WaldenFolderDestination(archive))))
        {
            await db.WriteAsync(c => c.Exec("CREATE TABLE t(a, pad); WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000) INSERT INTO t SELECT i, randomblob(1000) FROM n"));
        }

        mount.Fill(bytesLeft: 256 * 1024);
        var output = mount.File("restored.db");
        var error = await Assert.ThrowsAsync<WaldenDiskFullException>(() => WaldenArchive.RestoreAsync(archive, output));
        Assert.Contains(mount.Path, error.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("damaged", error.Message, StringComparison.Ordinal);
        Assert.Equal(["filler.bin"], Directory.EnumerateFileSystemEntries(mount.Path).Select(System.IO.Path.GetFileName));
    }

    [Fact]
    public async Task Restore_IntoAFolderThatCannotBeWritten_SaysSoBeforeReadingTheArchive()
    {
        var archive = _dir.File("archive");
        Directory.CreateDirectory(archive);
        await using (var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), Options(WaldenArchiveMode.Sync, new WaldenFolderDestination(archive))))
        {
            await db.WriteAsync(c => c.Exec("CREATE TABLE t(a)"));
        }

        // /sys refuses new files even to root (EACCES); /proc has no such entry to create (ENOENT).
        foreach (var folder in new[] { "/sys", "/proc" })
        {
            var error = await Assert.ThrowsAnyAsync<WaldenException>(() => WaldenArchive.RestoreAsync(archive, System.IO.Path.Combine(folder, "restored.db")));
            Assert.Contains($"'{folder}'", error.Message, StringComparison.Ordinal);
            Assert.DoesNotContain("damaged", error.Message, StringComparison.Ordinal);
            Assert.DoesNotContain("restoring-", error.Message, StringComparison.Ordinal); // names the user's path, not a scratch name
        }
    }

    [Fact]
    public async Task Demo_WhenTheArchiveFellBehind_SaysHowFarTheDestinationGot_AndFails()
    {
        // `walden demo --archive` on a full disk printed "archived through transaction <all of them>" and exited 0 while the
        // destination held half of them: it reported what the writer took, not what was stored.
        using var mount = SmallMount.TryCreate(16, out var reason);
        if (mount is null)
        {
            _output.WriteLine(reason);
            return;
        }

        var archive = mount.File("archive");
        Directory.CreateDirectory(archive);
        mount.Fill(bytesLeft: 64 * 1024);
        var (exitCode, stdout, stderr) = await WaldenCli.RunAsync(
            "demo", "--db", _dir.File("demo.db"), "--archive", archive, "--producers", "8", "--writes", "500"); // more than 64 KiB of segments
        Assert.Equal(1, exitCode);
        Assert.DoesNotContain("archived (", stdout, StringComparison.Ordinal);
        Assert.Contains("the destination fell behind", stderr, StringComparison.Ordinal);

        File.Delete(mount.File("filler.bin"));
        (exitCode, stdout, stderr) = await WaldenCli.RunAsync(
            "demo", "--db", _dir.File("demo.db"), "--archive", archive, "--producers", "2", "--writes", "10");
        Assert.True(exitCode == 0, stderr);
        Assert.Contains("archived (Async)", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Verify_OfAFolderThatIsNoArchive_FailsAndWritesNothingIntoIt()
    {
        var folder = _dir.File("not-an-archive");
        Directory.CreateDirectory(folder);
        var result = await WaldenArchive.VerifyAsync(folder);
        Assert.False(result.Complete);
        Assert.Contains("holds no base snapshot", result.Problem, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(folder));
    }

    [Fact]
    public async Task StatusCommand_OfAFolderThatIsNoArchive_SaysNothingIsRestorable_AndExits1()
    {
        // It printed "restorable from  to  (last transaction )" and exited 0.
        var folder = _dir.File("not-an-archive");
        Directory.CreateDirectory(folder);
        var (exitCode, stdout, _) = await WaldenCli.RunAsync("archive", "status", folder);
        Assert.Equal(1, exitCode);
        Assert.Contains("nothing is restorable", stdout, StringComparison.Ordinal);
        Assert.Contains("holds no base snapshot", stdout, StringComparison.Ordinal);
        (exitCode, _, _) = await WaldenCli.RunAsync("archive", "status", folder, "--json");
        Assert.Equal(1, exitCode);
    }

    [Fact]
    public async Task Sync_WhenTheDestinationIsReadOnly_WritesFailNamingItAndCatchUpWhenItIsWritableAgain()
    {
        using var mount = SmallMount.TryCreate(16, out var reason);
        if (mount is null)
        {
            _output.WriteLine(reason);
            return;
        }

        var archive = mount.File("archive");
        Directory.CreateDirectory(archive);
        var acknowledged = new List<int>();
        await using (var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), Options(WaldenArchiveMode.Sync, new WaldenFolderDestination(archive))))
        {
            await db.WriteAsync(c => c.Exec("CREATE TABLE t(a)"));
            await Insert(db, 1);
            acknowledged.Add(1);
            mount.MakeReadOnly();
            var error = await Assert.ThrowsAsync<WaldenArchiveException>(() => Insert(db, 2));
            Assert.Equal(archive, error.Destination);

            Remount(mount.Path, "rw");
            await Insert(db, 3);
            acknowledged.Add(3);
        }

        await AssertArchiveHasAsync(archive, acknowledged);
    }

    [Fact]
    public async Task Async_WhenTheDestinationIsSlow_TheLagGrowsHealthIsDegradedAndItCatchesUpWithoutAGap()
    {
        var time = new FakeTimeProvider();
        var archive = _dir.File("archive");
        Directory.CreateDirectory(archive);
        var slow = new GatedDestination(new WaldenFolderDestination(archive));
        var acknowledged = new List<int>();
        var options = Options(WaldenArchiveMode.Async, slow, time);
        await using (var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), options))
        {
            slow.Close();
            await db.WriteAsync(c => c.Exec("CREATE TABLE t(a)"));
            for (var i = 0; i < 50; i++)
            {
                await Insert(db, i);
                acknowledged.Add(i); // Async: acknowledged once committed locally
            }

            time.Advance(TimeSpan.FromSeconds(5));
            var health = db.GetHealth();
            Assert.Equal(WaldenHealthStatus.Degraded, health.Status);
            Assert.Contains(health.Reasons, r => r.Contains("behind", StringComparison.Ordinal));
            Assert.True((double)health.Data["archiveLagMs"] >= 5000);

            slow.Open();
            db.Archiver!.Wake();
            await slow.WaitForPutsAsync();
            Assert.True(SpinWait.SpinUntil(() => db.Archiver!.CurrentLag() == TimeSpan.Zero, TimeSpan.FromSeconds(30)));
            HealthForTests.AssertHealthy(db);
        }

        await AssertArchiveHasAsync(archive, acknowledged);
    }

    [Fact]
    public async Task Async_WhenTheDestinationIsMissing_HealthNamesItAndTheArchiveCatchesUpWhenItReturns()
    {
        var archive = _dir.File("archive");
        var acknowledged = new List<int>();
        await using (var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), Options(WaldenArchiveMode.Async, new WaldenFolderDestination(archive))))
        {
            await db.WriteAsync(c => c.Exec("CREATE TABLE t(a)"));
            await Insert(db, 1);
            acknowledged.Add(1);
            db.Archiver!.ShipAll();
            Assert.Contains(db.GetHealth().Reasons, r => r.Contains(archive, StringComparison.Ordinal));

            Directory.CreateDirectory(archive);
            await Insert(db, 2);
            acknowledged.Add(2);
            Assert.Null(db.Archiver!.ShipAll());
            Assert.DoesNotContain(db.GetHealth().Reasons, r => r.Contains(archive, StringComparison.Ordinal));
        }

        await AssertArchiveHasAsync(archive, acknowledged);
    }

    [Fact]
    public async Task Sync_WhenTheDestinationIsSlow_WritesFailNamingItAfterSyncTimeoutAndTheArchiveCatchesUpWithoutAGap()
    {
        var archive = _dir.File("archive");
        Directory.CreateDirectory(archive);
        var slow = new GatedDestination(new WaldenFolderDestination(archive));
        var options = Options(WaldenArchiveMode.Sync, slow);
        // Long enough for a real store on a loaded machine (the first one creates the append log); the hang below waits it out.
        options.Archive.SyncTimeout = TimeSpan.FromSeconds(2);
        var acknowledged = new List<int>();
        await using (var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), options))
        {
            await db.WriteAsync(c => c.Exec("CREATE TABLE t(a)"));
            await Insert(db, 1);
            acknowledged.Add(1);

            slow.Close(); // the share hangs
            WaldenArchiveException error;
            try
            {
                error = await Assert.ThrowsAsync<WaldenArchiveException>(() => Insert(db, 2).WaitAsync(TimeSpan.FromSeconds(30)));
            }
            catch
            {
                slow.Open(); // let the database close
                throw;
            }

            Assert.Equal(archive, error.Destination);
            Assert.Contains("SyncTimeout", error.Message, StringComparison.Ordinal);
            Assert.Contains("not acknowledged", error.Message, StringComparison.Ordinal);
            Assert.True(error.IsTransient);
            var health = db.GetHealth();
            Assert.Equal(WaldenHealthStatus.Degraded, health.Status);
            Assert.Contains(health.Reasons, r => r.Contains(archive, StringComparison.Ordinal));

            slow.Open(); // it answers again: the store that timed out completes, then the next batch ships after it
            await Insert(db, 3);
            acknowledged.Add(3);
            HealthForTests.AssertHealthy(db);
        }

        await AssertArchiveHasAsync(archive, acknowledged);
    }

    [Fact]
    public async Task Async_WhenTheDestinationDiskIsFull_TheLagGrowsHealthIsDegradedAndItCatchesUpWhenSpaceReturns()
    {
        using var mount = SmallMount.TryCreate(16, out var reason);
        if (mount is null)
        {
            _output.WriteLine(reason);
            return;
        }

        var time = new FakeTimeProvider();
        var archive = mount.File("archive");
        Directory.CreateDirectory(archive);
        var acknowledged = new List<int>();
        await using (var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"),
            Options(WaldenArchiveMode.Async, new WaldenFolderDestination(archive), time)))
        {
            await db.WriteAsync(c => c.Exec("CREATE TABLE t(a, pad)"));
            Assert.Null(db.Archiver!.ShipAll());
            mount.Fill(bytesLeft: 0);
            await db.WriteAsync(c => c.Exec("INSERT INTO t VALUES (1, randomblob(200000))"));
            acknowledged.Add(1); // Async: acknowledged once committed locally
            Assert.NotNull(db.Archiver!.ShipAll());
            time.Advance(TimeSpan.FromSeconds(5));
            var health = db.GetHealth();
            Assert.Equal(WaldenHealthStatus.Degraded, health.Status);
            Assert.Contains(health.Reasons, r => r.Contains(archive, StringComparison.Ordinal));
            Assert.True((double)health.Data["archiveLagMs"] >= 5000);

            File.Delete(mount.File("filler.bin"));
            await Insert(db, 2);
            acknowledged.Add(2);
            Assert.Null(db.Archiver!.ShipAll());
            Assert.Equal(TimeSpan.Zero, db.Archiver!.CurrentLag());
            Assert.DoesNotContain(db.GetHealth().Reasons, r => r.Contains(archive, StringComparison.Ordinal));
        }

        await AssertArchiveHasAsync(archive, acknowledged);
    }

    [Fact]
    public async Task Async_WhenTheDestinationIsReadOnly_TheLagGrowsHealthIsDegradedAndItCatchesUpWhenWritableAgain()
    {
        using var mount = SmallMount.TryCreate(16, out var reason);
        if (mount is null)
        {
            _output.WriteLine(reason);
            return;
        }

        var time = new FakeTimeProvider();
        var archive = mount.File("archive");
        Directory.CreateDirectory(archive);
        var acknowledged = new List<int>();
        await using (var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"),
            Options(WaldenArchiveMode.Async, new WaldenFolderDestination(archive), time)))
        {
            await db.WriteAsync(c => c.Exec("CREATE TABLE t(a)"));
            Assert.Null(db.Archiver!.ShipAll());
            mount.MakeReadOnly();
            await Insert(db, 1);
            acknowledged.Add(1);
            Assert.NotNull(db.Archiver!.ShipAll());
            time.Advance(TimeSpan.FromSeconds(5));
            var health = db.GetHealth();
            Assert.Equal(WaldenHealthStatus.Degraded, health.Status);
            Assert.Contains(health.Reasons, r => r.Contains(archive, StringComparison.Ordinal));

            Remount(mount.Path, "rw");
            await Insert(db, 2);
            acknowledged.Add(2);
            Assert.Null(db.Archiver!.ShipAll());
            Assert.Equal(TimeSpan.Zero, db.Archiver!.CurrentLag());
        }

        await AssertArchiveHasAsync(archive, acknowledged);
    }

    [Fact]
    public async Task Async_WhileCompactionIsSlowOnTheDestination_ShippingDoesNotWaitForIt()
    {
        var time = new FakeTimeProvider();
        var archive = _dir.File("archive");
        Directory.CreateDirectory(archive);
        var slowListing = new SlowListingDestination(new WaldenFolderDestination(archive));
        await using var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), Options(WaldenArchiveMode.Async, slowListing, time));
        await db.WriteAsync(c => c.Exec("CREATE TABLE t(a)"));
        db.Archiver!.Wake();
        Assert.True(SpinWait.SpinUntil(() => db.Archiver!.CurrentLag() == TimeSpan.Zero && slowListing.Puts > 0, TimeSpan.FromSeconds(30)));

        slowListing.Hold();
        time.Advance(TimeSpan.FromMinutes(1)); // compaction is due: it lists the destination, which now takes as long as the test wants
        Assert.True(await slowListing.ListingStarted.WaitAsync(TimeSpan.FromSeconds(30)), "compaction did not start");

        var puts = slowListing.Puts;
        await Insert(db, 1);
        db.Archiver!.Wake();
        var shipped = SpinWait.SpinUntil(() => slowListing.Puts > puts, TimeSpan.FromSeconds(30));
        slowListing.Release();
        Assert.True(shipped, "the commit was not shipped while compaction was listing the destination");
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Restore_WithADamagedOrMissingSegment_StopsAtTheLastGoodMomentBeforeItAndSaysSo(bool damage)
    {
        var archive = _dir.File("archive");
        Directory.CreateDirectory(archive);
        var txids = new List<long>();
        var segmentPerBatch = new WaldenFolderDestination(archive) { UseAppendLog = false }; // one segment object per batch, to damage one
        await using (var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), Options(WaldenArchiveMode.Sync, segmentPerBatch)))
        {
            await db.WriteAsync(c => c.Exec("CREATE TABLE t(a)"));
            for (var i = 1; i <= 5; i++)
            {
                await Insert(db, i);
                txids.Add(db.Archiver!.LastTxid);
            }
        }

        var third = Directory.EnumerateFiles(archive, $"{txids[2]:D16}-*.wseg", SearchOption.AllDirectories).Single();
        if (damage)
        {
            var bytes = await File.ReadAllBytesAsync(third);
            bytes[bytes.Length / 2] ^= 0x40;
            await File.WriteAllBytesAsync(third, bytes);
        }
        else
        {
            File.Delete(third);
        }

        var restored = _dir.File("restored.db");
        var result = await WaldenArchive.RestoreAsync(archive, restored);

        Assert.False(result.Complete);
        Assert.Equal(txids[1], result.Txid);
        Assert.Contains(damage ? Path.GetFileName(third) : $"{txids[2]}", result.Problem!, StringComparison.Ordinal);
        Assert.Contains("last good moment", result.Problem!, StringComparison.Ordinal);
        Assert.Equal(2, Count(restored));
    }

    private static void Remount(string path, string mode)
    {
        using var process = Process.Start(new ProcessStartInfo("mount", ["-o", $"remount,{mode}", path]) { RedirectStandardError = true })!;
        process.WaitForExit();
        Assert.Equal(0, process.ExitCode);
    }

    /// <summary>A destination whose Put waits while it is closed: a slow share.</summary>
    private sealed class GatedDestination(IWaldenArchiveDestination inner) : IWaldenArchiveDestination
    {
        private readonly ManualResetEventSlim _open = new(initialState: true);
        private readonly SemaphoreSlim _puts = new(0);

        public string Name => inner.Name;

        public void Close() => _open.Reset();

        public void Open() => _open.Set();

        public Task WaitForPutsAsync() => _puts.WaitAsync(TimeSpan.FromSeconds(30));

        public void Put(string name, Stream content)
        {
            _open.Wait();
            inner.Put(name, content);
            _puts.Release();
        }

        public IReadOnlyList<WaldenArchiveObject> List(string prefix) => inner.List(prefix);

        public Stream OpenRead(string name) => inner.OpenRead(name);

        public void Delete(string name) => inner.Delete(name);
    }

    /// <summary>A destination whose List blocks while held: compaction reading a large, slow share.</summary>
    private sealed class SlowListingDestination(IWaldenArchiveDestination inner) : IWaldenArchiveDestination
    {
        private readonly ManualResetEventSlim _free = new(initialState: true);
        private int _puts;

        public SemaphoreSlim ListingStarted { get; } = new(0);

        public int Puts => Volatile.Read(ref _puts);

        public string Name => inner.Name;

        public void Hold() => _free.Reset();

        public void Release() => _free.Set();

        public void Put(string name, Stream content)
        {
            inner.Put(name, content);
            Interlocked.Increment(ref _puts);
        }

        public IReadOnlyList<WaldenArchiveObject> List(string prefix)
        {
            if (!_free.IsSet)
            {
                ListingStarted.Release();
                _free.Wait(TimeSpan.FromSeconds(60));
            }

            return inner.List(prefix);
        }

        public Stream OpenRead(string name) => inner.OpenRead(name);

        public void Delete(string name) => inner.Delete(name);
    }
}
