using Walden.Tests.TestSupport;

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

    private static long Count(string path)
    {
        using var connection = Sql.OpenDirect(path, readOnly: true);
        return connection.Scalar<long>("SELECT count(*) FROM t");
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
}
