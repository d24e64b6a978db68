using Walden.Archiving;
using Walden.Tests.TestSupport;
using Walden.Writing;
using static Walden.Tests.Archiving.ArchiveChecks;

namespace Walden.Tests.Archiving;

/// <summary>
/// Async mode: a base taken because the chain grew long (NewBaseAfterBytes) is copied and stored beside the chain, which
/// goes on after the older base meanwhile (Archiving/Archiver.Base.cs, StartSideBase); before, every commit after the new
/// snapshot waited for the whole database to be copied and stored, and the lag bound failed for that long.
/// </summary>
public sealed class ArchiveSideBaseTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly ManualResetEventSlim _copying = new();
    private readonly ManualResetEventSlim _release = new();
    private int _copies;

    public ArchiveSideBaseTests() => Directory.CreateDirectory(Archive);

    public void Dispose()
    {
        _release.Set();
        _dir.Dispose();
    }

    private string Archive => _dir.File("archive");

    private string Path => _dir.File("app.db");

    private WaldenOptions Options()
    {
        var options = ArchiveChecks.Options(WaldenArchiveMode.Async, new WaldenFolderDestination(Archive));
        options.CheckpointIdleDelay = TimeSpan.FromHours(1);
        options.Archive.MaxLag = TimeSpan.FromHours(1); // shipped when the test says so
        options.Archive.NewBaseAfterBytes = 1L << 20;
        options.Faults = new WriterFaults
        {
            BeforeBaseCopy = () =>
            {
                if (Interlocked.Increment(ref _copies) == 2)
                {
                    _copying.Set(); // the second base (the side base) is held here until the test releases it
                    _release.Wait();
                }
            },
        };
        return options;
    }

    private static Task InsertAsync(WaldenDatabase db, int a, int blobBytes = 100) =>
        db.WriteAsync(c => c.Exec($"INSERT INTO t(a, body) VALUES ({a}, randomblob({blobBytes}))"));

    private List<string> Bases() => [.. new WaldenFolderDestination(Archive).List(string.Empty).Select(o => o.Name)
        .Where(n => n.EndsWith(ArchiveFormat.BaseFileName, StringComparison.Ordinal)).Order(StringComparer.Ordinal)];

    [Fact]
    public async Task WhileALongChainsNewBaseIsCopied_CommitsAreStillArchived_AndTheChainThenMovesToTheNewBase()
    {
        await using (var db = await WaldenDatabase.OpenAsync(Path, Options()))
        {
            await db.WriteAsync(c => c.Exec("CREATE TABLE t(a INTEGER PRIMARY KEY, body BLOB)"));
            for (var i = 0; i < 4; i++)
            {
                await InsertAsync(db, i, 400_000); // incompressible: the chain passes NewBaseAfterBytes (1 MiB)
            }

            Assert.Null(db.Archiver!.ShipAll());
            using var releaseOnFailure = new Releaser(_release); // a failed assertion must not leave the copy held while the database closes
            await InsertAsync(db, 10); // the writer pins the side base after this batch; its copy is held
            Assert.True(_copying.Wait(TimeSpan.FromSeconds(30)), "no side base was started");
            var before = db.Archiver.CurrentBaseId;

            for (var i = 100; i < 110; i++)
            {
                await InsertAsync(db, i);
            }

            var archiver = db.Archiver;
            var ship = Task.Run(archiver.ShipAll);
            Assert.Same(ship, await Task.WhenAny(ship, Task.Delay(TimeSpan.FromSeconds(60)))); // not waiting for the new base's copy
            Assert.Null(await ship);
            var during = await RestoreCompleteAsync(Archive, _dir.File("during.db"));
            Assert.Equal(15, Count(during)); // every commit made while the base is copied is archived already
            Assert.True(db.Archiver.CurrentLag() < TimeSpan.FromMinutes(1));
            Assert.Equal(db.Archiver.LastTxid, db.Archiver.MapTxid); // the page map follows the chain while the side base is copied

            _release.Set();
            db.Archiver.FinishSideBaseForTests();
            Assert.NotEqual(before, db.Archiver.CurrentBaseId);
            for (var i = 200; i < 205; i++)
            {
                await InsertAsync(db, i);
            }

            Assert.Null(db.Archiver.ShipAll());
        }

        Assert.Equal(2, Bases().Count);
        var latest = await RestoreCompleteAsync(Archive, _dir.File("latest.db"));
        Assert.Equal(20, Count(latest));
        using var connection = Sql.OpenDirect(latest, readOnly: true);
        Assert.Equal("ok", connection.Scalar<string>("PRAGMA integrity_check"));
    }

    [Fact]
    public async Task ANewerBaseThatHoldsAnEarlierStateThanTheOlderChain_IsNotRestoredAsTheLatest()
    {
        // What a destination holds between a side base's store and the records shipped again after it (or after a crash
        // then): the newest base, of transaction T, and the older base's chain reaching past T.
        await WhileALongChainsNewBaseIsCopied_CommitsAreStillArchived_AndTheChainThenMovesToTheNewBase();
        var newest = System.IO.Path.GetDirectoryName(System.IO.Path.Combine(Archive, Bases()[^1]))!;
        foreach (var segment in Directory.EnumerateFiles(newest, "*.wseg"))
        {
            File.Delete(segment);
        }

        var latest = await RestoreCompleteAsync(Archive, _dir.File("older-chain.db"));
        Assert.Equal(15, Count(latest)); // the older base's chain reaches the switch; the newer base alone only its pin
    }

    private sealed class Releaser(ManualResetEventSlim release) : IDisposable
    {
        public void Dispose() => release.Set();
    }
}
