using System.IO.Compression;
using Walden.Archiving;
using Walden.Tests.TestSupport;
using static Walden.Tests.Archiving.ArchiveChecks;

namespace Walden.Tests.Archiving;

/// <summary>
/// Segment formats 4 and 5 (a repeated page stored as the runs that changed, the chain over page digests; zlib, Brotli) and the
/// older formats.
/// </summary>
public sealed class ArchiveFormatTests : IDisposable
{
    private const int PageSize = 4096;
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void ASegment_StoresARepeatedPageAsItsChangedRuns_AndDecodesEveryImageAndChainExactly()
    {
        var random = new Random(4);
        var leaf = new byte[PageSize];
        random.NextBytes(leaf);
        var records = new List<ArchiveRecord>();
        var chain = new byte[32];
        for (var txid = 1; txid <= 40; txid++)
        {
            leaf = (byte[])leaf.Clone();
            leaf[txid * 50] ^= 0xFF; // a few changed bytes, one of them at a block's edge, as a commit changes a leaf
            leaf[(txid * 97) + 1] = (byte)txid;
            leaf[^1] = (byte)(txid * 3);
            var fresh = new byte[PageSize]; // and a page the segment has not held before
            random.NextBytes(fresh);
            var record = new ArchiveRecord(txid, txid * 1000L, 100, [(7u, leaf), ((uint)(100 + txid), fresh)], PageSize);
            chain = ArchiveFormat.ChainNext(chain, record);
            record.Chain = chain;
            records.Add(record);
        }

        var segment = ArchiveFormat.EncodeSegment(1, PageSize, new byte[32], records);
        var decoded = ArchiveFormat.DecodeSegment(segment);

        Assert.Equal(records.Count, decoded.Records.Count);
        for (var i = 0; i < records.Count; i++)
        {
            Assert.Equal(records[i].Chain, decoded.Records[i].Chain);
            Assert.Equal(records[i].Pages.Select(p => p.Page), decoded.Records[i].Pages.Select(p => p.Page));
            for (var p = 0; p < records[i].Pages.Count; p++)
            {
                Assert.True(records[i].Pages[p].Data.Span.SequenceEqual(decoded.Records[i].Pages[p].Data.Span), $"record {i + 1}, page {p}");
            }
        }

        // The 39 repeats of page 7 went in as patches: the payload compressed holds about one page per record, not two.
        using var payload = ArchiveFormat.Decompressor(new MemoryStream(segment, ArchiveFormat.HeaderBytes, segment.Length - ArchiveFormat.HeaderBytes - 32),
            ArchiveFormat.SegmentVersion(segment), leaveOpen: false);
        using var raw = new MemoryStream();
        payload.CopyTo(raw);
        Assert.True(raw.Length < 42L * (PageSize + 100), $"{raw.Length:N0} bytes went into the compressor for 41 distinct page images");
    }

    [Fact]
    public void TheChain_CoversEveryByteOfEveryPageImage()
    {
        var image = new byte[PageSize];
        var before = ArchiveFormat.ChainNext(new byte[32], new ArchiveRecord(1, 1, 1, [(1u, (byte[])image.Clone())], PageSize));
        for (var at = 0; at < PageSize; at += 509)
        {
            var changed = (byte[])image.Clone();
            changed[at] = 1;
            Assert.NotEqual(before, ArchiveFormat.ChainNext(new byte[32], new ArchiveRecord(1, 1, 1, [(1u, changed)], PageSize)));
        }

        Assert.NotEqual(before, ArchiveFormat.ChainNext(new byte[32], new ArchiveRecord(1, 1, 1, [(2u, image)], PageSize)));
        Assert.NotEqual(before, ArchiveFormat.ChainNext(new byte[32], new ArchiveRecord(2, 1, 1, [(1u, image)], PageSize)));
        Assert.NotEqual(before, ArchiveFormat.ChainNext(new byte[1], new ArchiveRecord(1, 1, 1, [(1u, image)], PageSize)));
    }

    [Fact]
    public async Task AnArchiveOfFormatTwoSegments_StillRestores_AndItsCompactionKeepsItRestorable()
    {
        var archive = _dir.File("archive");
        Directory.CreateDirectory(archive);
        var options = new WaldenOptions();
        options.Archive.Mode = WaldenArchiveMode.Sync;
        options.Archive.DrillInterval = null;
        options.Archive.Destinations.Add(new WaldenFolderDestination(archive) { UseAppendLog = false });
        var txids = new List<long>();
        await using (var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), options))
        {
            await db.WriteAsync(c => c.Exec("CREATE TABLE t(a, b)"));
            for (var i = 1; i <= 30; i++)
            {
                await db.WriteAsync(c => c.Exec($"INSERT INTO t VALUES ({i}, randomblob(3000))"));
                txids.Add(db.Archiver!.LastTxid);
            }
        }

        // Rewrite every segment as the Walden before format 4 wrote it: format 2, chained over the page images themselves.
        var segments = Directory.EnumerateFiles(archive, "*.wseg", SearchOption.AllDirectories).Order().ToList();
        byte[]? chain = null;
        foreach (var path in segments)
        {
            var segment = ArchiveFormat.DecodeSegment(await File.ReadAllBytesAsync(path));
            var previous = chain ?? segment.PreviousChain;
            chain = previous;
            foreach (var record in segment.Records)
            {
                chain = record.Chain = ArchiveFormat.ChainNext(chain, ArchiveFormat.EncodeRecord(record, segment.PageSize));
            }

            await File.WriteAllBytesAsync(path, ArchiveFormat.EncodeXorSegment(segment.BaseId, segment.PageSize, previous, segment.Records));
        }

        Assert.All(segments, path => Assert.Equal(2, BitConverter.ToInt32(File.ReadAllBytes(path), 8)));
        await RestoreCompleteAsync(archive, _dir.File("before.db"));
        Assert.Equal(30, Count(_dir.File("before.db")));

        Assert.True(Archiver.Compact(new WaldenFolderDestination(archive), 1 << 20) > 1);
        var merged = Directory.EnumerateFiles(archive, "*.wseg", SearchOption.AllDirectories).ToList();
        Assert.True(merged.Count < segments.Count / 4, $"{segments.Count} segments became {merged.Count}");
        await RestoreCompleteAsync(archive, _dir.File("after.db"));
        Assert.Equal(30, Count(_dir.File("after.db")));
        var middle = await WaldenArchive.RestoreAsync(archive, _dir.File("middle.db"), new WaldenArchiveRestoreOptions { Txid = txids[11] });
        Assert.True(middle.Complete, middle.Problem);
        Assert.Equal(12, Count(_dir.File("middle.db")));
    }

    [Fact]
    public void ANewSegment_IsFormatFive_AndSmallerThanTheSameRecordsInFormatFour()
    {
        // Text-like rows appended to a leaf, as the agent log's commits write them: the payload both formats compress.
        var random = new Random(5);
        var words = new[] { "agent", "tool", "result", "file", "read", "write", "step", "plan", "error", "retry", "{\"ok\":true}", "exit=0" };
        var leaf = new byte[PageSize];
        var records = new List<ArchiveRecord>();
        var chain = new byte[32];
        var at = 100;
        for (var txid = 1; txid <= 60; txid++)
        {
            leaf = (byte[])leaf.Clone();
            var row = System.Text.Encoding.UTF8.GetBytes(string.Join(' ', Enumerable.Range(0, 30).Select(_ => words[random.Next(words.Length)])));
            if (at + row.Length > PageSize)
            {
                at = 100;
                leaf = new byte[PageSize];
            }

            row.CopyTo(leaf, at);
            at += row.Length;
            var record = new ArchiveRecord(txid, txid * 1000L, 100, [(7u, leaf)], PageSize);
            chain = record.Chain = ArchiveFormat.ChainNext(chain, record);
            records.Add(record);
        }

        var segment = ArchiveFormat.EncodeSegment(1, PageSize, new byte[32], records);
        var older = ArchiveFormat.EncodeZlibPatchSegment(1, PageSize, new byte[32], records);

        Assert.Equal(5, ArchiveFormat.SegmentVersion(segment));
        Assert.Equal(4, ArchiveFormat.SegmentVersion(older));
        Assert.True(segment.Length < older.Length * 0.9, $"format 5: {segment.Length:N0} bytes, format 4: {older.Length:N0}");
        Assert.Equal(records[^1].Chain, ArchiveFormat.DecodeSegment(segment).LastChain);
    }

    [Fact]
    public void ASegmentOfFormatFive_WhosePayloadDoesNotDecode_IsRefusedAsInvalidData()
    {
        var image = new byte[PageSize];
        var record = new ArchiveRecord(1, 1000, 1, [(1u, image)], PageSize);
        record.Chain = ArchiveFormat.ChainNext(new byte[32], record);
        var segment = ArchiveFormat.EncodeSegment(1, PageSize, new byte[32], [record]);
        segment.AsSpan(ArchiveFormat.HeaderBytes, segment.Length - ArchiveFormat.HeaderBytes - 32).Fill(0xA5);
        System.Security.Cryptography.SHA256.HashData(segment.AsSpan(0, segment.Length - 32), segment.AsSpan(segment.Length - 32)); // a writer's bug, not a torn write

        Assert.Throws<InvalidDataException>(() => ArchiveFormat.DecodeSegment(segment));
    }

    [Theory]
    [InlineData("0123456789abcdef0123456789abcdef")]
    [InlineData(null)] // a base taken before lineages (bytes 80-95 zero): read as having none
    public void ABase_CarriesItsDatabasesLineage_AndOneWithoutReadsAsNone(string? lineage)
    {
        var database = _dir.File("db.bin");
        File.WriteAllBytes(database, new byte[2 * PageSize]);
        using var output = new MemoryStream();
        ArchiveFormat.EncodeBase(database, output, baseId: 7, txid: 3, timeMicros: 1000, PageSize, lineage);

        output.Position = 0;
        var header = ArchiveFormat.CheckBaseObject(output);

        Assert.Equal(lineage, header.Lineage);
        Assert.Equal((7L, 3L, 2L * PageSize), (header.BaseId, header.Txid, header.DatabaseBytes));
    }

    [Fact]
    public async Task AnArchiveOfFormatFourSegments_StillRestoresByteIdentical_AndItsCompactionKeepsItRestorable()
    {
        var archive = _dir.File("archive");
        Directory.CreateDirectory(archive);
        var options = new WaldenOptions();
        options.Archive.Mode = WaldenArchiveMode.Sync;
        options.Archive.DrillInterval = null;
        options.Archive.Destinations.Add(new WaldenFolderDestination(archive) { UseAppendLog = false });
        var path = _dir.File("app.db");
        await using (var db = await WaldenDatabase.OpenAsync(path, options))
        {
            await db.WriteAsync(c => c.Exec("CREATE TABLE t(a, b)"));
            for (var i = 1; i <= 30; i++)
            {
                await db.WriteAsync(c => c.Exec($"INSERT INTO t VALUES ({i}, randomblob(1000)); UPDATE t SET b = randomblob(900) WHERE a = {(i / 2) + 1}"));
            }
        }

        // Rewrite every segment as the Walden before format 5 wrote it: format 4, the same records and chain in zlib.
        var segments = Directory.EnumerateFiles(archive, "*.wseg", SearchOption.AllDirectories).Order().ToList();
        foreach (var file in segments)
        {
            var segment = ArchiveFormat.DecodeSegment(await File.ReadAllBytesAsync(file));
            await File.WriteAllBytesAsync(file, ArchiveFormat.EncodeZlibPatchSegment(segment.BaseId, segment.PageSize, segment.PreviousChain, segment.Records));
        }

        Assert.All(segments, file => Assert.Equal(4, BitConverter.ToInt32(File.ReadAllBytes(file), 8)));
        await RestoreCompleteAsync(archive, _dir.File("before.db"));
        Assert.Equal(SHA256Of(path), SHA256Of(_dir.File("before.db")));

        Assert.True(Archiver.Compact(new WaldenFolderDestination(archive), 1 << 20) > 1);
        await RestoreCompleteAsync(archive, _dir.File("after.db"));
        Assert.Equal(SHA256Of(path), SHA256Of(_dir.File("after.db")));
    }

    private static byte[] SHA256Of(string path) => System.Security.Cryptography.SHA256.HashData(File.ReadAllBytes(path));
}
