using System.Buffers.Binary;
using System.Security.Cryptography;
using Walden.Archiving;
using Walden.Tests.TestSupport;
using static Walden.Tests.Archiving.ArchiveChecks;

namespace Walden.Tests.Archiving;

/// <summary>
/// Restore streams every segment format (Archiving/SegmentApplier.cs): an object is read a part at a time from the
/// destination's stream, checked whole before any of its pages is written, and applied one transaction at a time; a
/// damaged part in the middle of a segment stops the restore before the transaction it holds, naming both.
/// </summary>
public sealed class ArchiveStreamingRestoreTests : IDisposable
{
    private const int Batches = 40;
    private readonly TempDirectory _dir = new();

    public ArchiveStreamingRestoreTests() => Directory.CreateDirectory(Archive);

    public void Dispose() => _dir.Dispose();

    private string Archive => _dir.File("archive");

    [Theory]
    [InlineData(WaldenArchiveMode.Sync, 3)] // the append log's seal: one part per batch
    [InlineData(WaldenArchiveMode.Async, 5)] // one Brotli stream over every batch of the interval
    public async Task Restore_OfALargeSegment_ReadsAndAllocatesAPartAtATime_NeverTheWholeSegment(WaldenArchiveMode mode, int format)
    {
        var path = _dir.File("app.db");
        var options = Options(mode, new WaldenFolderDestination(Archive));
        options.Archive.MaxLag = TimeSpan.FromHours(1); // Async: no ship before the close, which ships every batch as one segment
        options.Archive.SegmentTargetBytes = 64L << 20; // Sync: no seal before the close, which seals the log into one segment
        await using (var db = await WaldenDatabase.OpenAsync(path, options))
        {
            // Async: the open's base is stored now; in the background, under load, its round came after the first commits
            // and took them into a segment of their own (CI).
            Assert.Null(db.Archiver!.ShipAll());
            await db.WriteAsync(c => c.Exec("CREATE TABLE t(a, body BLOB)"));
            for (var i = 0; i < Batches; i++)
            {
                var first = (i * 100) + 1;
                await db.WriteAsync(c => c.Exec(
                    $"WITH RECURSIVE n(v) AS (SELECT {first} UNION ALL SELECT v + 1 FROM n WHERE v < {first + 99}) INSERT INTO t SELECT v, randomblob(3000) FROM n"));
            }
        }

        var segment = new FileInfo(Assert.Single(Directory.EnumerateFiles(Archive, "*.wseg", SearchOption.AllDirectories)));
        Assert.Equal(format, BinaryPrimitives.ReadInt32LittleEndian((await File.ReadAllBytesAsync(segment.FullName)).AsSpan(8)));
        Assert.True(segment.Length > 8 << 20, $"the segment is {segment.Length:N0} bytes");

        var source = new ReadMeasuringDestination(new WaldenFolderDestination(Archive));
        var restored = _dir.File("restored.db");
        var before = GC.GetAllocatedBytesForCurrentThread();
        var result = ArchiveRestorer.Restore(source, restored, new WaldenArchiveRestoreOptions(), CancellationToken.None);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.True(result.Complete, result.Problem);
        Assert.Equal(Batches * 100, Count(restored));
        Assert.True(source.LargestRead <= 1 << 20, $"{source.LargestRead:N0} bytes read at once from a segment of {segment.Length:N0}");
        Assert.True(allocated < segment.Length / 4, $"{allocated:N0} bytes allocated restoring a segment of {segment.Length:N0}");
    }

    [Theory]
    [InlineData(true)] // a part that does not decode under a checksum that matches (a writer's bug): the batches before it are kept
    [InlineData(false)] // a bit flipped on the disk: the segment's checksum fails, so none of it is applied
    public async Task Restore_OfASealedSegmentDamagedInAMiddlePart_StopsBeforeTheDamagedTransaction_AndNamesIt(bool checksumMatches)
    {
        var txids = new List<long>();
        long before;
        await using (var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), Options(WaldenArchiveMode.Sync, new WaldenFolderDestination(Archive))))
        {
            await db.WriteAsync(c => c.Exec("CREATE TABLE t(a)"));
            before = db.Archiver!.LastTxid;
            for (var i = 1; i <= 5; i++)
            {
                await Insert(db, i);
                txids.Add(db.Archiver!.LastTxid);
            }
        }

        // Close sealed the log into one segment of format 3, one part (its own zlib stream) per transaction: damage the third.
        var segment = Assert.Single(Directory.EnumerateFiles(Archive, "*.wseg", SearchOption.AllDirectories));
        var bytes = await File.ReadAllBytesAsync(segment);
        Assert.Equal(3, BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(8)));
        var parts = new List<(int At, int Length)>();
        for (var offset = 128; offset < bytes.Length - 32; offset += 8 + parts[^1].Length)
        {
            parts.Add((offset, BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(offset + 4))));
        }

        var third = parts[parts.Count - 3]; // the table's creation is a part of its own before the five inserts
        Assert.Equal(txids[2], ParsedFirst(bytes) + parts.Count - 3);
        if (checksumMatches)
        {
            bytes.AsSpan(third.At + 8, third.Length).Fill(0xFF);
            SHA256.HashData(bytes.AsSpan(0, bytes.Length - 32), bytes.AsSpan(bytes.Length - 32));
        }
        else
        {
            bytes[third.At + 8 + (third.Length / 2)] ^= 0x10;
        }

        await File.WriteAllBytesAsync(segment, bytes);

        var restored = _dir.File("restored.db");
        var result = await WaldenArchive.RestoreAsync(Archive, restored);
        Assert.False(result.Complete);
        Assert.Contains(Path.GetFileName(segment), result.Problem, StringComparison.Ordinal);
        if (checksumMatches)
        {
            Assert.Equal(txids[1], result.Txid);
            Assert.Contains($"at transaction {txids[2]}", result.Problem, StringComparison.Ordinal);
            Assert.Equal(2, Count(restored));
        }
        else
        {
            Assert.True(result.Txid < before, $"restored up to {result.Txid}: some of the damaged segment was applied");
            Assert.Contains("checksum", result.Problem, StringComparison.Ordinal);
        }

        using var connection = Sql.OpenDirect(restored, readOnly: true);
        Assert.Equal("ok", connection.Scalar<string>("PRAGMA integrity_check"));
    }

    [Fact]
    public async Task Restore_OfAnAsyncSegmentWhoseTransactionsShrinkAndRegrowTheDatabase_IsByteIdenticalToTheSource()
    {
        // auto_vacuum=FULL: a big delete cuts pages off the end of the file; the rows written after it take pages that the
        // segment stored before the cut, so they are stored as the XOR with an image the database no longer has.
        var path = _dir.File("app.db");
        var setup = Sql.OpenDirect(path);
        setup.Exec("PRAGMA auto_vacuum = FULL; PRAGMA journal_mode = WAL; CREATE TABLE t(a, body BLOB)");
        setup.Dispose();
        var options = Options(WaldenArchiveMode.Async, new WaldenFolderDestination(Archive));
        options.Archive.MaxLag = TimeSpan.FromHours(1); // one segment, shipped at the close
        long before;
        await using (var db = await WaldenDatabase.OpenAsync(path, options))
        {
            Assert.Null(db.Archiver!.ShipAll()); // the open's base now, not in the background after the first commits
            before = db.Archiver!.LastTxid;
            for (var round = 0; round < 3; round++)
            {
                for (var i = 0; i < 5; i++)
                {
                    var first = (round * 1000) + (i * 100);
                    await db.WriteAsync(c => c.Exec(
                        $"WITH RECURSIVE n(v) AS (SELECT {first} UNION ALL SELECT v + 1 FROM n WHERE v < {first + 99}) " +
                        $"INSERT INTO t SELECT v, randomblob(500 + (v % 7) * 100) FROM n"));
                }

                await db.WriteAsync(c => c.Exec($"DELETE FROM t WHERE a % 5 <> {round}"));
                await db.WriteAsync(c => c.Exec($"UPDATE t SET body = randomblob(300) WHERE a % 3 = {round}"));
            }
        }

        var segment = Assert.Single(Directory.EnumerateFiles(Archive, "*.wseg", SearchOption.AllDirectories));
        Assert.Equal(5, BinaryPrimitives.ReadInt32LittleEndian((await File.ReadAllBytesAsync(segment)).AsSpan(8)));
        var restored = _dir.File("restored.db");
        var result = await WaldenArchive.RestoreAsync(Archive, restored);
        Assert.True(result.Complete, result.Problem);
        Assert.True(result.Txid > before + 10);
        Assert.Equal(SHA256.HashData(await File.ReadAllBytesAsync(path)), SHA256.HashData(await File.ReadAllBytesAsync(restored)));
    }

    private static long ParsedFirst(byte[] segment) => BinaryPrimitives.ReadInt64LittleEndian(segment.AsSpan(24));
}
