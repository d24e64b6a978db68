using Walden.Tests.TestSupport;

namespace Walden.Tests.Reading;

/// <summary>
/// A reader connection reads without its memory map once a read finds the database changed by the writer (SQLite unmaps
/// it then, and the reads after fault every page in again), and with it again after a quiet second (see ReaderMemoryMap).
/// </summary>
public sealed class ReaderMemoryMapTests : IDisposable
{
    private const long DefaultMmapSize = 256L * 1024 * 1024;

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task AReaderWhoseReadFindsANewCommit_ReadsWithoutTheMap_UntilItsReadsFoundNoChangeForASecond()
    {
        var time = new FakeTimeProvider();
        await using var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"),
            new WaldenOptions { ReaderPoolSize = 1, TimeProvider = time, CheckpointIdleDelay = TimeSpan.FromHours(1) });
        await db.WriteAsync(c => c.Exec(Sql.LogTable));
        await db.ReadAsync(c => c.Scalar<long>("SELECT count(*) FROM log")); // the reader's first read: its baseline
        Assert.Equal(DefaultMmapSize, await MmapSizeAsync(db));

        await db.WriteAsync(c => Sql.Insert(c, 1, 1));
        Assert.Equal(1, await db.ReadAsync(c => c.Scalar<long>("SELECT count(*) FROM log"))); // finds the commit: what it sees is unchanged
        for (var read = 0; read < 20; read++)
        {
            Assert.Equal(0, await MmapSizeAsync(db)); // no write since, but not yet a quiet second
        }

        time.Advance(TimeSpan.FromSeconds(1));
        await MmapSizeAsync(db); // a read after a quiet second maps the file again
        Assert.Equal(DefaultMmapSize, await MmapSizeAsync(db));
        Assert.Equal(1, await db.ReadAsync(c => c.Scalar<long>("SELECT count(*) FROM log")));
    }

    [Fact]
    public async Task WithMmapSizeZero_AReaderNeverMapsTheFile()
    {
        await using var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), new WaldenOptions { ReaderPoolSize = 1, MmapSize = 0 });
        await db.WriteAsync(c => c.Exec(Sql.LogTable));
        for (var read = 0; read < 40; read++)
        {
            Assert.Equal(0, await MmapSizeAsync(db));
        }
    }

    private static Task<long> MmapSizeAsync(WaldenDatabase db) => db.ReadAsync(c => c.Scalar<long>("PRAGMA mmap_size"));
}
