using System.Buffers.Binary;
using System.Globalization;
using System.IO.Compression;
using System.Security.Cryptography;

namespace Walden.Archiving;

/// <summary>
/// The two kinds of immutable object an archive holds, both a fixed 128-byte header, a compressed payload (zlib; a segment
/// of format 5, what Walden writes now, Brotli) and a SHA-256 of
/// everything before it, so a torn, truncated or altered object is refused as a whole:
/// <list type="bullet">
/// <item><c>&lt;base&gt;/base.wbase</c>: the database as of transaction <c>txid</c> (an online backup of Walden's own
/// writer connection between two batches). Its chain value is the SHA-256 of the database bytes.</item>
/// <item><c>&lt;base&gt;/&lt;first&gt;-&lt;last&gt;.wseg</c>: the committed transactions first..last after that base, each a
/// list of page images (the WAL frames of that commit) and the database size in pages. Transaction ids are contiguous
/// and each one's chain value hashes the previous one with the record (format 4: its header, page numbers and page digests,
/// <see cref="ChainNext(ReadOnlySpan{byte}, ArchiveRecord)"/>; formats 1 and 2: its bytes, SHA-256(previous chain value,
/// record)): the header names the chain value before its first
/// and after its last transaction, so a missing, reordered or foreign segment is a mismatch, and merging segments
/// (compaction) keeps the values.</item>
/// </list>
/// </summary>
internal static partial class ArchiveFormat
{
    internal const int HeaderBytes = 128;
    internal const int HashBytes = 32;
    internal const string BaseFileName = "base.wbase";
    internal const string SegmentExtension = ".wseg";
    private static readonly byte[] SegmentMagic = "WALDSEG1"u8.ToArray();
    private static readonly byte[] BaseMagic = "WALDBAS1"u8.ToArray();
    private const int Version = 1; // bases; segments of version 1 are still read
    private const int XorVersion = 2; // page images XOR-ed with the same page's previous image in the segment (still read)
    private const int SealedVersion = 3; // parts of format 1, 2, 4 or 5 joined as they are, each its own compressed stream (the log's seal)
    private const int PatchVersion = 4; // a page seen before in the segment stored as the runs that changed (ArchiveFormat.Patches.cs)
    private const int BrotliPatchVersion = 5; // format 4's payload in one Brotli stream instead of zlib (ArchiveFormat.Patches.cs)

    internal static string BaseFolder(long baseId) => baseId.ToString("D10", CultureInfo.InvariantCulture);

    internal static string BaseName(long baseId) => $"{BaseFolder(baseId)}/{BaseFileName}";

    internal static string SegmentName(long baseId, long first, long last) =>
        string.Create(CultureInfo.InvariantCulture, $"{BaseFolder(baseId)}/{first:D16}-{last:D16}{SegmentExtension}");

    /// <summary>
    /// The claim an open that continued base <paramref name="baseId"/> after transaction <paramref name="txid"/> wrote
    /// (Archiver.Continue.cs): <c>resume-&lt;txid&gt;</c> for the first, <c>resume-&lt;txid&gt;-&lt;n&gt;</c> for the n-th open
    /// that continued from the same transaction (opens with no write between them).
    /// </summary>
    internal static string ResumeName(long baseId, long txid, int index) => index <= 1
        ? string.Create(CultureInfo.InvariantCulture, $"{BaseFolder(baseId)}/{ResumePrefix}{txid}")
        : string.Create(CultureInfo.InvariantCulture, $"{BaseFolder(baseId)}/{ResumePrefix}{txid}-{index}");

    internal const string ResumePrefix = "resume-";

    /// <summary>The base, transaction and index of a resume claim's name, or null when it is not one.</summary>
    internal static (long BaseId, long Txid, int Index)? ParseResume(string name)
    {
        if (name.IndexOf('/', StringComparison.Ordinal) != 10 || !long.TryParse(name.AsSpan(0, 10), NumberStyles.None, CultureInfo.InvariantCulture, out var baseId)
            || !name.AsSpan(11).StartsWith(ResumePrefix, StringComparison.Ordinal))
        {
            return null;
        }

        var rest = name.AsSpan(11 + ResumePrefix.Length);
        var dash = rest.IndexOf('-');
        var index = 1;
        if (dash >= 0 && (!int.TryParse(rest[(dash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out index) || index < 2))
        {
            return null;
        }

        return long.TryParse(dash >= 0 ? rest[..dash] : rest, NumberStyles.None, CultureInfo.InvariantCulture, out var txid) ? (baseId, txid, index) : null;
    }

    /// <summary>Parses a name as listed by a destination: a base, a segment, or neither (null).</summary>
    internal static ArchiveObjectName? Parse(string name)
    {
        var slash = name.IndexOf('/', StringComparison.Ordinal);
        if (slash != 10 || !long.TryParse(name.AsSpan(0, 10), NumberStyles.None, CultureInfo.InvariantCulture, out var baseId))
        {
            return null;
        }

        var file = name[(slash + 1)..];
        if (file == BaseFileName)
        {
            return new ArchiveObjectName(name, baseId, IsBase: true, 0, 0);
        }

        if (file.Length == 33 + SegmentExtension.Length && file.EndsWith(SegmentExtension, StringComparison.Ordinal) && file[16] == '-'
            && long.TryParse(file.AsSpan(0, 16), NumberStyles.None, CultureInfo.InvariantCulture, out var first)
            && long.TryParse(file.AsSpan(17, 16), NumberStyles.None, CultureInfo.InvariantCulture, out var last))
        {
            return new ArchiveObjectName(name, baseId, IsBase: false, first, last);
        }

        return null;
    }

    /// <summary>
    /// The chain value after a record of format 1 or 2 (and of a sealed segment's parts of those formats), given its bytes
    /// as <see cref="EncodeRecord"/> lays them out: SHA-256(previous chain value, record).
    /// </summary>
    internal static byte[] ChainNext(ReadOnlySpan<byte> previous, ReadOnlySpan<byte> record)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(previous);
        hash.AppendData(record);
        return hash.GetHashAndReset();
    }

    /// <summary>
    /// The chain value after <paramref name="record"/> in format 4 (every record Walden writes now): SHA-256 of the previous
    /// chain value, the record's 24-byte header and, per page, its number and the XXH128 digest of its image (16 bytes).
    /// Before format 4 the SHA-256 ran over every page image, a second full pass over each commit's bytes on the shipping
    /// thread beside zlib's; XXH128 reads them many times faster, and SHA-256 then hashes a small fraction of them. What
    /// the chain is for is unchanged: a missing, reordered or foreign record or segment breaks it, and it does not depend
    /// on how the records are split into segments. The integrity of the stored bytes is each object's own SHA-256.
    /// </summary>
    internal static byte[] ChainNext(ReadOnlySpan<byte> previous, ArchiveRecord record)
    {
        if (record.Pages.Count == 0 && record.Encoded is { Length: > 24 } encoded)
        {
            var chain = new byte[HashBytes];
            ChainNextOfEncoded(previous, encoded, (encoded.Length - 24) / Math.Max(1, ReadCountField(encoded).Pages) - 4,
                chain);
            return chain;
        }

        var pages = record.Pages;
        var length = previous.Length + 24 + (pages.Count * 20);
        var rented = length > 4096 ? System.Buffers.ArrayPool<byte>.Shared.Rent(length) : null;
        try
        {
            var input = rented is null ? stackalloc byte[length] : rented.AsSpan(0, length);
            previous.CopyTo(input);
            var at = previous.Length;
            WriteRecordHeader(input[at..], record);
            BinaryPrimitives.WriteInt32LittleEndian(input[(at + 20)..], CountField(pages.Count, record.CatchUp));
            at += 24;
            foreach (var (page, data) in pages)
            {
                BinaryPrimitives.WriteUInt32LittleEndian(input[at..], page);
                System.IO.Hashing.XxHash128.Hash(data.Span, input.Slice(at + 4, 16));
                at += 20;
            }

            return SHA256.HashData(input);
        }
        finally
        {
            if (rented is not null)
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(rented);
            }
        }
    }

    /// <summary>
    /// The same rule as <see cref="ChainNext(ReadOnlySpan{byte}, ArchiveRecord)"/> over a record as <see cref="EncodeRecord"/>
    /// lays it out (its 24-byte header, then per page its number and image), without decoding it: the restore's applier
    /// checks format 4 with it. <paramref name="chain"/> may be <paramref name="previous"/> itself.
    /// </summary>
    internal static void ChainNextOfEncoded(ReadOnlySpan<byte> previous, ReadOnlySpan<byte> encoded, int pageSize, Span<byte> chain)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(previous);
        hash.AppendData(encoded[..24]);
        Span<byte> entry = stackalloc byte[20];
        for (var at = 24; at + 4 + pageSize <= encoded.Length; at += 4 + pageSize)
        {
            encoded.Slice(at, 4).CopyTo(entry);
            System.IO.Hashing.XxHash128.Hash(encoded.Slice(at + 4, pageSize), entry[4..]);
            hash.AppendData(entry);
        }

        hash.GetHashAndReset(chain);
    }

    /// <summary>True for a record read from a segment (or part) of format 1 or 2, whose chain value covers its page images.</summary>
    internal static bool HasOlderChain(ArchiveRecord record) => record.Format is 1 or XorVersion;

    /// <summary>
    /// Set in a record's page count field (bytes 20-23 of its header, which its chain value covers) on a transaction that
    /// holds changes made while the archive was not watching (Archiver.Continue.cs: the catch-up at open): the state at any
    /// moment between the transaction before it and this one is unknown. Inside the checksummed chain, so no lost side object
    /// can make a restore claim such a moment. A page count never reaches it (a transaction of 2^30 pages is 4 TiB at 4 KiB).
    /// </summary>
    internal const int CatchUpFlag = 0x4000_0000;

    /// <summary>The page count field of a record header as written: the count, with <see cref="CatchUpFlag"/> on a catch-up.</summary>
    internal static int CountField(int pages, bool catchUp) => catchUp ? pages | CatchUpFlag : pages;

    /// <summary>The page count and the catch-up flag of a record header's count field.</summary>
    internal static (int Pages, bool CatchUp) ReadCountField(ReadOnlySpan<byte> header)
    {
        var field = BinaryPrimitives.ReadInt32LittleEndian(header[20..]);
        return field < 0 ? (field, false) : (field & ~CatchUpFlag, (field & CatchUpFlag) != 0);
    }

    private static void WriteRecordHeader(Span<byte> span, ArchiveRecord record)
    {
        BinaryPrimitives.WriteInt64LittleEndian(span, record.Txid);
        BinaryPrimitives.WriteInt64LittleEndian(span[8..], record.TimeMicros);
        BinaryPrimitives.WriteUInt32LittleEndian(span[16..], record.DatabasePages);
        BinaryPrimitives.WriteInt32LittleEndian(span[20..], CountField(record.Pages.Count, record.CatchUp));
    }

    /// <summary>target = a XOR b (equal lengths).</summary>
    internal static void Xor(ReadOnlySpan<byte> a, ReadOnlySpan<byte> b, Span<byte> target)
    {
        var i = 0;
        if (System.Numerics.Vector.IsHardwareAccelerated)
        {
            var width = System.Numerics.Vector<byte>.Count;
            for (; i + width <= a.Length; i += width)
            {
                (new System.Numerics.Vector<byte>(a[i..]) ^ new System.Numerics.Vector<byte>(b[i..])).CopyTo(target[i..]);
            }
        }

        for (; i < a.Length; i++)
        {
            target[i] = (byte)(a[i] ^ b[i]);
        }
    }

    /// <summary>Serializes one transaction's record (the bytes its chain value covers).</summary>
    internal static byte[] EncodeRecord(ArchiveRecord record, int pageSize)
    {
        var bytes = new byte[24 + (record.Pages.Count * (4 + pageSize))];
        var span = bytes.AsSpan();
        WriteRecordHeader(span, record);
        var offset = 24;
        foreach (var (page, data) in record.Pages)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(span[offset..], page);
            data.Span.CopyTo(span[(offset + 4)..]);
            offset += 4 + pageSize;
        }

        return bytes;
    }

    /// <summary>
    /// Encodes a segment of contiguous records (each already carrying its chain value), format 4: the records as
    /// <see cref="EncodeRecord"/> lays them out, except that a page image already seen in the segment is stored as the runs
    /// of it that changed since that image (ArchiveFormat.Patches.cs). A b-tree page rewritten by many commits (the table's
    /// last leaf, index leaves, page 1) differs in a few hundred bytes, so zlib gets those instead of the whole page.
    /// </summary>
    internal static byte[] EncodeSegment(long baseId, int pageSize, byte[] previousChain, IReadOnlyList<ArchiveRecord> records)
    {
        using var output = new MemoryStream();
        EncodeSegment(baseId, pageSize, previousChain, records, output);
        return output.ToArray();
    }

    /// <summary>
    /// The same into <paramref name="output"/> (emptied first, left at position 0 holding exactly the segment): the shipping
    /// loop keeps one per destination, so a segment of a few MiB every ship interval is neither allocated (on the large-object
    /// heap, twice as it grows, plus a copy) nor collected each time.
    /// </summary>
    internal static void EncodeSegment(long baseId, int pageSize, byte[] previousChain, IReadOnlyList<ArchiveRecord> records, MemoryStream output) =>
        EncodeSegment(baseId, pageSize, previousChain, records, output, BrotliPatchVersion);

    /// <summary>
    /// A segment of format 4 (format 5's payload compressed with zlib), as Walden wrote them before format 5: tests make
    /// the segments older archives hold, and check that they are still read.
    /// </summary>
    internal static byte[] EncodeZlibPatchSegment(long baseId, int pageSize, byte[] previousChain, IReadOnlyList<ArchiveRecord> records)
    {
        using var output = new MemoryStream();
        EncodeSegment(baseId, pageSize, previousChain, records, output, PatchVersion);
        return output.ToArray();
    }

    /// <summary>The format version of a whole segment (its header's), without any check.</summary>
    internal static int SegmentVersion(ReadOnlySpan<byte> segment) => BinaryPrimitives.ReadInt32LittleEndian(segment[8..]);

    /// <summary>
    /// A segment of format 2 (a page seen before XOR-ed with its previous image), as Walden wrote them before format 4, for
    /// records whose chain values follow the rule of formats 1 and 2: compaction merges an older archive's segments into
    /// one of this format (their chain values stay as they are), and tests make the segments older archives hold.
    /// </summary>
    internal static byte[] EncodeXorSegment(long baseId, int pageSize, byte[] previousChain, IReadOnlyList<ArchiveRecord> records)
    {
        using var output = new MemoryStream();
        EncodeSegment(baseId, pageSize, previousChain, records, output, XorVersion);
        return output.ToArray();
    }

    private static void EncodeSegment(long baseId, int pageSize, byte[] previousChain, IReadOnlyList<ArchiveRecord> records, MemoryStream output,
        int version)
    {
        output.SetLength(0);
        output.Write(new byte[HeaderBytes]); // the header, once the payload's length is known
        if (version is PatchVersion or BrotliPatchVersion)
        {
            WritePatchedPayload(output, pageSize, records, version);
        }
        else
        {
            using var zlib = new ZLibStream(output, CompressionLevel.Fastest, leaveOpen: true);
            var previous = new Dictionary<uint, ReadOnlyMemory<byte>>();
            var scratch = new byte[4 + pageSize];
            Span<byte> recordHeader = stackalloc byte[24];
            foreach (var record in records)
            {
                var pages = record.Pages.Count > 0 || record.Encoded is null ? record.Pages : DecodeRecord(record.Encoded, pageSize).Pages;
                WriteRecordHeader(recordHeader, record);
                BinaryPrimitives.WriteInt32LittleEndian(recordHeader[20..], CountField(pages.Count, record.CatchUp));
                zlib.Write(recordHeader);
                foreach (var (page, data) in pages)
                {
                    BinaryPrimitives.WriteUInt32LittleEndian(scratch, page);
                    if (previous.TryGetValue(page, out var before))
                    {
                        Xor(data.Span, before.Span, scratch.AsSpan(4));
                    }
                    else
                    {
                        data.Span.CopyTo(scratch.AsSpan(4));
                    }

                    previous[page] = data;
                    zlib.Write(scratch);
                }
            }
        }

        var payloadLength = output.Length - HeaderBytes;
        var span = output.GetBuffer().AsSpan(0, HeaderBytes);
        SegmentMagic.CopyTo(span);
        BinaryPrimitives.WriteInt32LittleEndian(span[8..], version);
        BinaryPrimitives.WriteInt32LittleEndian(span[12..], pageSize);
        BinaryPrimitives.WriteInt64LittleEndian(span[16..], baseId);
        BinaryPrimitives.WriteInt64LittleEndian(span[24..], records[0].Txid);
        BinaryPrimitives.WriteInt64LittleEndian(span[32..], records[^1].Txid);
        BinaryPrimitives.WriteInt64LittleEndian(span[40..], records[0].TimeMicros);
        BinaryPrimitives.WriteInt64LittleEndian(span[48..], records[^1].TimeMicros);
        previousChain.CopyTo(span[56..]);
        records[^1].Chain!.CopyTo(span[88..]);
        BinaryPrimitives.WriteInt64LittleEndian(span[120..], payloadLength);
        Span<byte> hash = stackalloc byte[HashBytes];
        SHA256.HashData(output.GetBuffer().AsSpan(0, (int)output.Length), hash);
        output.Write(hash);
        output.Position = 0;
    }

    /// <summary>Reads and checks a whole segment; throws <see cref="InvalidDataException"/> saying what is wrong.</summary>
    internal static DecodedSegment DecodeSegment(byte[] bytes)
    {
        var segment = OpenSegment(bytes);
        segment.Records.AddRange(ReadRecords(bytes, segment));
        return segment;
    }

    /// <summary>
    /// Checks a whole segment's magic, checksum, length and version and reads its header, without decompressing it (its
    /// <see cref="DecodedSegment.Records"/> stay empty: <see cref="ReadRecords"/>); throws <see cref="InvalidDataException"/>.
    /// </summary>
    internal static DecodedSegment OpenSegment(byte[] bytes)
    {
        if (bytes.Length < HeaderBytes + HashBytes || !bytes.AsSpan(0, 8).SequenceEqual(SegmentMagic))
        {
            throw new InvalidDataException("it is not a Walden archive segment (wrong magic or too short)");
        }

        var expected = SHA256.HashData(bytes.AsSpan(0, bytes.Length - HashBytes));
        if (!expected.AsSpan().SequenceEqual(bytes.AsSpan(bytes.Length - HashBytes)))
        {
            throw new InvalidDataException("its checksum does not match its content (damaged or truncated)");
        }

        var span = bytes.AsSpan();
        var pageSize = BinaryPrimitives.ReadInt32LittleEndian(span[12..]);
        var segment = new DecodedSegment(
            BinaryPrimitives.ReadInt64LittleEndian(span[16..]), pageSize,
            BinaryPrimitives.ReadInt64LittleEndian(span[24..]), BinaryPrimitives.ReadInt64LittleEndian(span[32..]),
            BinaryPrimitives.ReadInt64LittleEndian(span[40..]), BinaryPrimitives.ReadInt64LittleEndian(span[48..]),
            span.Slice(56, HashBytes).ToArray(), span.Slice(88, HashBytes).ToArray(), []);
        var payloadLength = BinaryPrimitives.ReadInt64LittleEndian(span[120..]);
        if (payloadLength != bytes.Length - HeaderBytes - HashBytes)
        {
            throw new InvalidDataException("its payload length does not match its size");
        }

        var version = BinaryPrimitives.ReadInt32LittleEndian(span[8..]);
        if (version is not (1 or XorVersion or SealedVersion or PatchVersion or BrotliPatchVersion))
        {
            throw new InvalidDataException($"its format version {version} is not one this Walden reads (1 to {BrotliPatchVersion})");
        }

        return segment;
    }

    /// <summary>
    /// The records of a segment checked by <see cref="OpenSegment"/>, decoded one zlib stream at a time as they are
    /// enumerated: a sealed segment (format 3, the append log's) is never decompressed whole, so a restore holds one
    /// batch's records of it at a time. Each part is checked before its records are given out (ids; the count and the chain
    /// at the last one); throws <see cref="InvalidDataException"/> at the first part that does not check or decode.
    /// </summary>
    internal static IEnumerable<ArchiveRecord> ReadRecords(byte[] bytes, DecodedSegment segment)
    {
        var version = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(8));
        var end = HeaderBytes + (int)BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(120));
        var chain = segment.PreviousChain;
        var next = segment.FirstTxid;
        var offset = HeaderBytes;
        var part = new List<ArchiveRecord>();
        while (offset < end)
        {
            part.Clear();
            if (version != SealedVersion)
            {
                chain = DecodeRecords(bytes, offset, end - offset, version, segment.PageSize, chain, part);
                offset = end;
            }
            else
            {
                // Parts: [version][length][the payload of one segment of that version], each its own zlib stream and XOR scope.
                var partVersion = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(offset));
                var partLength = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(offset + 4));
                if (partVersion is not (1 or XorVersion or PatchVersion or BrotliPatchVersion) || partLength < 0 || offset + 8 + partLength > end)
                {
                    throw new InvalidDataException("a part of it is cut short or of an unknown version");
                }

                chain = DecodeRecords(bytes, offset + 8, partLength, partVersion, segment.PageSize, chain, part);
                offset += 8 + partLength;
            }

            // Checked before any record of the part is given out: the ids, and at the last part the count and the chain (so a
            // segment of format 1, 2, 4 or 5, one part, is checked whole first, as before).
            var first = next;
            next += part.Count;
            if (part.Where((r, i) => r.Txid != first + i).Any() || next - 1 > segment.LastTxid
                || (offset >= end && (next != segment.LastTxid + 1 || !chain.AsSpan().SequenceEqual(segment.LastChain))))
            {
                throw new InvalidDataException("its transactions do not match its header (ids or chain)");
            }

            foreach (var record in part)
            {
                yield return record;
            }
        }
    }

    /// <summary>Decompresses one payload of segment format 1, 2, 4 or 5 and appends its records, chaining them; returns the chain after them.</summary>
    private static byte[] DecodeRecords(byte[] bytes, int start, int payloadBytes, int version, int pageSize, byte[] chain, List<ArchiveRecord> records)
    {
        if (version is PatchVersion or BrotliPatchVersion)
        {
            return DecodePatchedRecords(bytes, start, payloadBytes, pageSize, version, chain, records);
        }

        using var zlib = new ZLibStream(new MemoryStream(bytes, start, payloadBytes, writable: false), CompressionMode.Decompress);
        using var raw = new MemoryStream();
        zlib.CopyTo(raw);
        var data = raw.GetBuffer().AsSpan(0, (int)raw.Length);
        var previous = new Dictionary<uint, int>(); // page -> offset of its latest image in data (already un-XOR-ed)
        var offset = 0;
        while (offset < data.Length)
        {
            var count = ReadCountField(data[offset..]).Pages;
            var length = 24 + (count * (4 + pageSize));
            if (count < 0 || offset + length > data.Length)
            {
                throw new InvalidDataException("a transaction in it is cut short");
            }

            for (var i = 0; version == XorVersion && i < count; i++)
            {
                var at = offset + 24 + (i * (4 + pageSize));
                var page = BinaryPrimitives.ReadUInt32LittleEndian(data[at..]);
                var image = data.Slice(at + 4, pageSize);
                if (previous.TryGetValue(page, out var before))
                {
                    Xor(image, data.Slice(before, pageSize), image);
                }

                previous[page] = at + 4;
            }

            var encoded = data.Slice(offset, length).ToArray();
            var record = DecodeRecord(encoded, pageSize);
            chain = ChainNext(chain, encoded);
            record.Chain = chain;
            record.Encoded = encoded;
            record.Format = version;
            records.Add(record);
            offset += length;
        }

        return chain;
    }

    /// <summary>
    /// The header of a sealed segment (format 3) that joins contiguous segments of one base, given the first one's header,
    /// the last one's header and the length of the parts (each [version][length][its payload], <see cref="PartBytes"/>):
    /// the parts keep their own zlib streams, so the append log's seal (ArchiveAppendLog) streams them from its file into
    /// the segment without decompressing or holding them; the segment's SHA-256 (after the parts) covers this header.
    /// </summary>
    internal static byte[] SealedHeader(ReadOnlySpan<byte> first, ReadOnlySpan<byte> last, long partBytes)
    {
        var header = first[..HeaderBytes].ToArray();
        var span = header.AsSpan();
        BinaryPrimitives.WriteInt32LittleEndian(span[8..], SealedVersion);
        last[32..40].CopyTo(span[32..]); // the last transaction id
        last[48..56].CopyTo(span[48..]); // its time
        last[88..120].CopyTo(span[88..]); // the chain value after it
        BinaryPrimitives.WriteInt64LittleEndian(span[120..], partBytes);
        return header;
    }

    /// <summary>How many bytes a segment of <paramref name="segmentBytes"/> takes as a part of a sealed segment.</summary>
    internal static long PartBytes(long segmentBytes) => 8 + segmentBytes - HeaderBytes - HashBytes;

    /// <summary>
    /// True when <paramref name="next"/>'s header continues <paramref name="previous"/>'s: the same base, the next
    /// transaction id, and the chain value it starts from is the one the previous ended with.
    /// </summary>
    internal static bool Continues(ReadOnlySpan<byte> previous, ReadOnlySpan<byte> next) =>
        BinaryPrimitives.ReadInt64LittleEndian(previous[16..]) == BinaryPrimitives.ReadInt64LittleEndian(next[16..])
        && BinaryPrimitives.ReadInt64LittleEndian(previous[32..]) + 1 == BinaryPrimitives.ReadInt64LittleEndian(next[24..])
        && previous.Slice(88, HashBytes).SequenceEqual(next.Slice(56, HashBytes));

    /// <summary>
    /// True when <paramref name="header"/> (<see cref="HeaderBytes"/>) is a segment header of format 1, 2, 4 or 5 (not a sealed one) whose payload
    /// length fits a segment of <paramref name="segmentBytes"/>; the checksum is not checked.
    /// </summary>
    internal static bool IsPlainSegmentHeader(ReadOnlySpan<byte> header, long segmentBytes) =>
        IsSegmentHeader(header, segmentBytes) && BinaryPrimitives.ReadInt32LittleEndian(header[8..]) is 1 or XorVersion or PatchVersion or BrotliPatchVersion;

    /// <summary>The same for a segment of any format (the checksum is not checked either).</summary>
    internal static bool IsSegmentHeader(ReadOnlySpan<byte> header, long segmentBytes) =>
        header.Length >= HeaderBytes && segmentBytes >= HeaderBytes + HashBytes && header[..8].SequenceEqual(SegmentMagic)
        && BinaryPrimitives.ReadInt64LittleEndian(header[120..]) == segmentBytes - HeaderBytes - HashBytes;

    /// <summary>
    /// The one check of a stored segment of <paramref name="length"/> bytes, read once from its start through
    /// <paramref name="read"/> (which fills the span it is given as far as it can and returns how many bytes it read):
    /// its magic, its SHA-256 (every byte but the trailer) and its payload length, in that order. The header is left in
    /// <paramref name="header"/> (<see cref="HeaderBytes"/>); the body goes through <paramref name="buffer"/>. Throws
    /// <see cref="InvalidDataException"/> saying what is wrong. Used by a restore (<c>SegmentApplier.Open</c>), the archive
    /// log's reader and verify's check of older bases (<c>ArchiveHistory</c>).
    /// </summary>
    internal static void CheckWholeSegment(long length, Span<byte> header, Span<byte> buffer, Func<Span<byte>, int> read)
    {
        if (length < HeaderBytes + HashBytes || read(header[..HeaderBytes]) < HeaderBytes || !IsSegmentMagic(header))
        {
            throw new InvalidDataException("it is not a Walden archive segment (wrong magic or too short)");
        }

        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(header[..HeaderBytes]);
        var left = length - HeaderBytes - HashBytes;
        while (left > 0)
        {
            var chunk = buffer[..(int)Math.Min(buffer.Length, left)];
            if (read(chunk) < chunk.Length)
            {
                throw new InvalidDataException("its checksum does not match its content (damaged or truncated)");
            }

            hash.AppendData(chunk);
            left -= chunk.Length;
        }

        Span<byte> expected = stackalloc byte[HashBytes];
        hash.GetHashAndReset(expected);
        var trailer = buffer[..HashBytes];
        if (read(trailer) < HashBytes || !expected.SequenceEqual(trailer))
        {
            throw new InvalidDataException("its checksum does not match its content (damaged or truncated)");
        }

        if (BinaryPrimitives.ReadInt64LittleEndian(header[120..]) != length - HeaderBytes - HashBytes)
        {
            throw new InvalidDataException("its payload length does not match its size");
        }
    }

    /// <summary>
    /// Checks a whole segment's magic, length and SHA-256 and reads its header, without decompressing it: null when the
    /// bytes are not one whole, intact segment (the archive log's test of a record, Archiving/ArchiveAppendLog.cs).
    /// </summary>
    internal static SegmentHeader? TryReadSegmentHeader(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < HeaderBytes + HashBytes || !bytes[..8].SequenceEqual(SegmentMagic)
            || BinaryPrimitives.ReadInt64LittleEndian(bytes[120..]) != bytes.Length - HeaderBytes - HashBytes)
        {
            return null;
        }

        Span<byte> hash = stackalloc byte[HashBytes];
        SHA256.HashData(bytes[..^HashBytes], hash);
        if (!hash.SequenceEqual(bytes[^HashBytes..]))
        {
            return null;
        }

        return ParseSegmentHeader(bytes);
    }

    /// <summary>True when <paramref name="header"/> starts with a segment's magic.</summary>
    internal static bool IsSegmentMagic(ReadOnlySpan<byte> header) => header.Length >= 8 && header[..8].SequenceEqual(SegmentMagic);

    /// <summary>Reads a segment's header (its first <see cref="HeaderBytes"/>) without any check.</summary>
    internal static SegmentHeader ParseSegmentHeader(ReadOnlySpan<byte> bytes) =>
        new(BinaryPrimitives.ReadInt64LittleEndian(bytes[16..]), BinaryPrimitives.ReadInt32LittleEndian(bytes[12..]),
            BinaryPrimitives.ReadInt64LittleEndian(bytes[24..]), BinaryPrimitives.ReadInt64LittleEndian(bytes[32..]),
            BinaryPrimitives.ReadInt64LittleEndian(bytes[48..]), bytes.Slice(56, HashBytes).ToArray(), bytes.Slice(88, HashBytes).ToArray());

    private static ArchiveRecord DecodeRecord(byte[] encoded, int pageSize)
    {
        var span = encoded.AsSpan();
        var record = new ArchiveRecord(BinaryPrimitives.ReadInt64LittleEndian(span), BinaryPrimitives.ReadInt64LittleEndian(span[8..]),
            BinaryPrimitives.ReadUInt32LittleEndian(span[16..]))
        {
            CatchUp = ReadCountField(span).CatchUp,
        };
        var count = ReadCountField(span).Pages;
        for (var i = 0; i < count; i++)
        {
            var offset = 24 + (i * (4 + pageSize));
            record.Pages.Add((BinaryPrimitives.ReadUInt32LittleEndian(span[offset..]), encoded.AsMemory(offset + 4, pageSize)));
        }

        return record;
    }

    /// <summary>
    /// Writes a base object for the database copy at <paramref name="databaseCopy"/> into <paramref name="output"/>. The
    /// header carries the database's <paramref name="lineage"/> (<see cref="ArchiveLineage"/>; bytes 80-95, zero when it has
    /// none yet, as in every base written before lineages), so a base copied in from another database's archive is told
    /// from this archive's own (<see cref="RestorableSpans.ForeignBase"/>).
    /// </summary>
    internal static byte[] EncodeBase(string databaseCopy, Stream output, long baseId, long txid, long timeMicros, int pageSize, string? lineage = null)
    {
        byte[] chain;
        long length;
        using (var source = new FileStream(databaseCopy, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16))
        {
            chain = SHA256.HashData(source);
            length = source.Length;
        }

        var header = new byte[HeaderBytes];
        BaseMagic.CopyTo(header, 0);
        var span = header.AsSpan();
        BinaryPrimitives.WriteInt32LittleEndian(span[8..], Version);
        BinaryPrimitives.WriteInt32LittleEndian(span[12..], pageSize);
        BinaryPrimitives.WriteInt64LittleEndian(span[16..], baseId);
        BinaryPrimitives.WriteInt64LittleEndian(span[24..], txid);
        BinaryPrimitives.WriteInt64LittleEndian(span[32..], timeMicros);
        BinaryPrimitives.WriteInt64LittleEndian(span[40..], length);
        chain.CopyTo(span[48..]);
        if (lineage is not null)
        {
            Convert.FromHexString(lineage).CopyTo(span[80..96]);
        }

        output.Write(header);
        var payloadStart = output.Position;
        using (var source = new FileStream(databaseCopy, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16))
        using (var zlib = new ZLibStream(output, CompressionLevel.Fastest, leaveOpen: true))
        {
            source.CopyTo(zlib);
        }

        BinaryPrimitives.WriteInt64LittleEndian(span[120..], output.Position - payloadStart);
        output.Position = 0;
        output.Write(header);
        output.Position = 0;
        var hash = SHA256.HashData(output);
        output.Write(hash);
        output.Flush();
        return chain;
    }

    /// <summary>
    /// Reads a base object's header and checks its own SHA-256 (its header and payload as stored) without decompressing
    /// it: what the open that continues its chain needs to know, that a restore can still start from it.
    /// </summary>
    /// <exception cref="InvalidDataException">It is not a base, or its bytes do not match its checksum.</exception>
    internal static DecodedBase CheckBaseObject(Stream input)
    {
        var (header, decoded, payloadLength) = ReadBaseHeader(input);
        using var fileHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        fileHash.AppendData(header);
        new HashingReadStream(input, fileHash, payloadLength).Drain();
        var trailer = new byte[HashBytes];
        input.ReadExactly(trailer);
        if (!fileHash.GetHashAndReset().AsSpan().SequenceEqual(trailer))
        {
            throw new InvalidDataException("its checksum does not match its content (damaged or truncated)");
        }

        return decoded;
    }

    private static (byte[] Header, DecodedBase Decoded, long PayloadLength) ReadBaseHeader(Stream input)
    {
        var header = new byte[HeaderBytes];
        input.ReadExactly(header);
        if (!header.AsSpan(0, 8).SequenceEqual(BaseMagic))
        {
            throw new InvalidDataException("it is not a Walden archive base snapshot (wrong magic)");
        }

        var span = header.AsSpan();
        var decoded = new DecodedBase(BinaryPrimitives.ReadInt64LittleEndian(span[16..]), BinaryPrimitives.ReadInt32LittleEndian(span[12..]),
            BinaryPrimitives.ReadInt64LittleEndian(span[24..]), BinaryPrimitives.ReadInt64LittleEndian(span[32..]),
            BinaryPrimitives.ReadInt64LittleEndian(span[40..]), span.Slice(48, HashBytes).ToArray(),
            span[80..96].ContainsAnyExcept((byte)0) ? Convert.ToHexStringLower(span[80..96]) : null);
        return (header, decoded, BinaryPrimitives.ReadInt64LittleEndian(span[120..]));
    }

    /// <summary>Checks a base object and writes its database to <paramref name="databasePath"/>; throws InvalidDataException.</summary>
    internal static DecodedBase DecodeBase(Stream input, string? databasePath)
    {
        var (header, decoded, payloadLength) = ReadBaseHeader(input);
        if (databasePath is null)
        {
            return decoded; // header only (status)
        }

        using var fileHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        fileHash.AppendData(header);
        var payload = new HashingReadStream(input, fileHash, payloadLength);
        using (var output = new FileStream(databasePath, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 16))
        using (var zlib = new ZLibStream(payload, CompressionMode.Decompress, leaveOpen: true))
        {
            zlib.CopyTo(output);
            output.Flush(flushToDisk: true);
        }

        payload.Drain();
        var trailer = new byte[HashBytes];
        input.ReadExactly(trailer);
        if (!fileHash.GetHashAndReset().AsSpan().SequenceEqual(trailer))
        {
            throw new InvalidDataException("its checksum does not match its content (damaged or truncated)");
        }

        using var check = new FileStream(databasePath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        if (check.Length != decoded.DatabaseBytes || !SHA256.HashData(check).AsSpan().SequenceEqual(decoded.Chain))
        {
            throw new InvalidDataException("the database inside it does not match its recorded size and checksum");
        }

        return decoded;
    }

    /// <summary>Reads exactly a payload's bytes from a stream while hashing them.</summary>
    private sealed class HashingReadStream(Stream inner, IncrementalHash hash, long payloadLength) : Stream
    {
        private readonly long _length = payloadLength;
        private long _left = payloadLength;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => _length;

        public override long Position { get => _length - _left; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            var read = inner.Read(buffer, offset, (int)Math.Min(count, _left));
            if (read == 0 && _left > 0)
            {
                throw new InvalidDataException("it is truncated");
            }

            hash.AppendData(buffer, offset, read);
            _left -= read;
            return read;
        }

        internal void Drain()
        {
            var buffer = new byte[1 << 16];
            while (_left > 0)
            {
                _ = Read(buffer, 0, buffer.Length);
            }
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

/// <summary>A parsed object name: a base snapshot, or a segment covering transactions First..Last of a base.</summary>
internal sealed record ArchiveObjectName(string Name, long BaseId, bool IsBase, long First, long Last);

/// <summary>One committed transaction as archived: the page images it wrote and the database size after it.</summary>
internal sealed class ArchiveRecord(long txid, long timeMicros, uint databasePages)
{
    /// <summary>A record just taken from the WAL: its page images, not yet encoded nor chained (see Archiver.Seal).</summary>
    internal ArchiveRecord(long txid, long timeMicros, uint databasePages, List<(uint Page, ReadOnlyMemory<byte> Data)> pages, int pageSize)
        : this(txid, timeMicros, databasePages)
    {
        Pages = pages;
        _rawBytes = 24 + (pages.Count * (4 + pageSize));
    }

    private readonly int _rawBytes;

    /// <summary>
    /// The capture chunk <see cref="Pages"/> point into (a record just taken from the WAL), released when every destination
    /// holds the record (Archiver.Trim); a record dropped otherwise (a new base) never releases it, so its chunk is never
    /// reused while a ship may still read it, and goes to the GC.
    /// </summary>
    public CaptureArena.Chunk? Chunk { get; set; }

    public long Txid { get; } = txid;

    public long TimeMicros { get; } = timeMicros;

    /// <summary>
    /// True on a transaction that holds what changed while the archive was not watching (the catch-up at open): the state
    /// between the transaction before it and this one is unknown (<see cref="ArchiveFormat.CatchUpFlag"/>).
    /// </summary>
    public bool CatchUp { get; init; }

    public uint DatabasePages { get; } = databasePages;

    public List<(uint Page, ReadOnlyMemory<byte> Data)> Pages { get; } = [];

    /// <summary>True once encoded and chained: only sealed records are shipped.</summary>
    public bool Sealed => Chain is not null;

    /// <summary>The chain value after this record.</summary>
    public byte[]? Chain { get; set; }

    public byte[]? Encoded { get; set; }

    /// <summary>Applied to the page map already (Archiver.Trim; shipping thread, under the archive's gate).</summary>
    public bool Mapped { get; set; }

    /// <summary>Shipped again after a new base (Archiver.SwitchToSideBase): archived already, so its lag is not counted again.</summary>
    public bool Reshipped { get; init; }

    /// <summary>
    /// The segment format a decoded record was read from (0: taken from the WAL). Formats 1 and 2 chain over the page images
    /// themselves, format 4 over their digests, so compaction re-encodes a record in a format of its own chain rule.
    /// </summary>
    public int Format { get; set; }

    public DateTimeOffset Time => DateTimeOffset.FromUnixTimeMilliseconds(TimeMicros / 1000).AddTicks(TimeMicros % 1000 * 10);

    public int Bytes => Encoded?.Length ?? _rawBytes;
}

internal sealed record DecodedSegment(long BaseId, int PageSize, long FirstTxid, long LastTxid, long FirstTimeMicros, long LastTimeMicros,
    byte[] PreviousChain, byte[] LastChain, List<ArchiveRecord> Records);

/// <summary>A segment's header, read by <see cref="ArchiveFormat.TryReadSegmentHeader"/>.</summary>
internal sealed record SegmentHeader(long BaseId, int PageSize, long First, long Last, long LastTimeMicros, byte[] PreviousChain, byte[] LastChain);

/// <summary>A base object's header (<see cref="ArchiveFormat.EncodeBase"/>).</summary>
/// <param name="BaseId">The base's id, which its folder's name must match.</param>
/// <param name="PageSize">The database's page size, in bytes.</param>
/// <param name="Txid">The transaction the snapshot holds the state after.</param>
/// <param name="TimeMicros">When it was taken, in microseconds since the Unix epoch.</param>
/// <param name="DatabaseBytes">The database's length, in bytes.</param>
/// <param name="Chain">The SHA-256 of the database's bytes: the chain value its first segment follows.</param>
/// <param name="Lineage">The lineage of the database it was taken from (<see cref="ArchiveLineage"/>); null in a base taken
/// before lineages, or before the database had one.</param>
internal sealed record DecodedBase(long BaseId, int PageSize, long Txid, long TimeMicros, long DatabaseBytes, byte[] Chain, string? Lineage = null);
