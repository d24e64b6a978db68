using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Microsoft.Win32.SafeHandles;
using Walden.Native;

namespace Walden.Archiving;

/// <summary>
/// The Sync archive's append log in a folder destination: how a batch becomes durable in the archive with one
/// <c>fdatasync</c> of blocks the file already has, instead of a new file, a link and two fsyncs.
/// <para>
/// Why: on ext4 (and any journaling file system) the fsync of a new file and of its folder is a journal commit (inode,
/// directory entry, block allocation), two or three device flushes per batch; an <c>fdatasync</c> after overwriting
/// blocks that are already allocated and written needs only the data, as the WAL's own sync does
/// (Writing/WalPreallocation.cs). So each Sync batch's segment (today's format, checksummed) is appended to one of two
/// files, <c>sync-0.wlog</c> and <c>sync-1.wlog</c>, kept allocated ahead of their end by writing zeros (not fallocate:
/// a fallocated block is converted at its first write, a metadata change), fsynced once when they grow.
/// </para>
/// <code>
///   file:   [header 64: "WALDLOG1", version, salt, SHA-256 of the first 32 bytes]
///           [record: magic "WLR1", length, salt][segment bytes: header, zlib payload, SHA-256] [record] ... [zeros or stale]
///
///   writer (Sync batch) ──append+fdatasync──▶ active file ──full (SegmentTargetBytes)──▶ switch to the other file
///                                                                                       │ (pool thread)
///   the full file's records ──merged into one ordinary segment──▶ Put (temp, link, fsync) ──durable──▶ recycle:
///   a new salt in the header (fdatasync), records start again at its start; stale records after the new end carry
///   the old salt and are never read as valid (SQLite's WAL salts do the same).
/// </code>
/// A record is acknowledged-durable when its fdatasync returns. A record counts only with the header's salt and a whole,
/// intact segment (its SHA-256); reading stops at the first one that is not. A record cut short by a crash can only be
/// the last one (the next append starts after the previous one's fdatasync), and it was never acknowledged: readers leave
/// it out and say so (<see cref="LogRead.Tail"/>). Anything with the current salt after an unreadable record means damage
/// to acknowledged records (<see cref="LogRead.Damage"/>), reported as such. Records are sealed into segments when a file
/// is full, every 30 s (the archive's maintenance), at close and at the next open (a log left by a crash); a file is
/// recycled only after its segment is durable, so nothing is ever only in neither. Every reader of the archive sees the
/// valid records (ArchiveCatalog). Owned by its <see cref="WaldenFolderDestination"/>; <see cref="_lock"/> orders appends
/// and this process's reads, <see cref="_sealing"/> lets one seal run at a time.
/// </summary>
internal sealed class ArchiveAppendLog
{
    internal const int HeaderBytes = 64;
    internal const int RecordHeaderBytes = 16;
    internal const int ChunkBytes = 1 << 20;
    internal static readonly string[] FileNames = ["sync-0.wlog", "sync-1.wlog"];
    private const uint RecordMagic = 0x31524C57; // "WLR1"
    private const int Version = 1;
    private static readonly byte[] Magic = "WALDLOG1"u8.ToArray();

    private readonly WaldenFolderDestination _destination;
    private readonly object _lock = new();
    private readonly object _sealing = new();
    private readonly LogFile[] _files;
    private int _active;
    private bool _recovered;
    private volatile bool _faulted;

    internal ArchiveAppendLog(WaldenFolderDestination destination)
    {
        _destination = destination;
        _files = [.. FileNames.Select(n => new LogFile(System.IO.Path.Combine(destination.Path, n), n))];
    }

    /// <summary>How many bytes of records a file takes before the writer switches to the other one and it is sealed.</summary>
    internal long SealBytes { get; set; } = WaldenArchiveOptions.DefaultSegmentTargetBytes;

    /// <summary>Failure injection for tests: replaces the result of each record's fdatasync (0: success).</summary>
    internal Func<int>? SyncResult { get; set; }

    /// <summary>True after an append's write or fdatasync failed: the log is not used again in this run (Put per batch instead).</summary>
    internal bool Faulted => _faulted;

    /// <summary>Bytes of records not yet sealed, in both files (tests).</summary>
    internal long UnsealedBytes
    {
        get
        {
            lock (_lock)
            {
                return _files.Sum(f => f.Records.Sum(r => (long)r.Length));
            }
        }
    }

    /// <summary>
    /// Appends one batch's segment and returns once it is durable (its fdatasync returned). A failed fdatasync or write
    /// faults the log for the rest of the run (after a failed fsync nothing can say what reached the disk); a failure to
    /// grow the file (a full disk) does not.
    /// </summary>
    /// <exception cref="IOException">The record is not durable.</exception>
    internal void Append(byte[] segment)
    {
        var sealWanted = false;
        _destination.EnsureRoot();
        if (!_recovered)
        {
            Recover(); // outside the lock: the lock order is _sealing, then _lock
        }

        lock (_lock)
        {
            if (_faulted)
            {
                throw new IOException($"The archive log in '{_destination.Path}' failed earlier in this run.");
            }

            var file = _files[_active];
            var length = RecordHeaderBytes + segment.Length;
            if (file.Records.Count > 0 && file.End + length > SealBytes && _files[1 - _active] is { Records.Count: 0, Sealing: false } other)
            {
                _active = 1 - _active;
                file = other;
                sealWanted = true;
            }

            if (!file.Ready)
            {
                Recycle(file);
            }

            using (var handle = File.OpenHandle(file.Path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite))
            {
                Grow(file, handle, file.End + length);
                var record = new byte[length];
                BinaryPrimitives.WriteUInt32LittleEndian(record, RecordMagic);
                BinaryPrimitives.WriteInt32LittleEndian(record.AsSpan(4), segment.Length);
                BinaryPrimitives.WriteUInt64LittleEndian(record.AsSpan(8), file.Salt);
                segment.CopyTo(record, RecordHeaderBytes);
                try
                {
                    RandomAccess.Write(handle, record, file.End);
                    var rc = SyncResult?.Invoke() ?? (Posix.Fdatasync((int)handle.DangerousGetHandle()) == 0 ? 0 : Marshal.GetLastSystemError());
                    if (rc != 0)
                    {
                        throw new IOException($"The fdatasync of the archive log '{file.Path}' failed (errno {rc}).", rc);
                    }
                }
                catch
                {
                    _faulted = true;
                    throw;
                }
            }

            if (file.Records.Count == 0)
            {
                file.FirstAt = Stopwatch.GetTimestamp();
            }

            file.End += length;
            file.Records.Add(segment);
        }

        if (sealWanted)
        {
            _ = Task.Factory.StartNew(SealQuietly, CancellationToken.None, TaskCreationOptions.DenyChildAttach, TaskScheduler.Default);
        }
    }

    /// <summary>
    /// At open (and before the first append of a run): seals whatever valid records a previous run left in the files, then
    /// recycles them. Until this succeeded nothing is appended (it would write over records only the log holds).
    /// </summary>
    /// <param name="prepare">Also create both files now (Sync mode, at open), so that no append waits for a new file.</param>
    /// <exception cref="IOException">The destination could not store the sealed segment.</exception>
    internal void Recover(bool prepare = true)
    {
        lock (_sealing)
        {
            lock (_lock)
            {
                if (_recovered)
                {
                    return;
                }

                foreach (var file in _files)
                {
                    var read = ReadFile(file);
                    if (read.Count > 0)
                    {
                        Store([.. read.Select(r => r.Bytes)]);
                    }

                    if (prepare || File.Exists(file.Path))
                    {
                        Recycle(file);
                    }
                }

                _recovered = true;
            }
        }
    }

    /// <summary>Seals the records of both files (close; and every 30 s from maintenance when the oldest is older than <paramref name="age"/>).</summary>
    internal void SealAll(TimeSpan age)
    {
        lock (_sealing)
        {
            SealInactive();
            lock (_lock)
            {
                var active = _files[_active];
                if (active.Records.Count == 0 || Stopwatch.GetElapsedTime(active.FirstAt) < age || _files[1 - _active].Records.Count > 0)
                {
                    return;
                }

                _active = 1 - _active;
            }

            SealInactive();
        }
    }

    /// <summary>The valid records in the files, for every reader of the archive (restore, verify, status, retention).</summary>
    internal LogRead Read()
    {
        lock (_lock)
        {
            return ReadFiles(_destination.Path);
        }
    }

    /// <summary>Reads the log files in <paramref name="folder"/> as they are on disk (a reader in any process).</summary>
    internal static LogRead ReadFiles(string folder)
    {
        var records = new List<LoggedSegment>();
        string? tail = null;
        string? damage = null;
        foreach (var name in FileNames)
        {
            var one = ReadFile(new LogFile(System.IO.Path.Combine(folder, name), name), out var t, out var d);
            records.AddRange(one);
            tail ??= t;
            damage ??= d;
        }

        return new LogRead(records, tail, damage);
    }

    private void SealQuietly()
    {
        try
        {
            SealInactive();
        }
#pragma warning disable CA1031 // Off the writer's path: a failed seal leaves the records in the log, sealed at the next try.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
    }

    /// <summary>Stores the inactive file's records as one segment (per base), then recycles the file.</summary>
    private void SealInactive()
    {
        lock (_sealing)
        {
            LogFile file;
            List<byte[]> records;
            lock (_lock)
            {
                file = _files[1 - _active];
                if (file.Records.Count == 0)
                {
                    return;
                }

                file.Sealing = true;
                records = [.. file.Records];
            }

            try
            {
                Store(records);
                Recycle(file); // the file is not active (Sealing keeps the writer off it), so no append races this
            }
            finally
            {
                lock (_lock)
                {
                    file.Sealing = false;
                }
            }
        }
    }

    /// <summary>Puts the records as ordinary segments: one per run of contiguous records of one base.</summary>
    private void Store(List<byte[]> records)
    {
        var run = new List<(byte[] Bytes, SegmentHeader Header)>();
        foreach (var bytes in records)
        {
            var header = ArchiveFormat.TryReadSegmentHeader(bytes)
                ?? throw new InvalidDataException("a record of the archive log is not a whole segment");
            if (run.Count > 0 && (run[^1].Header.BaseId != header.BaseId || run[^1].Header.Last + 1 != header.First
                || !run[^1].Header.LastChain.AsSpan().SequenceEqual(header.PreviousChain)))
            {
                StoreRun(run);
                run.Clear();
            }

            run.Add((bytes, header));
        }

        StoreRun(run);
    }

    private void StoreRun(List<(byte[] Bytes, SegmentHeader Header)> run)
    {
        if (run.Count == 0)
        {
            return;
        }

        // Joined as they are (format 3: one zlib stream per record), not decompressed and compressed again: sealing 16 MiB
        // is one SHA-256 pass instead of seconds of zlib on the cores the writer needs.
        var segment = run.Count == 1 ? run[0].Bytes : ArchiveFormat.JoinSegments([.. run.Select(r => r.Bytes)]);

        var name = ArchiveFormat.SegmentName(run[0].Header.BaseId, run[0].Header.First, run[^1].Header.Last);
        try
        {
            using var content = new MemoryStream(segment, writable: false);
            _destination.Put(name, content);
        }
        catch (IOException) when (File.Exists(System.IO.Path.Combine(_destination.Path, name)))
        {
            // An earlier seal stored it and stopped before the recycle (a crash): keep it when it is whole, else store it again.
            if (ArchiveFormat.TryReadSegmentHeader(File.ReadAllBytes(System.IO.Path.Combine(_destination.Path, name))) is null)
            {
                _destination.Delete(name);
                using var content = new MemoryStream(segment, writable: false);
                _destination.Put(name, content);
            }
        }
    }

    /// <summary>
    /// Starts a file over: a new salt in its header (every record after it is stale), allocated ahead by one chunk of
    /// written zeros when it is new or short. A new file is fsynced with its folder; an old one needs an fdatasync only.
    /// </summary>
    private void Recycle(LogFile file)
    {
        var salt = BinaryPrimitives.ReadUInt64LittleEndian(RandomNumberGenerator.GetBytes(8)) | 1;
        var header = new byte[HeaderBytes];
        Magic.CopyTo(header, 0);
        BinaryPrimitives.WriteInt32LittleEndian(header.AsSpan(8), Version);
        BinaryPrimitives.WriteUInt64LittleEndian(header.AsSpan(16), salt);
        SHA256.HashData(header.AsSpan(0, 32), header.AsSpan(32));
        var created = !File.Exists(file.Path);
        using (var handle = File.OpenHandle(file.Path, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.ReadWrite))
        {
            file.Allocated = RandomAccess.GetLength(handle);
            Grow(file, handle, ChunkBytes); // zeros first: they start at the file's old end, which is 0 for a new file
            RandomAccess.Write(handle, header, 0);
            if (Posix.Fdatasync((int)handle.DangerousGetHandle()) != 0)
            {
                throw new IOException($"The fdatasync of the archive log '{file.Path}' failed (errno {Marshal.GetLastSystemError()}).");
            }
        }

        if (created)
        {
            Posix.FsyncDirectory(_destination.Path);
        }

        lock (_lock)
        {
            file.Salt = salt;
            file.End = HeaderBytes;
            file.Records.Clear();
            file.Ready = true;
        }
    }

    /// <summary>Makes the file at least <paramref name="needed"/> bytes of written blocks, a chunk ahead; true when it grew (and was fsynced).</summary>
    private static bool Grow(LogFile file, SafeFileHandle handle, long needed)
    {
        if (needed <= file.Allocated)
        {
            return false;
        }

        var target = (needed + ChunkBytes - 1) / ChunkBytes * ChunkBytes;
        var zeros = new byte[Math.Min(ChunkBytes, target - file.Allocated)];
        for (var at = file.Allocated; at < target; at += zeros.Length)
        {
            RandomAccess.Write(handle, zeros.AsSpan(0, (int)Math.Min(zeros.Length, target - at)), at);
        }

        // The file's new size and blocks are metadata: one full fsync, here, and not again until it grows. A failure (a full
        // disk) leaves Allocated where it was, so the next append writes those zeros again and fsyncs them.
        RandomAccess.FlushToDisk(handle);
        file.Allocated = target;
        return true;
    }

    private static List<LoggedSegment> ReadFile(LogFile file) => ReadFile(file, out _, out _);

    private static List<LoggedSegment> ReadFile(LogFile file, out string? tail, out string? damage)
    {
        tail = null;
        damage = null;
        var result = new List<LoggedSegment>();
        byte[] bytes;
        try
        {
            using var stream = new FileStream(file.Path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 1 << 16);
            bytes = new byte[stream.Length];
            stream.ReadExactly(bytes);
        }
        catch (Exception ex) when (ex is FileNotFoundException or DirectoryNotFoundException)
        {
            return result;
        }

        var span = bytes.AsSpan();
        Span<byte> hash = stackalloc byte[32];
        if (bytes.Length < HeaderBytes || !span[..8].SequenceEqual(Magic) || !SHA256.TryHashData(span[..32], hash, out _)
            || !hash.SequenceEqual(span.Slice(32, 32)))
        {
            return result; // no header, or one cut short while recycling: its records were sealed before it was recycled
        }

        var salt = BinaryPrimitives.ReadUInt64LittleEndian(span[16..]);
        long offset = HeaderBytes;
        while (offset + RecordHeaderBytes <= bytes.Length)
        {
            var at = (int)offset;
            if (BinaryPrimitives.ReadUInt32LittleEndian(span[at..]) != RecordMagic || BinaryPrimitives.ReadUInt64LittleEndian(span[(at + 8)..]) != salt)
            {
                break; // zeros, or a stale record from before the last recycle: the end
            }

            var length = BinaryPrimitives.ReadInt32LittleEndian(span[(at + 4)..]);
            var whole = length > 0 && offset + RecordHeaderBytes + length <= bytes.Length;
            var header = whole ? ArchiveFormat.TryReadSegmentHeader(span.Slice(at + RecordHeaderBytes, length)) : null;
            if (header is null)
            {
                var next = offset + RecordHeaderBytes + Math.Max(length, 0);
                var followed = whole && next + RecordHeaderBytes <= bytes.Length
                    && BinaryPrimitives.ReadUInt32LittleEndian(span[(int)next..]) == RecordMagic
                    && BinaryPrimitives.ReadUInt64LittleEndian(span[((int)next + 8)..]) == salt;
                var where = string.Create(CultureInfo.InvariantCulture, $"the record at byte {offset} of the archive log {file.Name}");
                if (followed)
                {
                    damage = $"{where} is damaged (its checksum does not match) and records follow it";
                }
                else
                {
                    tail = $"{where} was cut short (a store interrupted by a crash, never acknowledged) and was left out";
                }

                break;
            }

            result.Add(new LoggedSegment(new ArchiveObjectName(
                string.Create(CultureInfo.InvariantCulture, $"{file.Name}@{offset}"), header.BaseId, IsBase: false, header.First, header.Last),
                span.Slice(at + RecordHeaderBytes, length).ToArray()));
            offset += RecordHeaderBytes + length;
        }

        return result;
    }

    /// <summary>One of the two files; its fields are guarded by the log's lock.</summary>
    private sealed class LogFile(string path, string name)
    {
        public string Path { get; } = path;

        public string Name { get; } = name;

        public ulong Salt { get; set; }

        public long End { get; set; } = HeaderBytes;

        public long Allocated { get; set; }

        public bool Ready { get; set; }

        public bool Sealing { get; set; }

        public long FirstAt { get; set; }

        /// <summary>The segments appended since the last recycle (acknowledged), kept for the seal.</summary>
        public List<byte[]> Records { get; } = [];
    }
}

/// <summary>A record of the archive log: a segment that is not (yet) an object of its own.</summary>
internal sealed record LoggedSegment(ArchiveObjectName Name, byte[] Bytes);

/// <summary>What the archive log holds: its valid records, and whether it ends in a record cut short or holds damage.</summary>
internal sealed record LogRead(IReadOnlyList<LoggedSegment> Records, string? Tail, string? Damage);
