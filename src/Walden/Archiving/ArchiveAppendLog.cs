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
///   the full file's records ──read back from it, streamed into one segment──▶ Put (temp, link, fsync) ──durable──▶ recycle:
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
/// <para>
/// Memory: a record is written from the caller's buffer (the destination's scratch segment) by one gathered write of its
/// header and the segment, and nothing of it stays in memory: each file keeps only the runs of contiguous records it holds
/// (<see cref="LogRun"/>: where they start and end, how many, the first and last segment header), a few hundred bytes
/// per base, however many records. The seal reads the records back from the file and
/// streams them, checked record by record, into the sealed segment through a buffer of <see cref="SealBufferBytes"/>.
/// The files are opened for each append and each seal, not kept open (see <see cref="LogFile.Open"/>).
/// </para>
/// </summary>
internal sealed partial class ArchiveAppendLog
{
    internal const int HeaderBytes = 64;
    internal const int RecordHeaderBytes = 16;
    internal const int ChunkBytes = 1 << 20;
    internal const int SealBufferBytes = 256 << 10;
    internal static readonly string[] FileNames = ["sync-0.wlog", "sync-1.wlog"];
    private const uint RecordMagic = 0x31524C57; // "WLR1"
    private const int Version = 1;
    private static readonly byte[] Magic = "WALDLOG1"u8.ToArray();
    private static readonly byte[] Zeros = new byte[64 << 10];

    private readonly WaldenFolderDestination _destination;
    private readonly object _lock = new();
    private readonly object _sealing = new();
    private readonly LogFile[] _files;
    private readonly byte[] _recordHeader = new byte[RecordHeaderBytes]; // under _lock
    private readonly ReadOnlyMemory<byte>[] _gather = new ReadOnlyMemory<byte>[2]; // under _lock
    private byte[]? _sealBuffer; // under _sealing
    private int _active;
    private bool _recovered;
    private volatile bool _faulted;
    private LogSealFailure? _sealFailure; // under _lock

    internal ArchiveAppendLog(WaldenFolderDestination destination)
    {
        _destination = destination;
        _files = [.. FileNames.Select(n => new LogFile(System.IO.Path.Combine(destination.Path, n), n))];
    }

    /// <summary>How many bytes of records a file takes before the writer switches to the other one and it is sealed.</summary>
    internal long SealBytes { get; set; } = WaldenArchiveOptions.DefaultSegmentTargetBytes;

    /// <summary>The first wait before a failed seal is tried again: 1 s, doubling at each failure up to <see cref="MaxSealRetry"/>.</summary>
    internal static readonly TimeSpan FirstSealRetry = TimeSpan.FromSeconds(1);

    /// <summary>The longest wait between two tries of a failed seal: 30 s (the maintenance's own sealing interval).</summary>
    internal static readonly TimeSpan MaxSealRetry = TimeSpan.FromSeconds(30);

    /// <summary>The clock of a failed seal's back-off (the database's <see cref="WaldenOptions.TimeProvider"/>).</summary>
    internal TimeProvider Time { get; set; } = TimeProvider.System;

    /// <summary>Called (outside the log's locks) after each failed seal, with the failure as health reports it.</summary>
    internal Action<LogSealFailure>? SealFailed { get; set; }

    /// <summary>Called (outside the log's locks) when a seal succeeds after one or more failed.</summary>
    internal Action? SealRecovered { get; set; }

    /// <summary>The failing seal, while the records of a file could not be stored as a segment; null when none is failing.</summary>
    internal LogSealFailure? SealProblem
    {
        get
        {
            lock (_lock)
            {
                return _sealFailure;
            }
        }
    }

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
                return _files.Sum(f => f.Runs.Sum(r => r.End - r.Start));
            }
        }
    }

    /// <summary>Bytes this log keeps in memory about its unsealed records (its runs), however many records there are (tests).</summary>
    internal long IndexBytes
    {
        get
        {
            lock (_lock)
            {
                return _files.Sum(f => f.Runs.Count * LogRun.Bytes);
            }
        }
    }

    /// <summary>
    /// Appends one batch's segment (whole, as encoded: format 1, 2 or 4) and returns once it is durable (its fdatasync
    /// returned); <paramref name="segment"/> is written as it is and not kept, so the caller may reuse its memory at once.
    /// A failed fdatasync or write faults the log for the rest of the run (after a failed fsync nothing can say what
    /// reached the disk); a failure to grow the file (a full disk) does not.
    /// </summary>
    /// <exception cref="IOException">The record is not durable.</exception>
    internal void Append(ReadOnlyMemory<byte> segment)
    {
        if (!ArchiveFormat.IsPlainSegmentHeader(segment.Span, segment.Length))
        {
            throw new ArgumentException("Only a whole segment of format 1, 2 or 4 is a record of the archive log.", nameof(segment));
        }

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
            if (file.Runs.Count > 0 && file.End + length > SealBytes && _files[1 - _active] is { Runs.Count: 0, Sealing: false } other)
            {
                _active = 1 - _active;
                file = other;
                sealWanted = true;
            }

            if (!file.Ready)
            {
                Recycle(file);
            }

            using var handle = file.Open(FileMode.Open, FileAccess.ReadWrite);
            Grow(file, handle, file.End + length);
            BinaryPrimitives.WriteUInt32LittleEndian(_recordHeader, RecordMagic);
            BinaryPrimitives.WriteInt32LittleEndian(_recordHeader.AsSpan(4), segment.Length);
            BinaryPrimitives.WriteUInt64LittleEndian(_recordHeader.AsSpan(8), file.Salt);
            _gather[0] = _recordHeader;
            _gather[1] = segment;
            try
            {
                RandomAccess.Write(handle, _gather, file.End); // one pwritev: the record's header, then the segment in place
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
            finally
            {
                _gather[1] = default; // the caller's buffer is not held
            }

            if (file.Runs.Count == 0)
            {
                file.FirstAt = Stopwatch.GetTimestamp();
            }

            file.Add(file.End, length, segment.Span[..ArchiveFormat.HeaderBytes]);
            file.End += length;
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
                    if (File.Exists(file.Path))
                    {
                        var end = new ScanEnd();
                        file.Runs.Clear();
                        using (var handle = file.Open(FileMode.Open, FileAccess.ReadWrite))
                        {
                            foreach (var record in Scan(handle, file.Name, keepBytes: false, end))
                            {
                                file.Add(record.Offset, record.Length, record.Header);
                            }
                        }

                        file.Salt = end.Salt;
                        StoreRuns(file);
                        Recycle(file);
                    }
                    else if (prepare)
                    {
                        Recycle(file);
                    }
                }

                _recovered = true;
            }

            SealSucceeded(); // a seal that failed in the previous run (this process's) is done now
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
                if (active.Runs.Count == 0 || Stopwatch.GetElapsedTime(active.FirstAt) < age || _files[1 - _active].Runs.Count > 0)
                {
                    return;
                }

                _active = 1 - _active;
            }

            SealInactive();
        }
    }

    /// <summary>
    /// At the archive's close (after <see cref="SealAll"/>): the next run recovers the files from disk again (another
    /// process may have used the folder in between), sealing whatever a failed seal left.
    /// </summary>
    internal void Close()
    {
        lock (_sealing)
        {
            lock (_lock)
            {
                foreach (var file in _files)
                {
                    file.Ready = false;
                }

                _recovered = false;
            }
        }
    }

    /// <summary>The valid records in the files, for every reader of the archive (restore, verify, status, retention).</summary>
    /// <param name="keepBytes">Copy each record's bytes (restore, verify); false: only their names and lengths.</param>
    internal LogRead Read(bool keepBytes = true)
    {
        lock (_lock)
        {
            return ReadFiles(_destination.Path, keepBytes);
        }
    }

    /// <summary>
    /// The maintenance pass (every second): tries a failed seal again once its back-off on <see cref="Time"/> has passed.
    /// Returns true when it tried (the outcome is in <see cref="SealProblem"/>).
    /// </summary>
    internal bool RetrySealIfDue()
    {
        if (!SealDue())
        {
            return false; // the usual case: nothing failed, and no wait behind a seal in flight
        }

        lock (_sealing) // a try in flight (the maintenance's, a switch's) finishes first, and sets the next time
        {
            if (!SealDue())
            {
                return false;
            }

            SealQuietly();
            return true;
        }
    }

    private bool SealDue()
    {
        lock (_lock)
        {
            return _sealFailure is { } failure && Time.GetUtcNow() >= failure.NextAttemptAt;
        }
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

    /// <summary>Stores the inactive file's records as one segment per run, then recycles the file.</summary>
    private void SealInactive()
    {
        lock (_sealing)
        {
            LogFile file;
            lock (_lock)
            {
                file = _files[1 - _active];
                if (file.Runs.Count == 0)
                {
                    _sealFailure = null; // nothing is waiting for a seal (a failed one left its file inactive, with its runs)
                    return;
                }

                file.Sealing = true;
            }

            try
            {
                StoreRuns(file); // the file is not active (Sealing keeps the writer off it): its runs and records stay as they are
                Recycle(file);
            }
            catch (Exception ex)
            {
                SealFailedWith(file, ex);
                throw;
            }
            finally
            {
                lock (_lock)
                {
                    file.Sealing = false;
                }
            }
        }

        SealSucceeded();
    }

    /// <summary>Counts a failed seal of <paramref name="file"/> and sets when it is tried again (the back-off doubles).</summary>
    private void SealFailedWith(LogFile file, Exception error)
    {
        LogSealFailure failure;
        lock (_lock)
        {
            var now = Time.GetUtcNow();
            var attempts = (_sealFailure?.Attempts ?? 0) + 1;
            var delay = TimeSpan.FromTicks(Math.Min(MaxSealRetry.Ticks, FirstSealRetry.Ticks << Math.Min(attempts - 1, 20)));
            failure = new LogSealFailure(file.Path, $"{error.GetType().Name}: {error.Message}", _sealFailure?.Since ?? now, attempts,
                now + delay, _files.Sum(f => f.Runs.Sum(r => r.End - r.Start)));
            _sealFailure = failure;
        }

        SealFailed?.Invoke(failure);
    }

    private void SealSucceeded()
    {
        bool was;
        lock (_lock)
        {
            was = _sealFailure is not null;
            _sealFailure = null;
        }

        if (was)
        {
            SealRecovered?.Invoke();
        }
    }

    /// <summary>Puts each run of the file's records as an ordinary segment, streamed from the file (under <see cref="_sealing"/>).</summary>
    private void StoreRuns(LogFile file)
    {
        _sealBuffer ??= new byte[SealBufferBytes];
        foreach (var run in file.Runs)
        {
            var first = ArchiveFormat.ParseSegmentHeader(run.First);
            var name = ArchiveFormat.SegmentName(first.BaseId, first.First, ArchiveFormat.ParseSegmentHeader(run.Last).Last);
            try
            {
                using var content = new PieceStream(Sealed(file, run, _sealBuffer));
                _destination.Put(name, content);
            }
            catch (IOException) when (File.Exists(System.IO.Path.Combine(_destination.Path, name)))
            {
                // An earlier seal stored it and stopped before the recycle (a crash): keep it when it is whole, else store it again.
                if (!IsWholeSegment(System.IO.Path.Combine(_destination.Path, name), _sealBuffer))
                {
                    _destination.Delete(name);
                    using var content = new PieceStream(Sealed(file, run, _sealBuffer));
                    _destination.Put(name, content);
                }
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
        using var handle = file.Open(FileMode.OpenOrCreate, FileAccess.ReadWrite);
        file.Allocated = RandomAccess.GetLength(handle);
        Grow(file, handle, ChunkBytes); // zeros first: they start at the file's old end, which is 0 for a new file
        RandomAccess.Write(handle, header, 0);
        if (Posix.Fdatasync((int)handle.DangerousGetHandle()) != 0)
        {
            throw new IOException($"The fdatasync of the archive log '{file.Path}' failed (errno {Marshal.GetLastSystemError()}).");
        }

        if (created)
        {
            Posix.FsyncDirectory(_destination.Path);
        }

        lock (_lock)
        {
            file.Salt = salt;
            file.End = HeaderBytes;
            file.Runs.Clear();
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
        for (var at = file.Allocated; at < target; at += Zeros.Length)
        {
            RandomAccess.Write(handle, Zeros.AsSpan(0, (int)Math.Min(Zeros.Length, target - at)), at);
        }

        // The file's new size and blocks are metadata: one full fsync, here, and not again until it grows. A failure (a full
        // disk) leaves Allocated where it was, so the next append writes those zeros again and fsyncs them.
        RandomAccess.FlushToDisk(handle);
        file.Allocated = target;
        return true;
    }

    /// <summary>
    /// A run of contiguous records of one base in a file (each continues the previous one's transaction ids and chain):
    /// all the log keeps in memory about them until the seal makes them one segment.
    /// </summary>
    private sealed class LogRun(long start, ReadOnlySpan<byte> first)
    {
        /// <summary>About what one run takes in memory: two segment headers and a few numbers.</summary>
        internal const int Bytes = (2 * ArchiveFormat.HeaderBytes) + 96;

        public long Start { get; } = start;

        public long End { get; set; } = start;

        public int Count { get; set; }

        /// <summary>The length of the sealed segment's parts (<see cref="ArchiveFormat.PartBytes"/> of each record).</summary>
        public long PartBytes { get; set; }

        /// <summary>The first record's segment header.</summary>
        public byte[] First { get; } = first[..ArchiveFormat.HeaderBytes].ToArray();

        /// <summary>The last record's segment header (overwritten at each append).</summary>
        public byte[] Last { get; } = new byte[ArchiveFormat.HeaderBytes];
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

        /// <summary>The runs of records appended since the last recycle (acknowledged), in file order.</summary>
        public List<LogRun> Runs { get; } = [];

        /// <summary>
        /// Opens the file (only a recycle creates it: an append to a file that is gone fails rather than write records no
        /// reader would find behind a missing header). Not kept open between appends: a folder whose files are
        /// open for writing cannot be remounted read-only, nor unmounted, while the database runs.
        /// </summary>
        public SafeFileHandle Open(FileMode mode, FileAccess access) => File.OpenHandle(Path, mode, access, FileShare.ReadWrite | FileShare.Delete);

        /// <summary>Counts a record (at <paramref name="at"/>, header included) into the last run, or starts a new one.</summary>
        public void Add(long at, int length, ReadOnlySpan<byte> header)
        {
            if (Runs.Count == 0 || !ArchiveFormat.Continues(Runs[^1].Last, header))
            {
                Runs.Add(new LogRun(at, header));
            }

            var run = Runs[^1];
            header[..ArchiveFormat.HeaderBytes].CopyTo(run.Last);
            run.End = at + length;
            run.Count++;
            run.PartBytes += ArchiveFormat.PartBytes(length - RecordHeaderBytes);
        }
    }
}

/// <summary>A seal of the archive log that failed (health and the archive's metrics report it until a seal succeeds).</summary>
/// <param name="Log">The log file whose records could not be stored as a segment.</param>
/// <param name="Reason">Why, as the last try failed.</param>
/// <param name="Since">When the first of the failed tries ran.</param>
/// <param name="Attempts">How many tries failed in a row.</param>
/// <param name="NextAttemptAt">When it is tried again.</param>
/// <param name="UnsealedBytes">Bytes of records only in the log (safe there, and read by every restore) at the last try.</param>
internal sealed record LogSealFailure(string Log, string Reason, DateTimeOffset Since, int Attempts, DateTimeOffset NextAttemptAt, long UnsealedBytes);

/// <summary>A record of the archive log: a segment that is not (yet) an object of its own (its bytes: null when not kept).</summary>
internal sealed record LoggedSegment(ArchiveObjectName Name, long Length, byte[]? Bytes);

/// <summary>What the archive log holds: its valid records, and whether it ends in a record cut short or holds damage.</summary>
internal sealed record LogRead(IReadOnlyList<LoggedSegment> Records, string? Tail, string? Damage);
