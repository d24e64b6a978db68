using Walden.Tests.TestSupport;

namespace Walden.Tests.Reading;

/// <summary>
/// A reader connection reads without its memory map while most of its reads find the database changed by the writer
/// (SQLite would unmap and map it again at each of them), and with it again once the changes stop (see ReaderMemoryMap).
/// </summary>
public sealed class ReaderMemoryMapTests : IDisposable
{
    private const long DefaultMmapSize = 256L * 1024 * 1024;

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task AReaderWhoseReadsFindNewCommits_ReadsWithoutTheMap_AndWithItAgainOnceTheWritesStop()
    {
        await using var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), new WaldenOptions { ReaderPoolSize = 1 });
        await db.WriteAsync(c => c.Exec(Sql.LogTable));
        Assert.Equal(DefaultMmapSize, await MmapSizeAsync(db));

        for (var seq = 1; seq <= 16; seq++)
        {
            var written = seq;
            await db.WriteAsync(c => Sql.Insert(c, 1, written));
            Assert.Equal(seq, await db.ReadAsync(c => c.Scalar<long>("SELECT count(*) FROM log"))); // what a read sees is unchanged
        }

        Assert.Equal(0, await MmapSizeAsync(db));

        // No writes now. A checkpoint resetting the WAL meanwhile counts as one change, which leaves the window after 16 reads.
        var reads = 0;
        while (await MmapSizeAsync(db) == 0 && ++reads < 40)
        {
            Assert.Equal(16, await db.ReadAsync(c => c.Scalar<long>("SELECT count(*) FROM log")));
        }

        Assert.Equal(DefaultMmapSize, await MmapSizeAsync(db));
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
