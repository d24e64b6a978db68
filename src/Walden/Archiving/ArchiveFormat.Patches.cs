using System.Buffers;
using System.Buffers.Binary;
using System.IO.Compression;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Walden.Archiving;

/// <summary>
/// Segment format 4: the payload of format 2 (records as <see cref="EncodeRecord"/> lays them out, one zlib stream) except
/// for how a page is stored. After its page number comes a tag: <c>-1</c> and the whole image, for a page the segment has
/// not held before; or <c>R &gt;= 0</c> and R runs <c>[offset i32][length i32][the new bytes]</c> that turn the page's
/// previous image in the segment into this one (the image is the previous one with each run written over it).
/// <para>
/// Why not the XOR of format 2: with every commit rewriting the same few leaves, most pages of a segment are such repeats
/// (in the bench's segments, with a few hundred changed bytes each), and format 2 still wrote the
/// whole page per repeat into zlib, zeros that zlib had to scan, on the shipping thread that shares the cores with the
/// writer. Here the compare runs in 32-byte blocks and only the changed bytes reach zlib. A patch is used only when it is
/// smaller than the page. Format 4 also chains records over digests of their page images rather than over the images
/// (<see cref="ChainNext(ReadOnlySpan{byte}, ArchiveRecord)"/>); the chain still covers whole records, so it does not
/// depend on how records are split into segments, and compaction keeps it.
/// </para>
/// <para>
/// Segment format 5 (what Walden writes now) is format 4 with the payload in one Brotli stream (quality 0) instead of zlib:
/// same records, same chain rule; only the compression differs (<see cref="BrotliQuality"/> says why). Formats 1 to 4 are
/// still read.
/// </para>
/// </summary>
internal static partial class ArchiveFormat
{
    /// <summary>The unit in which pages are compared; a page size (512 to 65536) is always a multiple of it.</summary>
    private const int PatchBlockBytes = 32;

    private const int FullImageTag = -1;

    /// <summary>Bytes gathered before a zlib call: one Write per page would cost a call into zlib per page.</summary>
    private const int PatchBufferBytes = 256 << 10;

    /// <summary>
    /// Brotli's quality for format 5: 0, its fastest. Measured on the bench's segments (format 4's payload: page images and
    /// patches of the agent log), it compressed faster than zlib's fastest level (CompressionLevel.Fastest, which format 4
    /// used) and into fewer bytes, on the shipping thread that shares the cores with the writer (the figures are in the
    /// README's archive cost section).
    /// </summary>
    private const int BrotliQuality = 0;

    /// <summary>The stream a payload of <paramref name="version"/> (4: zlib, 5: Brotli) is compressed through into <paramref name="output"/>.</summary>
    private static Stream Compressor(Stream output, int version) => version == BrotliPatchVersion
        ? new BrotliStream(output, new BrotliCompressionOptions { Quality = BrotliQuality }, leaveOpen: true)
        : new ZLibStream(output, CompressionLevel.Fastest, leaveOpen: true);

    /// <summary>
    /// The stream a payload of segment format <paramref name="version"/> is read through: Brotli for format 5, zlib for the
    /// others. Either throws <see cref="InvalidDataException"/> for bytes that do not decode, as every reader of a segment
    /// expects (Brotli's own decoder throws InvalidOperationException).
    /// </summary>
    internal static Stream Decompressor(Stream payload, int version, bool leaveOpen) => version == BrotliPatchVersion
        ? new BrotliReadStream(new BrotliStream(payload, CompressionMode.Decompress, leaveOpen))
        : new ZLibStream(payload, CompressionMode.Decompress, leaveOpen);

    /// <summary>True for the formats whose pages are stored whole or as patches (4 and 5), told apart only by their compression.</summary>
    internal static bool IsPatchFormat(int version) => version is PatchVersion or BrotliPatchVersion;

    private static void WritePatchedPayload(MemoryStream output, int pageSize, IReadOnlyList<ArchiveRecord> records, int version)
    {
        using var zlib = Compressor(output, version);
        var previous = new Dictionary<uint, ReadOnlyMemory<byte>>();
        var most = 24 + 8 + pageSize; // the most one step below adds: a record header, or one page
        var buffer = ArrayPool<byte>.Shared.Rent(Math.Max(PatchBufferBytes, 2 * most));
        try
        {
            var used = 0;
            foreach (var record in records)
            {
                var pages = record.Pages.Count > 0 || record.Encoded is null ? record.Pages : DecodeRecord(record.Encoded, pageSize).Pages;
                if (used + most > buffer.Length)
                {
                    zlib.Write(buffer, 0, used);
                    used = 0;
                }

                WriteRecordHeader(buffer.AsSpan(used), record);
                BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(used + 20), CountField(pages.Count, record.CatchUp));
                used += 24;
                foreach (var (page, data) in pages)
                {
                    if (used + most > buffer.Length)
                    {
                        zlib.Write(buffer, 0, used);
                        used = 0;
                    }

                    BinaryPrimitives.WriteUInt32LittleEndian(buffer.AsSpan(used), page);
                    var runs = 0;
                    var patch = previous.TryGetValue(page, out var before)
                        ? WritePatch(data.Span, before.Span, buffer.AsSpan(used + 8, pageSize), out runs) : -1;
                    if (patch < 0)
                    {
                        BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(used + 4), FullImageTag);
                        data.Span.CopyTo(buffer.AsSpan(used + 8));
                        used += 8 + pageSize;
                    }
                    else
                    {
                        BinaryPrimitives.WriteInt32LittleEndian(buffer.AsSpan(used + 4), runs);
                        used += 8 + patch;
                    }

                    previous[page] = data;
                }
            }

            zlib.Write(buffer, 0, used);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// Writes the runs that turn <paramref name="before"/> into <paramref name="image"/> (blocks that differ, adjacent ones
    /// joined, each run trimmed to its first and last changed byte) into <paramref name="target"/> (a page's room); returns the bytes written, or -1 when the patch would not
    /// be smaller than the page (the caller stores the image whole).
    /// </summary>
    internal static int WritePatch(ReadOnlySpan<byte> image, ReadOnlySpan<byte> before, Span<byte> target, out int runs)
    {
        runs = 0;
        if (image.Length != before.Length || image.Length % PatchBlockBytes != 0)
        {
            return -1;
        }

        var written = 0;
        var block = 0;
        ref var now = ref MemoryMarshal.GetReference(image);
        ref var was = ref MemoryMarshal.GetReference(before);
        while (block < image.Length)
        {
            if (Vector256.LoadUnsafe(ref now, (nuint)block) == Vector256.LoadUnsafe(ref was, (nuint)block))
            {
                block += PatchBlockBytes;
                continue;
            }

            var start = block;
            do
            {
                block += PatchBlockBytes;
            }
            while (block < image.Length && Vector256.LoadUnsafe(ref now, (nuint)block) != Vector256.LoadUnsafe(ref was, (nuint)block));

            var end = Math.Min(block, image.Length);
            while (image[start] == before[start])
            {
                start++; // the block differs, so this stops inside it
            }

            while (image[end - 1] == before[end - 1])
            {
                end--;
            }

            var length = end - start;
            if (written + 8 + length >= image.Length)
            {
                return -1;
            }

            BinaryPrimitives.WriteInt32LittleEndian(target[written..], start);
            BinaryPrimitives.WriteInt32LittleEndian(target[(written + 4)..], length);
            image.Slice(start, length).CopyTo(target[(written + 8)..]);
            written += 8 + length;
            runs++;
        }

        return written;
    }

    /// <summary>Decompresses one payload of format 4 or 5 and appends its records, chaining them; returns the chain after them.</summary>
    private static byte[] DecodePatchedRecords(byte[] bytes, int start, int payloadBytes, int pageSize, int version, byte[] chain,
        List<ArchiveRecord> records)
    {
        using var zlib = Decompressor(new MemoryStream(bytes, start, payloadBytes, writable: false), version, leaveOpen: false);
        using var raw = new MemoryStream();
        zlib.CopyTo(raw);
        var data = raw.GetBuffer().AsSpan(0, (int)raw.Length);
        var previous = new Dictionary<uint, (byte[] Record, int Offset)>(); // page -> its latest image, in an earlier record
        var offset = 0;
        while (offset < data.Length)
        {
            var count = offset + 24 <= data.Length ? ReadCountField(data[offset..]).Pages : -1;
            if (count < 0 || count > (int.MaxValue - 24) / (4 + pageSize))
            {
                throw new InvalidDataException("a transaction in it is cut short");
            }

            var encoded = new byte[24 + (count * (4 + pageSize))];
            data.Slice(offset, 24).CopyTo(encoded);
            offset += 24;
            for (var i = 0; i < count; i++)
            {
                if (offset + 8 > data.Length)
                {
                    throw new InvalidDataException("a transaction in it is cut short");
                }

                var page = BinaryPrimitives.ReadUInt32LittleEndian(data[offset..]);
                var tag = BinaryPrimitives.ReadInt32LittleEndian(data[(offset + 4)..]);
                offset += 8;
                var at = 24 + (i * (4 + pageSize));
                BinaryPrimitives.WriteUInt32LittleEndian(encoded.AsSpan(at), page);
                var image = encoded.AsSpan(at + 4, pageSize);
                if (tag == FullImageTag)
                {
                    if (offset + pageSize > data.Length)
                    {
                        throw new InvalidDataException("a page in it is cut short");
                    }

                    data.Slice(offset, pageSize).CopyTo(image);
                    offset += pageSize;
                }
                else
                {
                    if (tag < 0 || !previous.TryGetValue(page, out var before))
                    {
                        throw new InvalidDataException($"a change to page {page} in it has no earlier image of that page");
                    }

                    before.Record.AsSpan(before.Offset, pageSize).CopyTo(image);
                    for (var run = 0; run < tag; run++)
                    {
                        var runOffset = offset + 8 <= data.Length ? BinaryPrimitives.ReadInt32LittleEndian(data[offset..]) : -1;
                        var runLength = offset + 8 <= data.Length ? BinaryPrimitives.ReadInt32LittleEndian(data[(offset + 4)..]) : -1;
                        if (runOffset < 0 || runLength < 0 || (long)runOffset + runLength > pageSize || (long)offset + 8 + runLength > data.Length)
                        {
                            throw new InvalidDataException($"a change to page {page} in it is cut short or out of the page");
                        }

                        data.Slice(offset + 8, runLength).CopyTo(image[runOffset..]);
                        offset += 8 + runLength;
                    }
                }

                previous[page] = (encoded, at + 4);
            }

            var record = DecodeRecord(encoded, pageSize);
            chain = ChainNext(chain, record);
            record.Chain = chain;
            record.Encoded = encoded;
            record.Format = version;
            records.Add(record);
        }

        return chain;
    }

    /// <summary>Reads a Brotli stream, turning its decoder's error for bytes that do not decode into <see cref="InvalidDataException"/>.</summary>
    private sealed class BrotliReadStream(BrotliStream inner) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            try
            {
                return inner.Read(buffer);
            }
            catch (InvalidOperationException ex)
            {
                throw new InvalidDataException($"its compressed payload does not decode ({ex.Message})", ex);
            }
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
