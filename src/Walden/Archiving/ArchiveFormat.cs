using System.Buffers.Binary;
using System.Globalization;
using System.IO.Compression;
using System.Security.Cryptography;

namespace Walden.Archiving;

/// <summary>
/// The two kinds of immutable object an archive holds, both a fixed 128-byte header, a zlib payload and a SHA-256 of
/// everything before it, so a torn, truncated or altered object is refused as a whole:
/// <list type="bullet">
/// <item><c>&lt;base&gt;/base.wbase</c>: the database as of transaction <c>txid</c> (an online backup of Walden's own
/// writer connection between two batches). Its chain value is the SHA-256 of the database bytes.</item>
/// <item><c>&lt;base&gt;/&lt;first&gt;-&lt;last&gt;.wseg</c>: the committed transactions first..last after that base, each a
/// list of page images (the WAL frames of that commit) and the database size in pages. Transaction ids are contiguous
/// and each one's chain value is SHA-256(previous chain value, record): the header names the chain value before its first
/// and after its last transaction, so a missing, reordered or foreign segment is a mismatch, and merging segments
/// (compaction) keeps the values.</item>
/// </list>
/// </summary>
internal static class ArchiveFormat
{
    internal const int HeaderBytes = 128;
    internal const int HashBytes = 32;
    internal const string BaseFileName = "base.wbase";
    internal const string SegmentExtension = ".wseg";
    private static readonly byte[] SegmentMagic = "WALDSEG1"u8.ToArray();
    private static readonly byte[] BaseMagic = "WALDBAS1"u8.ToArray();
    private const int Version = 1;

    internal static string BaseFolder(long baseId) => baseId.ToString("D10", CultureInfo.InvariantCulture);

    internal static string BaseName(long baseId) => $"{BaseFolder(baseId)}/{BaseFileName}";

    internal static string SegmentName(long baseId, long first, long last) =>
        string.Create(CultureInfo.InvariantCulture, $"{BaseFolder(baseId)}/{first:D16}-{last:D16}{SegmentExtension}");

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

    internal static byte[] ChainNext(ReadOnlySpan<byte> previous, ReadOnlySpan<byte> record)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(previous);
        hash.AppendData(record);
        return hash.GetHashAndReset();
    }

    /// <summary>Serializes one transaction's record (the bytes its chain value covers).</summary>
    internal static byte[] EncodeRecord(ArchiveRecord record, int pageSize)
    {
        var bytes = new byte[24 + (record.Pages.Count * (4 + pageSize))];
        var span = bytes.AsSpan();
        BinaryPrimitives.WriteInt64LittleEndian(span, record.Txid);
        BinaryPrimitives.WriteInt64LittleEndian(span[8..], record.TimeMicros);
        BinaryPrimitives.WriteUInt32LittleEndian(span[16..], record.DatabasePages);
        BinaryPrimitives.WriteInt32LittleEndian(span[20..], record.Pages.Count);
        var offset = 24;
        foreach (var (page, data) in record.Pages)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(span[offset..], page);
            data.Span.CopyTo(span[(offset + 4)..]);
            offset += 4 + pageSize;
        }

        return bytes;
    }

    /// <summary>Encodes a segment of contiguous records (each already carrying its chain value).</summary>
    internal static byte[] EncodeSegment(long baseId, int pageSize, byte[] previousChain, IReadOnlyList<ArchiveRecord> records)
    {
        using var payload = new MemoryStream();
        using (var zlib = new ZLibStream(payload, CompressionLevel.Fastest, leaveOpen: true))
        {
            foreach (var record in records)
            {
                zlib.Write(record.Encoded ?? EncodeRecord(record, pageSize));
            }
        }

        var header = new byte[HeaderBytes];
        SegmentMagic.CopyTo(header, 0);
        var span = header.AsSpan();
        BinaryPrimitives.WriteInt32LittleEndian(span[8..], Version);
        BinaryPrimitives.WriteInt32LittleEndian(span[12..], pageSize);
        BinaryPrimitives.WriteInt64LittleEndian(span[16..], baseId);
        BinaryPrimitives.WriteInt64LittleEndian(span[24..], records[0].Txid);
        BinaryPrimitives.WriteInt64LittleEndian(span[32..], records[^1].Txid);
        BinaryPrimitives.WriteInt64LittleEndian(span[40..], records[0].TimeMicros);
        BinaryPrimitives.WriteInt64LittleEndian(span[48..], records[^1].TimeMicros);
        previousChain.CopyTo(span[56..]);
        records[^1].Chain!.CopyTo(span[88..]);
        BinaryPrimitives.WriteInt64LittleEndian(span[120..], payload.Length);
        var result = new byte[HeaderBytes + payload.Length + HashBytes];
        header.CopyTo(result, 0);
        payload.GetBuffer().AsSpan(0, (int)payload.Length).CopyTo(result.AsSpan(HeaderBytes));
        SHA256.HashData(result.AsSpan(0, result.Length - HashBytes), result.AsSpan(result.Length - HashBytes));
        return result;
    }

    /// <summary>Reads and checks a whole segment; throws <see cref="InvalidDataException"/> saying what is wrong.</summary>
    internal static DecodedSegment DecodeSegment(byte[] bytes)
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

        using var zlib = new ZLibStream(new MemoryStream(bytes, HeaderBytes, (int)payloadLength), CompressionMode.Decompress);
        using var raw = new MemoryStream();
        zlib.CopyTo(raw);
        var data = raw.GetBuffer().AsSpan(0, (int)raw.Length);
        var chain = segment.PreviousChain;
        var offset = 0;
        while (offset < data.Length)
        {
            var count = BinaryPrimitives.ReadInt32LittleEndian(data[(offset + 20)..]);
            var length = 24 + (count * (4 + pageSize));
            var encoded = data.Slice(offset, length).ToArray();
            var record = DecodeRecord(encoded, pageSize);
            chain = ChainNext(chain, encoded);
            record.Chain = chain;
            record.Encoded = encoded;
            segment.Records.Add(record);
            offset += length;
        }

        if (segment.Records.Count != segment.LastTxid - segment.FirstTxid + 1 || segment.Records[0].Txid != segment.FirstTxid
            || !chain.AsSpan().SequenceEqual(segment.LastChain))
        {
            throw new InvalidDataException("its transactions do not match its header (ids or chain)");
        }

        return segment;
    }

    private static ArchiveRecord DecodeRecord(byte[] encoded, int pageSize)
    {
        var span = encoded.AsSpan();
        var record = new ArchiveRecord(BinaryPrimitives.ReadInt64LittleEndian(span), BinaryPrimitives.ReadInt64LittleEndian(span[8..]),
            BinaryPrimitives.ReadUInt32LittleEndian(span[16..]));
        var count = BinaryPrimitives.ReadInt32LittleEndian(span[20..]);
        for (var i = 0; i < count; i++)
        {
            var offset = 24 + (i * (4 + pageSize));
            record.Pages.Add((BinaryPrimitives.ReadUInt32LittleEndian(span[offset..]), encoded.AsMemory(offset + 4, pageSize)));
        }

        return record;
    }

    /// <summary>Writes a base object for the database copy at <paramref name="databaseCopy"/> into <paramref name="output"/>.</summary>
    internal static byte[] EncodeBase(string databaseCopy, Stream output, long baseId, long txid, long timeMicros, int pageSize)
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

    /// <summary>Checks a base object and writes its database to <paramref name="databasePath"/>; throws InvalidDataException.</summary>
    internal static DecodedBase DecodeBase(Stream input, string? databasePath)
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
            BinaryPrimitives.ReadInt64LittleEndian(span[40..]), span.Slice(48, HashBytes).ToArray());
        var payloadLength = BinaryPrimitives.ReadInt64LittleEndian(span[120..]);
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
    public long Txid { get; } = txid;

    public long TimeMicros { get; } = timeMicros;

    public uint DatabasePages { get; } = databasePages;

    public List<(uint Page, ReadOnlyMemory<byte> Data)> Pages { get; } = [];

    /// <summary>The chain value after this record.</summary>
    public byte[]? Chain { get; set; }

    public byte[]? Encoded { get; set; }

    public DateTimeOffset Time => DateTimeOffset.FromUnixTimeMilliseconds(TimeMicros / 1000).AddTicks(TimeMicros % 1000 * 10);

    public int Bytes => Encoded?.Length ?? 0;
}

internal sealed record DecodedSegment(long BaseId, int PageSize, long FirstTxid, long LastTxid, long FirstTimeMicros, long LastTimeMicros,
    byte[] PreviousChain, byte[] LastChain, List<ArchiveRecord> Records);

internal sealed record DecodedBase(long BaseId, int PageSize, long Txid, long TimeMicros, long DatabaseBytes, byte[] Chain);
