using Walden.Tests.TestSupport;
using static Walden.Tests.Archiving.ArchiveChecks;

namespace Walden.Tests.Archiving;

/// <summary>The writer, the checkpointer and the archive: no commit is lost to a WAL reset, nobody else's commit either.</summary>
public sealed class ArchiveSeamTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public ArchiveSeamTests() => Directory.CreateDirectory(Archive);

    public void Dispose() => _dir.Dispose();

    private string Archive => _dir.File("archive");

    private WaldenOptions Options(WaldenArchiveMode mode)
    {
        var options = new WaldenOptions { WalSizeLimit = 1024 * 1024, CheckpointIdleDelay = TimeSpan.FromMilliseconds(10) };
        options.Archive.Mode = mode;
        options.Archive.DrillInterval = null;
        options.Archive.AddFolder(Archive);
        return options;
    }

    [Theory]
    [InlineData(WaldenArchiveMode.Sync)]
    [InlineData(WaldenArchiveMode.Async)]
    public async Task Archive_UnderRestartAndTruncateCheckpoints_LosesNoCommit(WaldenArchiveMode mode)
    {
        var path = _dir.File("app.db");
        await using (var db = await WaldenDatabase.OpenAsync(path, Options(mode)))
        {
            await db.WriteAsync(c => c.Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, body BLOB)"));
            for (var round = 0; round < 20; round++)
            {
                await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => db.WriteAsync(c => c.Exec("INSERT INTO t(body) VALUES (randomblob(3000))"))));
                await db.CheckpointAsync(round % 2 == 0 ? WaldenCheckpointMode.Truncate : WaldenCheckpointMode.Restart);
            }
        }

        var restored = _dir.File("restored.db");
        var result = await WaldenArchive.RestoreAsync(Archive, restored);
        Assert.True(result.Complete, result.Problem);
        Assert.Equal(400, Count(restored));
        Assert.Single(Directory.EnumerateDirectories(Archive)); // one base: every reset was followed without a new snapshot
    }

    [Fact]
    public async Task Archive_WhenAnotherConnectionCommitsAndResetsTheWal_AnswersWithANewBaseNotAGap()
    {
        var path = _dir.File("app.db");
        var options = Options(WaldenArchiveMode.Sync);
        options.CheckpointIdleDelay = TimeSpan.FromHours(1);
        await using (var db = await WaldenDatabase.OpenAsync(path, options))
        {
            await db.WriteAsync(c => c.Exec("CREATE TABLE t(a)"));
            await db.WriteAsync(c => c.Exec("INSERT INTO t VALUES ('walden 1')"));
            using (var foreign = Sql.OpenDirect(path))
            {
                foreign.Exec("CREATE TABLE f(x); INSERT INTO f VALUES (randomblob(20000))"); // pages Walden's writer never touches
                foreign.Exec("PRAGMA wal_checkpoint(TRUNCATE)"); // its frames leave the WAL before Walden's writer commits again
            }

            await db.WriteAsync(c => c.Exec("INSERT INTO t VALUES ('walden 2')"));
        }

        var restored = _dir.File("restored.db");
        var result = await WaldenArchive.RestoreAsync(Archive, restored);
        Assert.True(result.Complete, result.Problem);
        Assert.Equal(2, Count(restored));
        using (var connection = Sql.OpenDirect(restored, readOnly: true))
        {
            Assert.Equal(20000, connection.Scalar<long>("SELECT length(x) FROM f"));
        }

        Assert.Equal(2, Directory.EnumerateDirectories(Archive).Count()); // the base at open and the one that answered the foreign commit
    }

    [Theory]
    [InlineData(WaldenArchiveMode.Sync)]
    [InlineData(WaldenArchiveMode.Async)]
    public async Task Archive_WhenAnotherProcessCommitsAfterTheLastBatch_TheCloseTakesABase_SoTheLatestMomentHasIt(WaldenArchiveMode mode)
    {
        var path = _dir.File("app.db");
        var options = Options(mode);
        options.CheckpointIdleDelay = TimeSpan.FromHours(1);
        await using (var db = await WaldenDatabase.OpenAsync(path, options))
        {
            await db.WriteAsync(c => c.Exec("CREATE TABLE t(a)"));
            await db.WriteAsync(c => c.Exec("INSERT INTO t VALUES ('walden')"));
            using var foreign = Sql.OpenDirect(path);
            foreign.Exec("INSERT INTO t VALUES ('foreign'); CREATE TABLE f(x); INSERT INTO f VALUES (randomblob(20000))");
        }

        var restored = _dir.File("restored.db");
        var result = await WaldenArchive.RestoreAsync(Archive, restored);
        Assert.True(result.Complete, result.Problem);
        Assert.Equal(2, Count(restored));
        Assert.Equal(1, Count(restored, "f"));
    }

    [Fact]
    public async Task Sync_WhenADelegateRunsCommitItself_TheWritesItCommittedAreNotAcknowledgedBeforeTheyAreArchived()
    {
        var destination = new SwitchableDestination(new WaldenFolderDestination(Archive));
        var options = Options(WaldenArchiveMode.Sync);
        options.Archive.Destinations.Clear();
        options.Archive.Destinations.Add(destination);
        await using var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), options);
        await db.WriteAsync(c => c.Exec("CREATE TABLE t(a)"));

        // One batch: a write that holds the writer until the others are queued, a plain insert, then a delegate that
        // runs COMMIT: its COMMIT commits the two before it, while the destination refuses everything.
        // The first on a thread of its own: a lone caller may run its batch inline (a Sync archive too) and would block here.
        using var queued = new ManualResetEventSlim();
        using var holding = new ManualResetEventSlim();
        var first = Task.Run(() => db.WriteAsync(c =>
        {
            holding.Set();
            queued.Wait(TimeSpan.FromSeconds(30));
            c.Exec("INSERT INTO t VALUES (1)");
        }));
        Assert.True(holding.Wait(TimeSpan.FromSeconds(30)));
        var second = db.WriteAsync(c => c.Exec("INSERT INTO t VALUES (2)"));
        var committing = db.WriteAsync(c => c.Exec("INSERT INTO t VALUES (3); COMMIT"));
        destination.Failing = true;
        queued.Set();

        await Assert.ThrowsAnyAsync<WaldenException>(() => committing);
        var error1 = await Assert.ThrowsAsync<WaldenArchiveException>(() => first);
        var error2 = await Assert.ThrowsAsync<WaldenArchiveException>(() => second);
        Assert.Equal(destination.Name, error1.Destination);
        Assert.Equal(destination.Name, error2.Destination);

        destination.Failing = false; // back: the next write ships everything committed, without a gap
        await db.WriteAsync(c => c.Exec("INSERT INTO t VALUES (4)"));
        var restored = _dir.File("restored.db");
        var result = await WaldenArchive.RestoreAsync(Archive, restored);
        Assert.True(result.Complete, result.Problem);
        Assert.Equal(4, Count(restored)); // 1, 2, 3 (committed by the delegate's COMMIT) and 4
    }

    /// <summary>A destination that refuses every Put while <see cref="Failing"/> is set (an unplugged disk).</summary>
    private sealed class SwitchableDestination(IWaldenArchiveDestination inner) : IWaldenArchiveDestination
    {
        private bool _failing;

        public bool Failing
        {
            get => Volatile.Read(ref _failing);
            set => Volatile.Write(ref _failing, value);
        }

        public string Name => inner.Name;

        public void Put(string name, Stream content)
        {
            if (Failing)
            {
                throw new IOException($"The destination '{Name}' is unplugged (test).");
            }

            inner.Put(name, content);
        }

        public IReadOnlyList<WaldenArchiveObject> List(string prefix) => inner.List(prefix);

        public Stream OpenRead(string name) => inner.OpenRead(name);

        public void Delete(string name) => inner.Delete(name);
    }
}
