using System.Buffers.Binary;
using System.IO.Compression;
using System.Security.Cryptography;
using Microsoft.Win32.SafeHandles;

namespace Walden.Archiving;

/// <summary>
/// Applies segments of every format to the database a restore is building, a part at a time from the destination's
/// stream, never holding a segment (read or decoded) whole:
/// <list type="number">
/// <item><see cref="Open"/> reads the object once through one 256 KiB buffer: its magic, its SHA-256 (every byte but the
/// trailer), its payload length and its version. Nothing is written before this passed. A stream that cannot seek (an
/// object store's body) is copied into a scratch file beside the restore on the way, and read back from there.</item>
/// <item><see cref="Apply"/> reads it again from the start: each part (a format-3 part, or the whole payload of format 1
/// or 2) through its own zlib stream, one transaction at a time into a buffer of that transaction's size; each
/// transaction's id is checked and its chain value computed before its pages are written, and the chain after the
/// last transaction is checked against the header.</item>
/// </list>
/// A page stored as the XOR with its previous image in the same part (format 2) is restored from the image the file holds
/// (the previous image was written there, as every transaction is applied in order), or from the transaction itself when
/// it repeats a page, or from a copy kept when a transaction shrank the database below that page.
/// </summary>
internal sealed class SegmentApplier : IDisposable
{
    internal const int ReadBufferBytes = 256 * 1024;
    private const int RecordHeaderBytes = 24;
    private const int SealedVersion = 3;
    private const int PatchVersion = 4; // a page seen before in the part stored as the runs that changed (ArchiveFormat.Patches.cs)
    private const int BrotliPatchVersion = 5; // format 4 in a Brotli stream
    private const int FullImageTag = -1;
    private readonly SafeFileHandle _file;
    private readonly int _pageSize;
    private readonly string _scratchFolder;
    private readonly byte[] _buffer = new byte[ReadBufferBytes];
    private readonly byte[] _chain = new byte[ArchiveFormat.HashBytes];
    private readonly IncrementalHash _hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
    private readonly HashSet<uint> _seen = [];
    private readonly Dictionary<uint, byte[]> _truncated = [];
    private readonly Dictionary<uint, int> _inRecord = [];
    private byte[] _record = new byte[64 * 1024];
    private long _fileLength;

    /// <param name="path">The database being built (the base's copy), opened for this restore only.</param>
    /// <param name="pageSize">Its page size.</param>
    /// <param name="scratchFolder">Where a stream that cannot seek is copied (the restore's own folder).</param>
    internal SegmentApplier(string path, int pageSize, string scratchFolder)
    {
        _file = File.OpenHandle(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
        _fileLength = RandomAccess.GetLength(_file);
        _pageSize = pageSize;
        _scratchFolder = scratchFolder;
    }

    /// <summary>The last transaction applied and its time.</summary>
    internal (long Txid, long Micros) Applied { get; set; }

    /// <summary>
    /// Checks a whole segment (magic, SHA-256, payload length, version) reading <paramref name="input"/> once; returns its
    /// header and the seekable stream to <see cref="Apply"/> it from (<paramref name="input"/> itself, or a scratch copy that
    /// is deleted when disposed). Throws <see cref="InvalidDataException"/> saying what is wrong; disposes
    /// <paramref name="input"/> when it does not return it.
    /// </summary>
    internal (Stream Stream, DecodedSegment Header, int Version) Open(Stream input)
    {
        var stream = input;
        try
        {
            if (!stream.CanSeek)
            {
                stream = Spool(input);
                input.Dispose();
            }

            var length = stream.Length - stream.Position;
            var header = new byte[ArchiveFormat.HeaderBytes];
            ArchiveFormat.CheckWholeSegment(length, header, _buffer, span => Read(stream, span));
            var parsed = ArchiveFormat.ParseSegmentHeader(header);
            var version = BinaryPrimitives.ReadInt32LittleEndian(header.AsSpan(8));
            var decoded = new DecodedSegment(parsed.BaseId, parsed.PageSize, parsed.First, parsed.Last,
                BinaryPrimitives.ReadInt64LittleEndian(header.AsSpan(40)), parsed.LastTimeMicros, parsed.PreviousChain, parsed.LastChain, []);
            if (version is not (1 or 2 or SealedVersion or PatchVersion or BrotliPatchVersion))
            {
                throw new InvalidDataException($"its format version {version} is not one this Walden reads (1 to {BrotliPatchVersion})");
            }

            if (decoded.PageSize != _pageSize)
            {
                throw new InvalidDataException($"its page size {decoded.PageSize} is not the base's {_pageSize}");
            }

            stream.Position = stream.Length - length;
            return (stream, decoded, version);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The transaction <see cref="Apply"/> stopped before (its id, time in microseconds, and whether it is a catch-up whose
    /// earlier moments are unknown, <see cref="ArchiveFormat.CatchUpFlag"/>); null when it did not stop at a target.
    /// </summary>
    internal (long Txid, long Micros, bool CatchUp)? StoppedBefore { get; private set; }

    /// <summary>
    /// Applies the transactions of a segment checked by <see cref="Open"/> (<paramref name="stream"/> at its start), in
    /// order, up to the first that <paramref name="beyond"/> says is past the target (true is returned then, the file being
    /// the state after the transaction before it). Throws <see cref="InvalidDataException"/> at the first transaction that
    /// does not decode or check; every transaction before it was applied whole, so the file is the state after the last of
    /// them (<see cref="Applied"/>).
    /// </summary>
    internal bool Apply(Stream stream, DecodedSegment segment, int version, Func<long, long, bool> beyond)
    {
        StoppedBefore = null;
        var start = stream.Position;
        var end = stream.Length - ArchiveFormat.HashBytes;
        segment.PreviousChain.CopyTo(_chain, 0);
        var next = segment.FirstTxid;
        stream.Position = start + ArchiveFormat.HeaderBytes;
        while (stream.Position < end)
        {
            int partVersion;
            long partLength;
            if (version != SealedVersion)
            {
                (partVersion, partLength) = (version, end - stream.Position);
            }
            else
            {
                // Parts: [version][length][the payload of one segment of that version], each its own zlib stream and XOR scope.
                var head = _buffer.AsSpan(0, 8);
                if (Read(stream, head) < head.Length)
                {
                    throw new InvalidDataException("a part of it is cut short or of an unknown version");
                }

                partVersion = BinaryPrimitives.ReadInt32LittleEndian(head);
                partLength = BinaryPrimitives.ReadInt32LittleEndian(head[4..]);
                if (partVersion is not (1 or 2 or PatchVersion or BrotliPatchVersion) || partLength < 0 || stream.Position + partLength > end)
                {
                    throw new InvalidDataException("a part of it is cut short or of an unknown version");
                }
            }

            var partEnd = stream.Position + partLength;
            if (ApplyPart(new PartStream(stream, partLength), segment, partVersion, ref next, beyond))
            {
                return true;
            }

            stream.Position = partEnd;
        }

        if (next != segment.LastTxid + 1 || !_chain.AsSpan().SequenceEqual(segment.LastChain))
        {
            throw new InvalidDataException("its transactions do not match its header (ids or chain)");
        }

        return false;
    }

    private bool ApplyPart(Stream part, DecodedSegment segment, int version, ref long next, Func<long, long, bool> beyond)
    {
        _seen.Clear();
        _truncated.Clear();
        using var zlib = ArchiveFormat.Decompressor(part, version, leaveOpen: true);
        while (true)
        {
            var got = Read(zlib, _record.AsSpan(0, RecordHeaderBytes));
            if (got == 0)
            {
                return false;
            }

            var (count, catchUp) = ArchiveFormat.ReadCountField(_record);
            var length = RecordHeaderBytes + ((long)count * (4 + _pageSize));
            if (got < RecordHeaderBytes || count < 0 || length > Array.MaxLength)
            {
                throw new InvalidDataException("a transaction in it is cut short");
            }

            if (_record.Length < length)
            {
                var grown = new byte[Math.Min(Array.MaxLength, Math.Max(length, (long)_record.Length * 2))];
                _record.AsSpan(0, RecordHeaderBytes).CopyTo(grown);
                _record = grown;
            }

            var record = _record.AsSpan(0, (int)length);
            if (ArchiveFormat.IsPatchFormat(version))
            {
                ReadPatched(zlib, record, count); // laid out as the other formats' records: page numbers and whole images
            }
            else if (Read(zlib, record[RecordHeaderBytes..]) < record.Length - RecordHeaderBytes)
            {
                throw new InvalidDataException("a transaction in it is cut short");
            }

            var txid = BinaryPrimitives.ReadInt64LittleEndian(record);
            if (txid != next || txid > segment.LastTxid)
            {
                throw new InvalidDataException("its transactions do not match its header (ids or chain)");
            }

            if (version == 2)
            {
                Unxor(record, count);
            }

            Chain(record, version);
            var micros = BinaryPrimitives.ReadInt64LittleEndian(record[8..]);
            if (beyond(txid, micros))
            {
                StoppedBefore = (txid, micros, catchUp);
                return true;
            }

            Write(record, count, BinaryPrimitives.ReadUInt32LittleEndian(record[16..]));
            Applied = (txid, micros);
            next++;
        }
    }

    /// <summary>
    /// The chain value after <paramref name="record"/> (whole images) into <see cref="_chain"/>: formats 1 and 2 hash the
    /// record's bytes, format 4 its header and, per page, its number and the XXH128 digest of its image
    /// (<see cref="ArchiveFormat.ChainNext(ReadOnlySpan{byte}, ArchiveRecord)"/>).
    /// </summary>
    private void Chain(ReadOnlySpan<byte> record, int version)
    {
        if (ArchiveFormat.IsPatchFormat(version))
        {
            ArchiveFormat.ChainNextOfEncoded(_chain, record, _pageSize, _chain);
            return;
        }

        _hash.AppendData(_chain);
        _hash.AppendData(record);
        _hash.GetHashAndReset(_chain);
    }

    /// <summary>
    /// Reads a format-4 transaction of <paramref name="count"/> pages from <paramref name="zlib"/> (its header already in
    /// <paramref name="record"/>) into whole images: a page stored whole, or the runs that changed since its previous
    /// image in the part, applied over that image.
    /// </summary>
    private void ReadPatched(Stream zlib, Span<byte> record, int count)
    {
        _inRecord.Clear();
        Span<byte> head = stackalloc byte[8];
        for (var i = 0; i < count; i++)
        {
            var at = RecordHeaderBytes + (i * (4 + _pageSize));
            if (Read(zlib, head) < head.Length)
            {
                throw new InvalidDataException("a transaction in it is cut short");
            }

            var page = BinaryPrimitives.ReadUInt32LittleEndian(head);
            var tag = BinaryPrimitives.ReadInt32LittleEndian(head[4..]);
            head[..4].CopyTo(record[at..]);
            var image = record.Slice(at + 4, _pageSize);
            if (tag == FullImageTag)
            {
                if (Read(zlib, image) < _pageSize)
                {
                    throw new InvalidDataException("a page in it is cut short");
                }
            }
            else
            {
                if (tag < 0)
                {
                    throw new InvalidDataException($"a change to page {page} in it is cut short or out of the page");
                }

                if (!TryPreviousImage(record, page, image))
                {
                    throw new InvalidDataException($"a change to page {page} in it has no earlier image of that page");
                }

                for (var run = 0; run < tag; run++)
                {
                    if (Read(zlib, head) < head.Length)
                    {
                        throw new InvalidDataException($"a change to page {page} in it is cut short or out of the page");
                    }

                    var offset = BinaryPrimitives.ReadInt32LittleEndian(head);
                    var length = BinaryPrimitives.ReadInt32LittleEndian(head[4..]);
                    if (offset < 0 || length < 0 || (long)offset + length > _pageSize || Read(zlib, image.Slice(offset, length)) < length)
                    {
                        throw new InvalidDataException($"a change to page {page} in it is cut short or out of the page");
                    }
                }
            }

            _inRecord[page] = at + 4;
        }
    }

    /// <summary>
    /// Copies the image of <paramref name="page"/> before this one in the part into <paramref name="into"/>: from earlier in
    /// the record, from the copy kept when a shrink cut it off, or from the file being built. False when the part has not
    /// held the page yet (format 2 then stores it whole); throws when it has but the file does not hold it.
    /// </summary>
    private bool TryPreviousImage(ReadOnlySpan<byte> record, uint page, Span<byte> into)
    {
        if (_inRecord.TryGetValue(page, out var earlier))
        {
            record.Slice(earlier, _pageSize).CopyTo(into);
        }
        else if (_truncated.TryGetValue(page, out var kept))
        {
            kept.CopyTo(into);
        }
        else if (!_seen.Contains(page))
        {
            return false;
        }
        else if (page == 0 || (long)page * _pageSize > _fileLength || RandomAccess.Read(_file, into, (long)(page - 1) * _pageSize) < _pageSize)
        {
            throw new InvalidDataException($"a transaction in it refers to an earlier image of page {page} it does not hold");
        }

        return true;
    }

    /// <summary>Turns the XOR-ed page images of a format-2 transaction back into images, in place.</summary>
    private void Unxor(Span<byte> record, int count)
    {
        _inRecord.Clear();
        for (var i = 0; i < count; i++)
        {
            var at = RecordHeaderBytes + (i * (4 + _pageSize));
            var page = BinaryPrimitives.ReadUInt32LittleEndian(record[at..]);
            var image = record.Slice(at + 4, _pageSize);
            var previous = _buffer.AsSpan(0, _pageSize);
            if (TryPreviousImage(record, page, previous))
            {
                ArchiveFormat.Xor(image, previous, image);
            }

            _inRecord[page] = at + 4;
        }
    }

    /// <summary>Writes a transaction's pages and sets the database's size after it.</summary>
    private void Write(ReadOnlySpan<byte> record, int count, uint databasePages)
    {
        for (var i = 0; i < count; i++)
        {
            var at = RecordHeaderBytes + (i * (4 + _pageSize));
            var page = BinaryPrimitives.ReadUInt32LittleEndian(record[at..]);
            if (page == 0)
            {
                throw new InvalidDataException("a transaction in it writes page 0");
            }

            var offset = (long)(page - 1) * _pageSize;
            RandomAccess.Write(_file, record.Slice(at + 4, _pageSize), offset);
            _fileLength = Math.Max(_fileLength, offset + _pageSize);
            _seen.Add(page);
            _truncated.Remove(page);
        }

        var length = (long)databasePages * _pageSize;
        if (length < _fileLength)
        {
            // A later transaction of this part may store one of the pages cut off as the XOR with its image here.
            foreach (var page in _seen)
            {
                if ((long)page * _pageSize > length && (long)page * _pageSize <= _fileLength && !_truncated.ContainsKey(page))
                {
                    var image = new byte[_pageSize];
                    RandomAccess.Read(_file, image, (long)(page - 1) * _pageSize);
                    _truncated[page] = image;
                }
            }
        }

        if (length != _fileLength)
        {
            RandomAccess.SetLength(_file, length);
            _fileLength = length;
        }
    }

    /// <summary>Makes the file durable.</summary>
    internal void Flush() => RandomAccess.FlushToDisk(_file);

    private Stream Spool(Stream input)
    {
        var spool = new FileStream(Path.Combine(_scratchFolder, $".walden-restore-segment-{Guid.NewGuid():N}.tmp"), FileMode.CreateNew,
            FileAccess.ReadWrite, FileShare.None, 1, FileOptions.DeleteOnClose);
        try
        {
            int read;
            while ((read = Read(input, _buffer)) > 0)
            {
                spool.Write(_buffer, 0, read);
            }

            spool.Position = 0;
            return spool;
        }
        catch
        {
            spool.Dispose();
            throw;
        }
    }

    /// <summary>Reads until <paramref name="into"/> is full or the stream ends; returns how many bytes were read.</summary>
    private static int Read(Stream stream, Span<byte> into) => stream.ReadAtLeast(into, into.Length, throwOnEndOfStream: false);

    public void Dispose()
    {
        _file.Dispose();
        _hash.Dispose();
    }

    /// <summary>At most <c>length</c> bytes of a stream from its position (one part's zlib stream), read in parts of at most 256 KiB.</summary>
    private sealed class PartStream(Stream inner, long length) : Stream
    {
        private long _left = length;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            var wanted = (int)Math.Min(Math.Min(buffer.Length, _left), ReadBufferBytes);
            if (wanted == 0)
            {
                return 0;
            }

            var read = inner.Read(buffer[..wanted]);
            _left -= read;
            return read;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
