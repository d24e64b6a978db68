using Microsoft.Extensions.Time.Testing;
using Walden.Archiving;
using Walden.Tests.TestSupport;
using static Walden.Tests.Archiving.ArchiveChecks;

namespace Walden.Tests.Archiving;

/// <summary>
/// An open continues the chain its destinations hold (Archiving/Archiver.Continue.cs) instead of copying the whole
/// database as a new base, when the page map of the earlier run proves where the chain ends; the pages that changed in
/// between (commits not yet shipped, another program's writes) are shipped as one transaction, compared by content, so a
/// restore returns the file exactly as it was at the open. Whenever that cannot be proven, the open takes a base as before.
/// </summary>
public sealed class ArchiveContinueTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public ArchiveContinueTests() => Directory.CreateDirectory(Archive);

    public void Dispose() => _dir.Dispose();

    private string Archive => _dir.File("archive");

    private string Path => _dir.File("app.db");

    private string MapFile => ArchiveLineage.StagingFolder(Path) + "/" + PageMap.FileName;

    private WaldenOptions Options(WaldenArchiveMode mode = WaldenArchiveMode.Async, TimeProvider? time = null)
    {
        var options = ArchiveChecks.Options(mode, new WaldenFolderDestination(Archive), time);
        options.CheckpointIdleDelay = TimeSpan.FromHours(1);
        return options;
    }

    /// <summary>Opens, writes rows [first, first + count) in one write each (and 400 older rows first when <paramref name="first"/> is 0), and closes; returns how the open went (-1: a base).</summary>
    private async Task<int> RunAsync(int first, int count, WaldenArchiveMode mode = WaldenArchiveMode.Async, FakeTimeProvider? time = null,
        Action? afterOpen = null, bool shipEach = false)
    {
        await using var db = await WaldenDatabase.OpenAsync(Path, Options(mode, time));
        afterOpen?.Invoke();
        await db.WriteAsync(c => c.Exec("CREATE TABLE IF NOT EXISTS t(a INTEGER PRIMARY KEY, body TEXT)"));
        if (first == 0)
        {
            // Rows of an earlier life of the file (negative keys): enough pages that a few changes are a small part of them.
            await db.WriteAsync(c => c.Exec("WITH RECURSIVE n(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM n WHERE v < 400) " +
                "INSERT INTO t(a, body) SELECT -v, printf('%.300c', 'o') FROM n"));
        }

        for (var i = first; i < first + count; i++)
        {
            var value = i;
            time?.Advance(TimeSpan.FromSeconds(1));
            await db.WriteAsync(c => c.Exec($"INSERT INTO t(a, body) VALUES ({value}, printf('%.300c', 'x'))"));
            if (shipEach)
            {
                Assert.Null(db.Archiver!.ShipAll());
            }
        }

        return db.Archiver!.ContinuedPages;
    }

    private List<string> Bases() => [.. new WaldenFolderDestination(Archive).List(string.Empty).Select(o => o.Name).Where(n => n.EndsWith("base.wbase", StringComparison.Ordinal))];

    [Theory]
    [InlineData(WaldenArchiveMode.Async)]
    [InlineData(WaldenArchiveMode.Sync)]
    public async Task AReopenedDatabase_ContinuesItsChain_WithoutANewBase_AndTheRestoreHoldsEveryRow(WaldenArchiveMode mode)
    {
        Assert.Equal(-1, await RunAsync(0, 20, mode));
        var continued = await RunAsync(20, 20, mode);
        Assert.Equal(0, continued); // a clean close left the file exactly as the archive has it: the map knew every page
        Assert.Equal(0, await RunAsync(40, 20, mode));

        Assert.Single(Bases());
        var restored = await RestoreCompleteAsync(Archive, _dir.File("restored.db"));
        Assert.Equal(460, Count(restored));
        Assert.Equal(Content(Path), Content(restored));
    }

    [Fact]
    public async Task WritesMadeWhileClosed_ByAnotherProgram_AreShippedAtOpen_AndTheRestoreIsTheFileAtOpen()
    {
        await RunAsync(0, 30);
        using (var other = Sql.OpenDirect(Path))
        {
            // What a Python or Node program does to the file while Walden is not running: rows, a table, an index,
            // deletes, the user_version; or what a crash leaves: commits acknowledged but not yet shipped.
            other.Exec("INSERT INTO t(a, body) VALUES (1000, 'theirs'); CREATE TABLE notes(n TEXT); INSERT INTO notes VALUES ('a'), ('b');" +
                "CREATE INDEX notes_n ON notes(n); DELETE FROM t WHERE a BETWEEN 10 AND 14; PRAGMA user_version = 7");
        }

        var continued = await RunAsync(30, 5);
        Assert.True(continued > 0, "the open should have continued the chain with the changed pages");
        Assert.Single(Bases());

        var restored = await RestoreCompleteAsync(Archive, _dir.File("restored.db"));
        Assert.Equal(Content(Path), Content(restored));
        using var connection = Sql.OpenDirect(restored, readOnly: true);
        Assert.Equal("ok", connection.Scalar<string>("PRAGMA integrity_check"));
    }

    [Fact]
    public async Task ARestoreAtATimeInsideTheContinuedWindow_IsRefusedAsUnknown_AndItsEndsRestore()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 30, 12, 0, 0, TimeSpan.Zero));
        await RunAsync(0, 3, time: time);
        var lastBefore = time.GetUtcNow();
        using (var other = Sql.OpenDirect(Path))
        {
            other.Exec("INSERT INTO t(a, body) VALUES (1000, 'while closed')"); // when, the archive cannot know
        }

        time.Advance(TimeSpan.FromMinutes(10));
        var open = time.GetUtcNow();
        Assert.True(await RunAsync(3, 2, time: time) > 0);

        foreach (var at in new[] { lastBefore.AddTicks(10), lastBefore.AddMinutes(5), open.AddTicks(-10) })
        {
            var error = await Assert.ThrowsAsync<WaldenArchiveException>(() =>
                WaldenArchive.RestoreAsync(Archive, _dir.File("between.db"), new WaldenArchiveRestoreOptions { At = at }));
            Assert.Contains("while the archive was not watching it", error.Message, StringComparison.Ordinal);
            Assert.Empty(Directory.EnumerateFileSystemEntries(_dir.Path, "between.db*"));
        }

        var before = await WaldenArchive.RestoreAsync(Archive, _dir.File("before.db"), new WaldenArchiveRestoreOptions { At = lastBefore });
        Assert.True(before.Complete, before.Problem);
        Assert.Equal(0, Count(_dir.File("before.db"), "t WHERE a = 1000"));
        var after = await WaldenArchive.RestoreAsync(Archive, _dir.File("after.db"), new WaldenArchiveRestoreOptions { At = open });
        Assert.True(after.Complete, after.Problem);
        Assert.Equal(1, Count(_dir.File("after.db"), "t WHERE a = 1000"));

        // `walden archive status` lists the window, with the same ends.
        var window = Assert.Single((await WaldenArchive.GetStatusAsync(Archive)).UnknownWindows);
        Assert.Equal(before.Txid, window.Txid);
        Assert.Equal(lastBefore, window.After);
        Assert.Equal(open, window.At);
    }

    [Fact]
    public async Task ARestoreInsideTheContinuedWindow_IsRefusedEvenWhenTheResumeObjectsAreLost_SinceTheChainItselfMarksTheCatchUp()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 30, 12, 0, 0, TimeSpan.Zero));
        await RunAsync(0, 3, time: time);
        var lastBefore = time.GetUtcNow();
        using (var other = Sql.OpenDirect(Path))
        {
            other.Exec("INSERT INTO t(a, body) VALUES (1000, 'while closed')"); // what a Python program does while Walden is closed
        }

        time.Advance(TimeSpan.FromMinutes(10));
        var open = time.GetUtcNow();
        Assert.True(await RunAsync(3, 2, time: time) > 0);

        // A sync tool or a cleanup of small files loses the side objects: only the checksummed chain is left.
        var resumes = Directory.EnumerateFiles(Archive, "resume-*", SearchOption.AllDirectories).ToList();
        Assert.NotEmpty(resumes);
        resumes.ForEach(File.Delete); // the test's own archive, no process has it open

        foreach (var at in new[] { lastBefore.AddTicks(10), lastBefore.AddMinutes(5), open.AddTicks(-10) })
        {
            var error = await Assert.ThrowsAsync<WaldenArchiveException>(() =>
                WaldenArchive.RestoreAsync(Archive, _dir.File("between.db"), new WaldenArchiveRestoreOptions { At = at }));
            Assert.Contains("while the archive was not watching it", error.Message, StringComparison.Ordinal);
            Assert.Empty(Directory.EnumerateFileSystemEntries(_dir.Path, "between.db*"));
            Assert.Empty(Directory.EnumerateFileSystemEntries(_dir.Path, ".between.db*"));
        }

        var before = await WaldenArchive.RestoreAsync(Archive, _dir.File("before.db"), new WaldenArchiveRestoreOptions { At = lastBefore });
        Assert.True(before.Complete, before.Problem);
        Assert.Equal(0, Count(_dir.File("before.db"), "t WHERE a = 1000"));
        var after = await WaldenArchive.RestoreAsync(Archive, _dir.File("after.db"), new WaldenArchiveRestoreOptions { At = open });
        Assert.True(after.Complete, after.Problem);
        Assert.Equal(1, Count(_dir.File("after.db"), "t WHERE a = 1000"));
        var latest = await RestoreCompleteAsync(Archive, _dir.File("latest.db"));
        Assert.Equal(Content(Path), Content(latest));
    }

    [Fact]
    public async Task WritesAcknowledgedWhileTheDestinationWasDown_AreArchivedByTheNextOpen()
    {
        await RunAsync(0, 10);
        var hidden = Archive + "-away";
        Directory.Move(Archive, hidden); // Async: acknowledged locally, never shipped, as before a crash
        await RunAsync(10, 10);
        Directory.Move(hidden, Archive);

        Assert.True(await RunAsync(20, 10) > 0);
        Assert.Single(Bases());
        var restored = await RestoreCompleteAsync(Archive, _dir.File("restored.db"));
        Assert.Equal(430, Count(restored));
        Assert.Equal(Content(Path), Content(restored));
    }

    [Fact]
    public async Task ADamagedPageMap_IsNotTrusted_AndTheOpenTakesABase()
    {
        await RunAsync(0, 20);
        using (var map = File.OpenWrite(MapFile))
        {
            map.Position = 128 + 16 + 3; // inside the second page's entry, as a torn write leaves it
            map.WriteByte(0x5a);
        }

        Assert.Equal(-1, await RunAsync(20, 5));
        Assert.Equal(2, Bases().Count);
        Assert.Equal(425, Count(await RestoreCompleteAsync(Archive, _dir.File("restored.db"))));
    }

    [Fact]
    public async Task APageMapWhoseEntriesAreAheadOfItsHeader_IsNotTrusted()
    {
        // A crash between writing a round's entries and its header: the header names transaction X, some entries already
        // describe later pages. Continuing from it would leave those pages' changes out of the archive.
        await RunAsync(0, 20);
        var header = File.ReadAllBytes(MapFile)[..128];
        var before = Objects();
        await RunAsync(20, 20);
        foreach (var name in Objects().Except(before))
        {
            File.Move(System.IO.Path.Combine(Archive, name), _dir.File(Guid.NewGuid().ToString("N"))); // the destination ends at X again
        }

        using (var map = File.OpenWrite(MapFile))
        {
            map.Write(header);
        }

        Assert.Equal(-1, await RunAsync(40, 5));
        var restored = await RestoreCompleteAsync(Archive, _dir.File("restored.db"));
        Assert.Equal(Content(Path), Content(restored));
    }

    private HashSet<string> Objects() => [.. new WaldenFolderDestination(Archive).List(string.Empty).Select(o => o.Name)];

    [Theory]
    [InlineData("a page written back as it was")]
    [InlineData("a database that shrank")]
    [InlineData("rounds merged by compaction")]
    public async Task AKillBetweenARoundsStoreAndTheMapsSave_IsContinued_AndTheRestoreIsTheFile(string scenario)
    {
        // The destinations end after the map's transaction (seen in `walden torture --archive async`, seeds 1693339542,
        // 1821932762): the open ships every page the stored round wrote as it is now, not only those whose digest differs
        // from the map. The first scenario is why: another program writes a page back to its content at the map's
        // transaction, so only the pages in flight show that the round's version of it must be replaced.
        var shrink = scenario == "a database that shrank";
        if (shrink)
        {
            using var first = Sql.OpenDirect(Path);
            first.Exec("PRAGMA auto_vacuum = FULL; PRAGMA journal_mode = WAL"); // a DELETE gives the freed pages back in its commit
        }

        await RunAsync(0, 20);
        long pages;
        using (var before = Sql.OpenDirect(Path))
        {
            pages = before.Scalar<long>("PRAGMA page_count");
        }

        var destination = new StagingCapture(Archive, Path);
        var options = ArchiveChecks.Options(WaldenArchiveMode.Async, destination, null);
        options.CheckpointIdleDelay = TimeSpan.FromHours(1);
        await using (var db = await WaldenDatabase.OpenAsync(Path, options))
        {
            await db.WriteAsync(c => c.Exec("INSERT INTO t(a, body) VALUES (20, 'x')"));
            Assert.Null(db.Archiver!.ShipAll());
            await db.WriteAsync(c => c.Exec(shrink ? "DELETE FROM t WHERE a < -100" : "UPDATE t SET body = printf('%.300c', 'b') WHERE a = -5"));
        }

        using (var other = Sql.OpenDirect(Path))
        {
            if (shrink)
            {
                Assert.True(other.Scalar<long>("PRAGMA page_count") < pages - 10);
            }
            else if (scenario == "rounds merged by compaction")
            {
                Assert.True(Archiver.Compact(new WaldenFolderDestination(Archive), 16L << 20) >= 1); // one segment across the map's transaction
            }
            else
            {
                other.Exec("UPDATE t SET body = printf('%.300c', 'o') WHERE a = -5");
            }
        }

        // The staging folder as a kill right after the last round's store left it.
        var staging = ArchiveLineage.StagingFolder(Path);
        File.WriteAllBytes(MapFile, destination.AtLastStore.Map);
        File.WriteAllBytes(System.IO.Path.Combine(staging, PagesInFlight.FileName), destination.AtLastStore.InFlight);

        Assert.True(await RunAsync(21, 3) >= 0);
        Assert.Single(Bases());
        var restored = await RestoreCompleteAsync(Archive, _dir.File("restored.db"));
        Assert.Equal(Content(Path), Content(restored));
        Assert.Equal(new FileInfo(Path).Length, new FileInfo(restored).Length);
    }

    [Fact]
    public async Task ARoundStoredWithAMapOlderThanThePagesInFlight_TakesABase_AndTheRestoreIsTheFile()
    {
        // The map as the run saved it at its open, the pages in flight as it left them: they do not describe one moment.
        await RunAsync(0, 20);
        byte[] older = [];
        await RunAsync(20, 20, afterOpen: () => older = File.ReadAllBytes(MapFile), shipEach: true); // the map moves past it
        File.WriteAllBytes(MapFile, older);

        Assert.Equal(-1, await RunAsync(40, 5));
        Assert.Equal(2, Bases().Count);
        var restored = await RestoreCompleteAsync(Archive, _dir.File("restored.db"));
        Assert.Equal(445, Count(restored));
        Assert.Equal(Content(Path), Content(restored));
    }

    [Fact]
    public async Task ADestinationThatDoesNotEndWhereTheMapSays_IsNotContinued()
    {
        await RunAsync(0, 20);
        var destination = new WaldenFolderDestination(Archive);
        var last = destination.List(string.Empty).Select(o => o.Name).Where(n => n.EndsWith(".wseg", StringComparison.Ordinal)).Order().Last();
        File.Move(System.IO.Path.Combine(Archive, last), _dir.File("kept-aside.wseg")); // a destination restored from an older copy

        Assert.Equal(-1, await RunAsync(20, 5));
        Assert.Equal(2, Bases().Count);
        Assert.Equal(425, Count(await RestoreCompleteAsync(Archive, _dir.File("restored.db"))));
    }

    [Fact]
    public async Task WhenAnotherCopyHasContinuedTheSameChain_TheOpenTakesABase()
    {
        await RunAsync(0, 20);
        var map = PageMap.TryLoad(MapFile, out var why) ?? throw new InvalidOperationException(why);
        var claim = $"{ArchiveFormat.BaseFolder(map.BaseId)}/resume-{map.Txid}";
        new WaldenFolderDestination(Archive).Put(claim, new MemoryStream("another copy\n"u8.ToArray()));

        Assert.Equal(-1, await RunAsync(20, 5));
        Assert.Equal(2, Bases().Count);
        Assert.Equal(425, Count(await RestoreCompleteAsync(Archive, _dir.File("restored.db"))));
    }

    [Fact]
    public async Task WhenMostPagesChangedWhileClosed_TheOpenTakesABase()
    {
        await RunAsync(0, 200);
        using (var other = Sql.OpenDirect(Path))
        {
            other.Exec("UPDATE t SET body = printf('%.300c', 'y')");
        }

        Assert.Equal(-1, await RunAsync(200, 5));
        Assert.Equal(2, Bases().Count);
        var restored = await RestoreCompleteAsync(Archive, _dir.File("restored.db"));
        Assert.Equal(Content(Path), Content(restored));
    }

    [Fact]
    public async Task ADatabaseThatShrankDuringTheRun_IsContinuedWithAMapThatFollowedIt()
    {
        using (var first = Sql.OpenDirect(Path))
        {
            first.Exec("PRAGMA auto_vacuum = INCREMENTAL; PRAGMA journal_mode = WAL; CREATE TABLE t(a INTEGER PRIMARY KEY, body TEXT)");
        }

        await using (var db = await WaldenDatabase.OpenAsync(Path, Options()))
        {
            await db.WriteAsync(c => c.Exec("INSERT INTO t(a, body) WITH RECURSIVE n(v) AS (SELECT 1 UNION ALL SELECT v + 1 FROM n WHERE v < 300) SELECT v, printf('%.3000c', 'z') FROM n"));
            await db.WriteAsync(c => c.Exec("DELETE FROM t WHERE a > 20"));
            await db.WriteAsync(c => c.Exec("PRAGMA incremental_vacuum"));
        }

        Assert.Equal(0, await RunAsync(1000, 5));
        Assert.Single(Bases());
        var restored = await RestoreCompleteAsync(Archive, _dir.File("restored.db"));
        Assert.Equal(Content(Path), Content(restored));
        Assert.Equal(new FileInfo(Path).Length, new FileInfo(restored).Length);
    }
}
