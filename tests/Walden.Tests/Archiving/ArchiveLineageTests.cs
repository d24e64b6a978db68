using Walden.Archiving;
using Walden.Tests.TestSupport;
using static Walden.Tests.Archiving.ArchiveChecks;

namespace Walden.Tests.Archiving;

/// <summary>
/// One destination holds one database's archive, told by its lineage (Archiving/ArchiveLineage.cs), not by its path: another
/// database sharing the destination is refused at open before anything of it is written there (the same path on another
/// machine, a database that archived elsewhere, two paths in one bucket), while the database itself, restored from its
/// archive after its disk died, continues it.
/// </summary>
public sealed class ArchiveLineageTests : IAsyncLifetime
{
    private readonly TempDirectory _dir = new();
    private S3Server? _server;

    public Task InitializeAsync()
    {
        Directory.CreateDirectory(Archive);
        Directory.CreateDirectory(_dir.File("elsewhere"));
        return Task.CompletedTask;
    }

    public async Task DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        _dir.Dispose();
    }

    private string Archive => _dir.File("archive");

    private string Path => _dir.File("app.db");

    private static WaldenOptions Options(WaldenArchiveMode mode, IWaldenArchiveDestination destination)
    {
        var options = ArchiveChecks.Options(mode, destination);
        options.CheckpointIdleDelay = TimeSpan.FromHours(1);
        return options;
    }

    private static async Task WriteAsync(string path, WaldenArchiveMode mode, IWaldenArchiveDestination destination, int first, int count)
    {
        await using var db = await WaldenDatabase.OpenAsync(path, Options(mode, destination));
        await db.WriteAsync(c => c.Exec("CREATE TABLE IF NOT EXISTS t(a INTEGER PRIMARY KEY)"));
        for (var i = first; i < first + count; i++)
        {
            await Insert(db, i);
        }
    }

    /// <summary>Every object in the destination with its length: what "nothing was written" is checked against.</summary>
    private static Dictionary<string, long> Objects(IWaldenArchiveDestination destination) =>
        destination.List(string.Empty).ToDictionary(o => o.Name, o => o.Length);

    private static List<long> Rows(string path)
    {
        using var connection = Sql.OpenDirect(path, readOnly: true);
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT a FROM t ORDER BY a";
        using var reader = command.ExecuteReader();
        var rows = new List<long>();
        while (reader.Read())
        {
            rows.Add(reader.GetInt64(0));
        }

        return rows;
    }

    /// <summary>The first database's file and staging folder are moved away: what another machine with the same path sees.</summary>
    private void MoveAway(string path)
    {
        var away = Directory.CreateDirectory(_dir.File($"away-{Guid.NewGuid():N}")).FullName;
        foreach (var file in new[] { path, path + "-wal", path + "-shm" }.Where(File.Exists))
        {
            File.Move(file, System.IO.Path.Combine(away, System.IO.Path.GetFileName(file)));
        }

        Directory.Move(ArchiveLineage.StagingFolder(path), System.IO.Path.Combine(away, "staging"));
    }

    public static TheoryData<WaldenArchiveMode, string> SecondDatabases => new()
    {
        { WaldenArchiveMode.Sync, "never archived" },
        { WaldenArchiveMode.Async, "never archived" },
        { WaldenArchiveMode.Sync, "archived elsewhere before" },
        { WaldenArchiveMode.Async, "archived elsewhere before" },
    };

    [Theory]
    [MemberData(nameof(SecondDatabases))]
    public async Task AnotherDatabaseAtTheSamePath_SharingTheFolder_IsRefusedAtOpen_AndTheArchiveStillRestoresTheFirstAlone(
        WaldenArchiveMode mode, string second)
    {
        var archive = new WaldenFolderDestination(Archive);
        await WriteAsync(Path, mode, archive, first: 1, count: 5);
        MoveAway(Path); // another machine or container: the same path, the same shared folder, another database
        if (second == "archived elsewhere before")
        {
            await WriteAsync(Path, mode, new WaldenFolderDestination(_dir.File("elsewhere")), first: 1000, count: 2);
        }

        var before = Objects(archive);

        var refused = await Assert.ThrowsAsync<WaldenArchiveException>(
            () => WaldenDatabase.OpenAsync(Path, Options(mode, new WaldenFolderDestination(Archive))));

        Assert.Contains($"'{Archive}' holds the archive of another database", refused.Message, StringComparison.Ordinal);
        Assert.Contains(second == "never archived" ? "has no lineage of its own" : "a destination (folder, or bucket prefix) of its own",
            refused.Message, StringComparison.Ordinal);
        Assert.Equal(Archive, refused.Destination);
        Assert.False(refused.IsTransient);
        Assert.Equal(before, Objects(archive)); // no base, no segment, no claim of the second database's
        Assert.Equal([1, 2, 3, 4, 5], Rows(await RestoreCompleteAsync(Archive, _dir.File("restored.db"))));
    }

    [Theory]
    [InlineData(WaldenArchiveMode.Sync)]
    [InlineData(WaldenArchiveMode.Async)]
    public async Task TheDatabaseRestoredFromItsArchive_AfterItsDiskDied_ContinuesTheArchive(WaldenArchiveMode mode)
    {
        var archive = new WaldenFolderDestination(Archive);
        await WriteAsync(Path, mode, archive, first: 1, count: 5);
        MoveAway(Path); // the disk died: the file and its staging folder are gone; the archive is on another disk

        await RestoreCompleteAsync(Archive, Path);
        await WriteAsync(Path, mode, archive, first: 6, count: 3);

        Assert.Equal([1, 2, 3, 4, 5, 6, 7, 8], Rows(await RestoreCompleteAsync(Archive, _dir.File("restored.db"))));
        var status = await WaldenArchive.GetStatusAsync(Archive);
        Assert.Equal([ArchiveLineage.ReadLocal(ArchiveLineage.StagingFolder(Path))!], status.Lineages); // one database, the restored one
    }

    [Fact]
    public async Task AFolderMissingAtOpen_ThatAnotherDatabaseClaimedMeanwhile_IsRefusedAtTheFirstShip_AndTheSyncWriteIsNotAcknowledged()
    {
        var late = _dir.File("late");
        await using var db = await WaldenDatabase.OpenAsync(Path, Options(WaldenArchiveMode.Sync, new WaldenFolderDestination(late)));
        await Assert.ThrowsAsync<WaldenArchiveException>(() => db.WriteAsync(c => c.Exec("CREATE TABLE t(a INTEGER PRIMARY KEY)")));

        Directory.CreateDirectory(late); // mounted now, and the other database opened with it first
        var other = _dir.File("other.db");
        await WriteAsync(other, WaldenArchiveMode.Sync, new WaldenFolderDestination(late), first: 100, count: 2);
        var before = Objects(new WaldenFolderDestination(late));

        var refused = await Assert.ThrowsAsync<WaldenArchiveException>(() => Insert(db, 1));

        Assert.False(refused.IsTransient);
        Assert.Contains($"holds the archive of another database, '{other}'", refused.Message, StringComparison.Ordinal);
        Assert.Equal(before, Objects(new WaldenFolderDestination(late)));
        Assert.Equal([100, 101], Rows(await RestoreCompleteAsync(late, _dir.File("restored.db"))));
    }

    [Theory]
    [InlineData("another object of the same length", false)]
    [InlineData("the same object, stored by an attempt that then failed", true)]
    public async Task ASegmentWhoseNameIsTakenWhenItIsPut_CountsAsStoredOnlyWhenItHoldsTheSameBytes(string there, bool acknowledged)
    {
        var destination = new CollidingDestination(new WaldenFolderDestination(Archive), sameBytes: acknowledged);
        await using (var db = await WaldenDatabase.OpenAsync(Path, Options(WaldenArchiveMode.Sync, destination)))
        {
            await db.WriteAsync(c => c.Exec("CREATE TABLE t(a INTEGER PRIMARY KEY)"));
            await Insert(db, 1);
            destination.Armed = true;
            var write = Insert(db, 2);
            if (acknowledged)
            {
                await write; // what it reads back is what it sent: stored, whatever the Put said
            }
            else
            {
                var refused = await Assert.ThrowsAsync<WaldenArchiveException>(() => write);
                Assert.Contains("not acknowledged", refused.Message, StringComparison.Ordinal);
            }

            Assert.False(destination.Armed, there);
        }
    }

    /// <summary>Before a segment's Put, stores an object under its name: a different one of the same length, or the same one.</summary>
    private sealed class CollidingDestination(IWaldenArchiveDestination inner, bool sameBytes) : IWaldenArchiveDestination
    {
        private volatile bool _armed;

        public bool Armed
        {
            get => _armed;
            set => _armed = value;
        }

        public string Name => inner.Name;

        public void Put(string name, Stream content)
        {
            if (_armed && name.EndsWith(".wseg", StringComparison.Ordinal))
            {
                _armed = false;
                var start = content.Position;
                var bytes = new byte[content.Length - start];
                content.ReadExactly(bytes);
                content.Position = start;
                if (!sameBytes)
                {
                    bytes[^1] ^= 0xFF;
                }

                inner.Put(name, new MemoryStream(bytes));
            }

            inner.Put(name, content); // refused: the name is taken
        }

        public IReadOnlyList<WaldenArchiveObject> List(string prefix) => inner.List(prefix);

        public Stream OpenRead(string name) => inner.OpenRead(name);

        public void Delete(string name) => inner.Delete(name);
    }

    [Fact]
    public async Task TwoCopiesOfOneDatabase_InOneBucket_TheOneThatSeesTheOthersNewerBase_StopsArchivingThere_SyncWritesFail()
    {
        // A cloned disk or VM: the file and its staging folder copied, so both copies have the same lineage and no claim
        // tells them apart. Each took a base at open; a restore of the latest state returns the copy with the newer base.
        _server = await S3Server.StartAsync(_dir.File("s3"));
        using var bucket = _server.Destination("shared/app");
        await WriteAsync(Path, WaldenArchiveMode.Sync, bucket, first: 1, count: 1);
        var copy = _dir.File("copy.db");
        File.Copy(Path, copy);
        CopyFolder(ArchiveLineage.StagingFolder(Path), ArchiveLineage.StagingFolder(copy));

        await using var original = await WaldenDatabase.OpenAsync(Path, Options(WaldenArchiveMode.Sync, bucket));
        using var bucketOfCopy = _server.Destination("shared/app");
        await using var cloned = await WaldenDatabase.OpenAsync(copy, Options(WaldenArchiveMode.Sync, bucketOfCopy));
        await Insert(original, 2);
        await Insert(cloned, 100);

        original.Archiver!.CheckOtherCopies();
        cloned.Archiver!.CheckOtherCopies(); // its base is the newer one: it sees nothing yet

        var refused = await Assert.ThrowsAsync<WaldenArchiveException>(() => Insert(original, 3));
        Assert.False(refused.IsTransient);
        Assert.Contains("another copy of this database", refused.Message, StringComparison.Ordinal);
        Assert.Equal(bucket.Name, refused.Destination);
        await Insert(cloned, 101);
    }

    [Fact]
    public async Task OneDatabase_WithBasesOfEarlierRunsAndSeveralOfItsOwn_IsNeverTakenForAnotherCopy()
    {
        var archive = new WaldenFolderDestination(Archive);
        await WriteAsync(Path, WaldenArchiveMode.Sync, archive, first: 1, count: 2); // an earlier run's base
        await using var db = await WaldenDatabase.OpenAsync(Path, Options(WaldenArchiveMode.Sync, archive));
        for (var i = 3; i < 6; i++)
        {
            using (var foreign = Sql.OpenDirect(Path))
            {
                foreign.Exec($"INSERT INTO t(a) VALUES ({i * 100})"); // another connection's commit: answered with a new base
            }

            await Insert(db, i);
        }

        Assert.True(Directory.EnumerateDirectories(Archive).Count() >= 4, "the foreign commits were not answered with new bases");
        db.Archiver!.CheckOtherCopies();
        await Insert(db, 6);
    }

    private static void CopyFolder(string from, string to)
    {
        Directory.CreateDirectory(to);
        foreach (var file in Directory.EnumerateFiles(from))
        {
            File.Copy(file, System.IO.Path.Combine(to, System.IO.Path.GetFileName(file)));
        }
    }

    [Theory]
    [InlineData(WaldenArchiveMode.Sync)]
    [InlineData(WaldenArchiveMode.Async)]
    public async Task AFolderMissingAtOpen_ThatHoldsThisDatabasesEarlierArchive_IsNumberedAfterItWhenItComesBack_SoEveryTxidRestoresItsOwnState(
        WaldenArchiveMode mode)
    {
        // Found by a newcomer's test: the numbering read at open skipped the missing folder, so the reopened database
        // numbered its base and transactions from 1 again; a restore by --txid of an early transaction returned the new
        // base's state and said complete, and a base id taken in the same second as the earlier run's could never be stored.
        var archive = new WaldenFolderDestination(Archive);
        await WriteAsync(Path, mode, archive, first: 1, count: 5); // one transaction per insert
        var firstRunLast = (await WaldenArchive.GetStatusAsync(Archive)).LastTxid!.Value;
        Directory.Move(Archive, Archive + ".unmounted");

        await using (var db = await WaldenDatabase.OpenAsync(Path, Options(mode, new WaldenFolderDestination(Archive))))
        {
            Directory.Move(Archive + ".unmounted", Archive); // mounted again before the next write
            for (var i = 6; i <= 9; i++)
            {
                try
                {
                    await Insert(db, i);
                }
                catch (WaldenArchiveException ex) when (mode == WaldenArchiveMode.Sync && ex.IsTransient)
                {
                    Assert.Contains("numbered after them", ex.Message, StringComparison.Ordinal); // committed, not acknowledged
                }
            }
        }

        foreach (var (txid, rows) in new[] { (firstRunLast, 5), (firstRunLast - 2, 3) })
        {
            var early = _dir.File($"early-{txid}.db");
            var result = await WaldenArchive.RestoreAsync(Archive, early, new WaldenArchiveRestoreOptions { Txid = txid });
            Assert.True(result.Complete, result.Problem);
            Assert.Equal(Enumerable.Range(1, rows).Select(r => (long)r), Rows(early)); // the first run's own state at that transaction
        }

        Assert.Equal([1, 2, 3, 4, 5, 6, 7, 8, 9], Rows(await RestoreCompleteAsync(Archive, _dir.File("latest.db"))));
        var bases = (await WaldenArchive.GetStatusAsync(Archive)).Bases;
        Assert.Equal(bases.OrderBy(b => b.BaseId).Select(b => b.Txid), bases.Select(b => b.Txid).Order()); // numbered in order
    }

    [Fact]
    public async Task TheSameDatabase_WhoseLineageIdWasWrittenBackByHand_AsTheMessageSays_ContinuesTheArchive()
    {
        var archive = new WaldenFolderDestination(Archive);
        await WriteAsync(Path, WaldenArchiveMode.Sync, archive, first: 1, count: 2);
        var id = Assert.Single(ArchiveLineage.InArchive(archive));
        Directory.Delete(ArchiveLineage.StagingFolder(Path), recursive: true);
        var refused = await Assert.ThrowsAsync<WaldenArchiveException>(() => WriteAsync(Path, WaldenArchiveMode.Sync, archive, 3, 1));
        Assert.Contains($"write {id} into '{System.IO.Path.Combine(ArchiveLineage.StagingFolder(Path), ArchiveLineage.LocalFile)}'",
            refused.Message, StringComparison.Ordinal);

        ArchiveLineage.WriteLocal(ArchiveLineage.StagingFolder(Path), id);
        await WriteAsync(Path, WaldenArchiveMode.Sync, archive, first: 3, count: 1);

        Assert.Equal([1, 2, 3], Rows(await RestoreCompleteAsync(Archive, _dir.File("restored.db"))));
    }

    [Theory]
    [InlineData(WaldenArchiveMode.Sync)]
    [InlineData(WaldenArchiveMode.Async)]
    public async Task TwoDatabasesAtTwoPaths_InOneBucketPrefix_TheSecondIsRefused_AndTheBucketRestoresTheFirst(WaldenArchiveMode mode)
    {
        // An object store has no archive-of path check: before lineages both archived into the prefix, and a restore
        // returned whichever database's objects happened to sort last, saying it was complete.
        _server = await S3Server.StartAsync(_dir.File("s3"));
        using var bucket = _server.Destination("shared/app");
        await WriteAsync(Path, mode, bucket, first: 1, count: 4);
        var before = Objects(bucket);

        var other = _dir.File("other.db");
        using var second = _server.Destination("shared/app");
        var refused = await Assert.ThrowsAsync<WaldenArchiveException>(() => WriteAsync(other, mode, second, first: 100, count: 3));

        Assert.Contains($"holds the archive of another database, '{Path}'", refused.Message, StringComparison.Ordinal);
        Assert.Equal(before, Objects(bucket));
        var restored = _dir.File("restored.db");
        Assert.True((await WaldenArchive.RestoreAsync(bucket, restored)).Complete);
        Assert.Equal([1, 2, 3, 4], Rows(restored));
    }
    [Theory]
    [InlineData(WaldenArchiveMode.Sync)]
    [InlineData(WaldenArchiveMode.Async)]
    public async Task TwoDatabasesClaimingOneEmptyBucketAtOnce_TheOneThatSeesBothWithdrawsItsClaim_AndTheOtherReopensAndRestores(
        WaldenArchiveMode mode)
    {
        // The second database listed the prefix while it was empty, then the first claimed it and went on, then the
        // second wrote its own lineage object and saw two. Its object must not stay: the first database's next open and
        // the restore's lineage hand-over would otherwise see two databases' archives for good.
        _server = await S3Server.StartAsync(_dir.File("s3"));
        using var bucket = _server.Destination("shared/app");
        var other = _dir.File("other.db");
        using var second = new BeforeLineagePut(_server.Destination("shared/app"),
            () => Task.Run(() => WriteAsync(Path, mode, bucket, first: 1, count: 2)).GetAwaiter().GetResult());

        var refused = await Assert.ThrowsAsync<WaldenArchiveException>(() => WriteAsync(other, mode, second, first: 100, count: 1));

        Assert.False(refused.IsTransient);
        Assert.Contains($"holds the archive of another database, '{Path}'", refused.Message, StringComparison.Ordinal);
        Assert.Equal([ArchiveLineage.ReadLocal(ArchiveLineage.StagingFolder(Path))!], ArchiveLineage.InArchive(bucket));
        await WriteAsync(Path, mode, bucket, first: 3, count: 1); // the first database reopens: not refused
        var restored = _dir.File("restored.db");
        Assert.True((await WaldenArchive.RestoreAsync(bucket, restored)).Complete);
        Assert.Equal([1, 2, 3], Rows(restored));
        Assert.NotNull(ArchiveLineage.ReadLocal(ArchiveLineage.StagingFolder(restored))); // the restored file continues the archive
    }

    /// <summary>Runs <paramref name="before"/> once, just before the first lineage object is put through it.</summary>
    private sealed class BeforeLineagePut(IWaldenArchiveDestination inner, Action before) : IWaldenArchiveDestination, IDisposable
    {
        private Action? _before = before;

        public string Name => inner.Name;

        public void Put(string name, Stream content)
        {
            if (name.StartsWith(ArchiveLineage.Prefix, StringComparison.Ordinal) && Interlocked.Exchange(ref _before, null) is { } run)
            {
                run();
            }

            inner.Put(name, content);
        }

        public IReadOnlyList<WaldenArchiveObject> List(string prefix) => inner.List(prefix);

        public Stream OpenRead(string name) => inner.OpenRead(name);

        public void Delete(string name) => inner.Delete(name);

        public void Dispose() => (inner as IDisposable)?.Dispose();
    }
    [Theory]
    [InlineData(WaldenArchiveMode.Sync, "a named pipe")]
    [InlineData(WaldenArchiveMode.Async, "a named pipe")]
    [InlineData(WaldenArchiveMode.Sync, "a folder")]
    [InlineData(WaldenArchiveMode.Async, "a folder")]
    public async Task ALineageFileThatIsNoFile_IsRefusedAtOpen_NamingIt_NotTakenForAMissingLineageOrAFailingDestination(
        WaldenArchiveMode mode, string kind)
    {
        var archive = new WaldenFolderDestination(Archive);
        await WriteAsync(Path, mode, archive, first: 1, count: 2);
        var lineage = System.IO.Path.Combine(ArchiveLineage.StagingFolder(Path), ArchiveLineage.LocalFile);
        File.Delete(lineage);
        if (kind == "a folder")
        {
            Directory.CreateDirectory(lineage);
        }
        else
        {
            using var mkfifo = System.Diagnostics.Process.Start("mkfifo", [lineage]);
            await mkfifo.WaitForExitAsync();
        }

        var before = Objects(archive);

        var refused = await Assert.ThrowsAsync<WaldenArchiveException>(() => WriteAsync(Path, mode, archive, first: 3, count: 1));

        Assert.False(refused.IsTransient);
        Assert.Contains($"'{lineage}' is {kind}", refused.Message, StringComparison.Ordinal);
        Assert.Equal(before, Objects(archive));
    }
    [Fact]
    public async Task TheLineageIdWrittenBackByHandInCapitals_ContinuesTheArchive()
    {
        var archive = new WaldenFolderDestination(Archive);
        await WriteAsync(Path, WaldenArchiveMode.Sync, archive, first: 1, count: 2);
        var id = Assert.Single(ArchiveLineage.InArchive(archive));
        File.WriteAllText(System.IO.Path.Combine(ArchiveLineage.StagingFolder(Path), ArchiveLineage.LocalFile),
            id.ToUpperInvariant() + "\r\n"); // hexadecimal digits, as the message asks for, typed on another system

        await WriteAsync(Path, WaldenArchiveMode.Sync, archive, first: 3, count: 1);

        Assert.Equal([id], ArchiveLineage.InArchive(archive));
        Assert.Equal([1, 2, 3], Rows(await RestoreCompleteAsync(Archive, _dir.File("restored.db"))));
    }
    [Theory]
    [InlineData("the file alone")]
    [InlineData("the file, its staging folder removed")]
    [InlineData("the file with its staging folder")]
    [InlineData("the file, onto another database's staging folder")]
    public async Task ADatabaseMovedToAnotherPath_IsRefusedOnce_NamingEveryStep_AndDoingThemContinuesTheArchive(string moved)
    {
        var archive = new WaldenFolderDestination(Archive);
        await WriteAsync(Path, WaldenArchiveMode.Sync, archive, first: 1, count: 3);
        var id = Assert.Single(ArchiveLineage.InArchive(archive));
        var target = _dir.File("elsewhere/app.db");
        File.Move(Path, target);
        var (staging, newStaging) = (ArchiveLineage.StagingFolder(Path), ArchiveLineage.StagingFolder(target));
        switch (moved)
        {
            case "the file, its staging folder removed":
                Directory.Delete(staging, recursive: true);
                break;
            case "the file with its staging folder":
                Directory.Move(staging, newStaging);
                break;
            case "the file, onto another database's staging folder":
                ArchiveLineage.WriteLocal(newStaging, "0123456789abcdef0123456789abcdef");
                break;
        }

        var refused = await Assert.ThrowsAsync<WaldenArchiveException>(() => WriteAsync(target, WaldenArchiveMode.Sync, archive, 4, 1));

        // Every step in the one message, then done as it says: the next open continues the archive.
        var marker = System.IO.Path.Combine(Archive, "archive-of");
        Assert.Contains($"write the new path into '{marker}'", refused.Message, StringComparison.Ordinal);
        await File.WriteAllTextAsync(marker, target + "\n");
        switch (moved)
        {
            case "the file alone":
                Assert.Contains($"and move '{staging}' (its lineage and working files) to '{newStaging}'", refused.Message, StringComparison.Ordinal);
                Directory.Move(staging, newStaging);
                break;
            case "the file, its staging folder removed":
                var lineageFile = System.IO.Path.Combine(newStaging, ArchiveLineage.LocalFile);
                Assert.Contains($"and write {id} (its lineage) into '{lineageFile}'", refused.Message, StringComparison.Ordinal);
                ArchiveLineage.WriteLocal(newStaging, id);
                break;
            case "the file with its staging folder":
                Assert.DoesNotContain("lineage", refused.Message, StringComparison.Ordinal);
                break;
            default:
                Assert.Contains($"move '{newStaging}' away and move '{staging}' (its lineage and working files) to '{newStaging}'", refused.Message, StringComparison.Ordinal);
                Directory.Move(newStaging, _dir.File("other-staging"));
                Directory.Move(staging, newStaging);
                break;
        }

        await WriteAsync(target, WaldenArchiveMode.Sync, archive, first: 4, count: 2);
        Assert.Equal([1, 2, 3, 4, 5], Rows(await RestoreCompleteAsync(Archive, _dir.File("restored.db"))));
    }
}
