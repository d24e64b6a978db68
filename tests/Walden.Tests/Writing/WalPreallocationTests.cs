using Walden.Tests.TestSupport;

namespace Walden.Tests.Writing;

/// <summary>
/// The writer keeps the <c>-wal</c> file allocated ahead of its end (see WalPreallocation), so a commit's fdatasync
/// overwrites blocks the file has instead of appending; never past <c>journal_size_limit</c>, and again after the WAL
/// was truncated. The file's size is read from its metadata only (no descriptor on a file in use).
/// </summary>
public sealed class WalPreallocationTests : IDisposable
{
    private const long Chunk = 1024 * 1024;

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task AfterTheFirstCommits_TheWalFileIsAllocatedTwoChunksAheadOfItsEnd_AndEveryRowReadsBack()
    {
        var path = _dir.File("app.db");
        await using (var db = await OpenAsync(path, walSizeLimit: 64 * Chunk))
        {
            await db.WriteAsync(c => c.Exec(Sql.LogTable));
            for (var seq = 0; seq < 3; seq++)
            {
                await db.WriteAsync(c => Sql.Insert(c, 1, seq));
            }

            Assert.True(WalBytes(path) >= 2 * Chunk, $"the -wal file is {WalBytes(path):N0} bytes after four small commits");
            using var direct = Sql.OpenDirect(path, readOnly: true);
            Assert.Equal(3, direct.Scalar<long>("SELECT count(*) FROM log"));
            Assert.Equal("ok", direct.Scalar<string>("PRAGMA integrity_check"));
        }

        await using var reopened = await OpenAsync(path, walSizeLimit: 64 * Chunk);
        Assert.Equal(3, await reopened.ReadAsync(c => c.Scalar<long>("SELECT count(*) FROM log")));
    }

    [Theory]
    [InlineData(3 * Chunk, Chunk)] // journal_size_limit 1.5 MiB: grown to the last whole chunk below it
    [InlineData(Chunk, 0)] // journal_size_limit 512 KiB: below one chunk, never grown
    public async Task TheFile_IsNeverGrownPastJournalSizeLimit(long walSizeLimit, long grownTo)
    {
        var path = _dir.File("app.db");
        await using var db = await OpenAsync(path, walSizeLimit);
        await db.WriteAsync(c => c.Exec(Sql.LogTable));
        for (var seq = 0; seq < 4; seq++)
        {
            await db.WriteAsync(c => Sql.Insert(c, 1, seq));
        }

        Assert.True(WalBytes(path) <= walSizeLimit / 2, $"the -wal file is {WalBytes(path):N0} bytes");
        Assert.True(WalBytes(path) >= grownTo, $"the -wal file is {WalBytes(path):N0} bytes");
        if (grownTo == 0)
        {
            Assert.True(WalBytes(path) < Chunk / 2, $"the -wal file is {WalBytes(path):N0} bytes: grown although one chunk does not fit");
        }
    }

    [Fact]
    public async Task AfterATruncateCheckpoint_TheNextCommitsAllocateAheadAgain()
    {
        var path = _dir.File("app.db");
        await using var db = await OpenAsync(path, walSizeLimit: 64 * Chunk);
        await db.WriteAsync(c => c.Exec(Sql.LogTable));
        await db.WriteAsync(c => Sql.Insert(c, 1, 0));
        await db.CheckpointAsync(WaldenCheckpointMode.Truncate);
        Assert.Equal(0, WalBytes(path));

        await db.WriteAsync(c => Sql.Insert(c, 1, 1));
        await db.WriteAsync(c => Sql.Insert(c, 1, 2));
        Assert.True(WalBytes(path) >= Chunk, $"the -wal file is {WalBytes(path):N0} bytes after two commits that followed a TRUNCATE");
        Assert.Equal(3, await db.ReadAsync(c => c.Scalar<long>("SELECT count(*) FROM log")));
    }

    [Fact]
    public async Task TheWalFileSize_IsNotAskedAtEveryCommit_OnlyWhenItMayHaveChanged()
    {
        // A stat of the -wal before each commit gave it a fine-grained mtime at every write (Linux 6.13+, multigrain
        // timestamps), and on ext4 each commit's fdatasync then wrote the inode too: a second disk write per commit.
        const int Commits = 600;
        var path = _dir.File("app.db");
        await using var db = await OpenAsync(path, walSizeLimit: 64 * Chunk);
        await db.WriteAsync(c => c.Exec(Sql.LogTable));
        var before = db.WalSizeAsks;
        for (var seq = 0; seq < Commits; seq++)
        {
            await db.WriteAsync(c => Sql.Insert(c, 1, seq));
        }

        var asks = db.WalSizeAsks - before;
        Assert.True(asks <= Commits / 10, $"the -wal's size was asked {asks} times in {Commits} commits");
        Assert.True(WalBytes(path) >= 2 * Chunk, $"the -wal file is {WalBytes(path):N0} bytes: not kept ahead");
        Assert.Equal(Commits, await db.ReadAsync(c => c.Scalar<long>("SELECT count(*) FROM log")));
    }

    [Fact]
    public async Task WithDurabilityNormal_TheFileIsNotGrownAhead()
    {
        var path = _dir.File("app.db");
        await using var db = await OpenAsync(path, 64 * Chunk, WaldenDurability.Normal);
        await db.WriteAsync(c => c.Exec(Sql.LogTable));
        for (var seq = 0; seq < 4; seq++)
        {
            await db.WriteAsync(c => Sql.Insert(c, 1, seq));
        }

        Assert.True(WalBytes(path) < Chunk / 2, $"the -wal file is {WalBytes(path):N0} bytes: grown although Normal never waits for its fdatasync");
    }

    private static Task<WaldenDatabase> OpenAsync(string path, long walSizeLimit, WaldenDurability durability = WaldenDurability.Full) =>
        WaldenDatabase.OpenAsync(path, new WaldenOptions
        {
            WalSizeLimit = walSizeLimit,
            CheckpointIdleDelay = TimeSpan.FromHours(1),
            Durability = durability,
        });

    private static long WalBytes(string path) => new FileInfo(path + "-wal").Length;
}
