using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using System.Security.Cryptography;
using Microsoft.Win32.SafeHandles;

namespace Walden.Archiving;

/// <summary>
/// Reading the append log back: the scan every reader and the recovery use (record by record, each checked by its
/// segment's SHA-256), and the seal's stream (the records of a run read from the file and joined on the way into the
/// destination, never held whole).
/// </summary>
internal sealed partial class ArchiveAppendLog
{
    /// <summary>Reads the log files in <paramref name="folder"/> as they are on disk (a reader in any process).</summary>
    /// <param name="folder">The archive folder.</param>
    /// <param name="keepBytes">Copy each valid record's bytes (restore, verify); false: names and lengths only.</param>
    internal static LogRead ReadFiles(string folder, bool keepBytes = true)
    {
        var records = new List<LoggedSegment>();
        string? tail = null;
        string? damage = null;
        foreach (var name in FileNames)
        {
            SafeFileHandle handle;
            try
            {
                Files.FileKind.EnsureRegular(System.IO.Path.Combine(folder, name), "read as an append log"); // a pipe would block the open
                handle = File.OpenHandle(System.IO.Path.Combine(folder, name), FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            }
            catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
            {
                // The first file is made at the first Sync append and the second only when the writer first switches to it;
                // Walden never deletes either (a sealed file is recycled in place). So the first missing beside the second
                // was removed by hand or left out of a copy, and the acknowledged transactions it held are gone with it.
                if (name == FileNames[0] && File.Exists(System.IO.Path.Combine(folder, FileNames[1])))
                {
                    damage ??= $"the archive log {FileNames[0]} is missing while {FileNames[1]} is there: Walden never deletes either " +
                               "(it recycles them), so it was removed or left out of a copy, with the acknowledged transactions it held " +
                               "that were not sealed into segments yet";
                }

                continue;
            }

            using (handle)
            {
                var end = new ScanEnd();
                foreach (var record in Scan(handle, name, keepBytes, end))
                {
                    var header = ArchiveFormat.ParseSegmentHeader(record.Header);
                    records.Add(new LoggedSegment(new ArchiveObjectName(string.Create(CultureInfo.InvariantCulture, $"{name}@{record.Offset}"),
                        header.BaseId, IsBase: false, header.First, header.Last), record.Length - RecordHeaderBytes, record.Bytes));
                }

                tail ??= end.Tail;
                damage ??= end.Damage;
            }
        }

        return new LogRead(records, tail, damage);
    }

    /// <summary>
    /// The valid records of one file, in order: with the header's salt and a whole, intact segment (its SHA-256). Stops at
    /// the first that is not, and says in <paramref name="end"/> whether it was a torn last record or damage followed by
    /// more records.
    /// </summary>
    private static IEnumerable<ScannedRecord> Scan(SafeFileHandle handle, string name, bool keepBytes, ScanEnd end)
    {
        var fileLength = RandomAccess.GetLength(handle);
        var header = new byte[HeaderBytes];
        if (fileLength < HeaderBytes || !TryRead(handle, header, 0) || !header.AsSpan(0, 8).SequenceEqual(Magic)
            || !SHA256.HashData(header.AsSpan(0, 32)).AsSpan().SequenceEqual(header.AsSpan(32, 32)))
        {
            yield break; // no header, or one cut short while recycling: its records were sealed before it was recycled
        }

        var salt = BinaryPrimitives.ReadUInt64LittleEndian(header.AsSpan(16));
        end.Salt = salt;
        var recordHeader = new byte[RecordHeaderBytes];
        var buffer = ArrayPool<byte>.Shared.Rent(SealBufferBytes);
        try
        {
            long offset = HeaderBytes;
            while (offset + RecordHeaderBytes <= fileLength && TryRead(handle, recordHeader, offset)
                && BinaryPrimitives.ReadUInt32LittleEndian(recordHeader) == RecordMagic
                && BinaryPrimitives.ReadUInt64LittleEndian(recordHeader.AsSpan(8)) == salt) // else zeros or a stale record: the end
            {
                var length = BinaryPrimitives.ReadInt32LittleEndian(recordHeader.AsSpan(4));
                var whole = length > 0 && offset + RecordHeaderBytes + length <= fileLength;
                byte[]? bytes = null;
                byte[]? segmentHeader = null;
                if (whole && keepBytes)
                {
                    bytes = new byte[length];
                    segmentHeader = TryRead(handle, bytes, offset + RecordHeaderBytes) && ArchiveFormat.TryReadSegmentHeader(bytes) is not null
                        ? bytes[..ArchiveFormat.HeaderBytes] : null;
                }
                else if (whole)
                {
                    segmentHeader = CheckSegment(handle, offset + RecordHeaderBytes, length, buffer);
                }

                if (length > 0 && !whole)
                {
                    end.Damage = CutShort(name, offset, fileLength);
                    yield break;
                }

                if (segmentHeader is null)
                {
                    var next = offset + RecordHeaderBytes + Math.Max(length, 0);
                    var followed = whole && next + RecordHeaderBytes <= fileLength && TryRead(handle, recordHeader, next)
                        && BinaryPrimitives.ReadUInt32LittleEndian(recordHeader) == RecordMagic
                        && BinaryPrimitives.ReadUInt64LittleEndian(recordHeader.AsSpan(8)) == salt;
                    var where = string.Create(CultureInfo.InvariantCulture, $"the record at byte {offset} of the archive log {name}");
                    if (followed)
                    {
                        end.Damage = $"{where} is damaged (its checksum does not match) and records follow it";
                    }
                    else
                    {
                        end.Tail = $"{where} was cut short (a store interrupted by a crash, never acknowledged) and was left out";
                    }

                    yield break;
                }

                yield return new ScannedRecord(offset, RecordHeaderBytes + length, segmentHeader, bytes);
                offset += RecordHeaderBytes + length;
            }

            // The file ends inside a record's header, or right after a record in a file that is not whole chunks long. Neither
            // is what a crash leaves: every file is written in whole chunks of zeros and fsynced before a record goes into them.
            if (offset < fileLength && offset + RecordHeaderBytes > fileLength && !IsZeros(handle, offset, (int)(fileLength - offset)))
            {
                end.Damage = CutShort(name, offset, fileLength);
            }
            else if (offset == fileLength && fileLength % ChunkBytes != 0)
            {
                end.Damage = CutShort(name, offset, fileLength);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <summary>
    /// The damage of a log file that ends inside, or right at the end of, the record at <paramref name="offset"/>. The log
    /// is made whole chunks (<see cref="ChunkBytes"/>) of zeros ahead of its records, with an fsync (<c>Grow</c>), before a
    /// record is written into them, so a crash leaves a torn record followed by zeros, never a file that ends there: it was
    /// truncated, or copied in part, after it was written, and acknowledged transactions from there on are missing.
    /// </summary>
    private static string CutShort(string name, long offset, long fileLength) => string.Create(CultureInfo.InvariantCulture,
        $"the archive log {name} ends at byte {fileLength:N0}, inside or right after the record at byte {offset:N0}: ") + "it was truncated " +
        "or copied in part (a crash never leaves that: the log is written into zeros allocated and fsynced ahead of its records), " +
        "so acknowledged transactions stored from there on are missing";

    /// <summary>True when the <paramref name="count"/> bytes at <paramref name="at"/> read as zeros (the log's preallocated end).</summary>
    private static bool IsZeros(SafeFileHandle handle, long at, int count)
    {
        var bytes = new byte[count];
        return TryRead(handle, bytes, at) && !bytes.AsSpan().ContainsAnyExcept((byte)0);
    }

    /// <summary>
    /// Checks the segment of <paramref name="length"/> bytes at <paramref name="at"/> (magic, length, SHA-256) reading it
    /// through <paramref name="buffer"/>; its header when whole and intact, else null.
    /// </summary>
    private static byte[]? CheckSegment(SafeFileHandle handle, long at, long length, byte[] buffer)
    {
        var header = new byte[ArchiveFormat.HeaderBytes];
        var position = at;
        try
        {
            ArchiveFormat.CheckWholeSegment(length, header, buffer, span =>
            {
                var read = TryRead(handle, span, position) ? span.Length : 0;
                position += read;
                return read;
            });
            return header;
        }
        catch (InvalidDataException)
        {
            return null;
        }
    }

    /// <summary>True when the file at <paramref name="path"/> is one whole, intact segment (read through <paramref name="buffer"/>).</summary>
    private static bool IsWholeSegment(string path, byte[] buffer)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        return CheckSegment(handle, 0, RandomAccess.GetLength(handle), buffer) is not null;
    }

    /// <summary>
    /// The sealed segment of one run, in pieces: read back from the file and checked record by record
    /// as it goes (the salt, each segment's SHA-256, the chain from one record to the next, and the run as counted at the
    /// appends). One record is stored as it is; more are joined (format 3, <see cref="ArchiveFormat.SealedHeader"/>). A
    /// record that does not check throws before the last piece, so the Put fails and no segment is stored.
    /// </summary>
    private static IEnumerable<ReadOnlyMemory<byte>> Sealed(LogFile file, LogRun run, byte[] buffer)
    {
        using var handle = file.Open(FileMode.Open, FileAccess.Read);
        var joined = run.Count > 1;
        using var output = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        using var record = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        if (joined)
        {
            var header = ArchiveFormat.SealedHeader(run.First, run.Last, run.PartBytes);
            output.AppendData(header);
            yield return header;
        }

        var previous = new byte[ArchiveFormat.HeaderBytes];
        var part = new byte[8];
        var stored = new byte[ArchiveFormat.HashBytes];
        var at = run.Start;
        var count = 0;
        while (at < run.End)
        {
            var where = string.Create(CultureInfo.InvariantCulture, $"the record at byte {at} of the archive log {file.Name}");
            var heads = buffer.AsMemory(0, RecordHeaderBytes + ArchiveFormat.HeaderBytes);
            if (!TryRead(handle, heads.Span, at))
            {
                throw new InvalidDataException($"{where} is cut short");
            }

            var length = BinaryPrimitives.ReadInt32LittleEndian(heads.Span[4..]);
            var segmentHeader = heads[RecordHeaderBytes..];
            if (BinaryPrimitives.ReadUInt32LittleEndian(heads.Span) != RecordMagic || BinaryPrimitives.ReadUInt64LittleEndian(heads.Span[8..]) != file.Salt
                || at + RecordHeaderBytes + length > run.End || !ArchiveFormat.IsPlainSegmentHeader(segmentHeader.Span, length)
                || !(count == 0 ? segmentHeader.Span.SequenceEqual(run.First) : ArchiveFormat.Continues(previous, segmentHeader.Span)))
            {
                throw new InvalidDataException($"{where} is not the one appended there (a damaged or changed archive log)");
            }

            segmentHeader.Span.CopyTo(previous);
            record.AppendData(segmentHeader.Span);
            if (joined)
            {
                BinaryPrimitives.WriteInt32LittleEndian(part, BinaryPrimitives.ReadInt32LittleEndian(segmentHeader.Span[8..]));
                BinaryPrimitives.WriteInt32LittleEndian(part.AsSpan(4), length - ArchiveFormat.HeaderBytes - ArchiveFormat.HashBytes);
                output.AppendData(part);
                yield return part;
            }
            else
            {
                yield return segmentHeader;
            }

            var position = at + RecordHeaderBytes + ArchiveFormat.HeaderBytes;
            var hashAt = at + RecordHeaderBytes + length - ArchiveFormat.HashBytes;
            while (position < hashAt)
            {
                var chunk = buffer.AsMemory(0, (int)Math.Min(buffer.Length, hashAt - position));
                if (!TryRead(handle, chunk.Span, position))
                {
                    throw new InvalidDataException($"{where} is cut short");
                }

                record.AppendData(chunk.Span);
                if (joined)
                {
                    output.AppendData(chunk.Span);
                }

                yield return chunk;
                position += chunk.Length;
            }

            if (!TryRead(handle, stored, hashAt) || !record.GetHashAndReset().AsSpan().SequenceEqual(stored))
            {
                throw new InvalidDataException($"{where} is damaged (its checksum does not match)");
            }

            at += RecordHeaderBytes + length;
            count++;
        }

        if (count != run.Count || at != run.End || !previous.AsSpan().SequenceEqual(run.Last))
        {
            throw new InvalidDataException($"the archive log {file.Name} does not hold the records appended to it");
        }

        yield return joined ? output.GetHashAndReset() : stored;
    }

    /// <summary>Reads exactly <paramref name="into"/>.Length bytes at <paramref name="at"/>; false when the file ends first.</summary>
    private static bool TryRead(SafeFileHandle handle, Span<byte> into, long at)
    {
        while (into.Length > 0)
        {
            var read = RandomAccess.Read(handle, into, at);
            if (read == 0)
            {
                return false;
            }

            into = into[read..];
            at += read;
        }

        return true;
    }

    /// <summary>A valid record found by <see cref="Scan"/>: where it starts, its length (header included), its segment's header.</summary>
    private sealed record ScannedRecord(long Offset, int Length, byte[] Header, byte[]? Bytes);

    /// <summary>What <see cref="Scan"/> found at the end of the file's valid records.</summary>
    private sealed class ScanEnd
    {
        public ulong Salt { get; set; }

        public string? Tail { get; set; }

        public string? Damage { get; set; }
    }

    /// <summary>A read-only stream over pieces of memory produced one at a time (each valid until the next is asked for).</summary>
    private sealed class PieceStream(IEnumerable<ReadOnlyMemory<byte>> pieces) : Stream
    {
        private readonly IEnumerator<ReadOnlyMemory<byte>> _pieces = pieces.GetEnumerator();
        private ReadOnlyMemory<byte> _current;
        private long _position;

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => _position; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            while (_current.IsEmpty)
            {
                if (!_pieces.MoveNext())
                {
                    return 0;
                }

                _current = _pieces.Current;
            }

            var n = Math.Min(buffer.Length, _current.Length);
            _current.Span[..n].CopyTo(buffer);
            _current = _current[n..];
            _position += n;
            return n;
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
                _pieces.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}
