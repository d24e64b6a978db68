using System.Buffers.Binary;
using Microsoft.Data.Sqlite;
using Walden.Native;

namespace Walden.Archiving;

/// <summary>
/// Reads the frames a commit appended to the <c>-wal</c> file, on the writer thread, inside SQLite's WAL hook: after the
/// COMMIT and before anything can reset the WAL (only the writer's next transaction, or a RESTART/TRUNCATE checkpoint
/// that holds the writer between batches, can). Every frame is checked as SQLite's own recovery checks it: the salts of
/// the WAL header and the running checksum from the header through each frame, so a frame that is not part of the
/// current, committed log is never taken.
/// The bytes are read through SQLite's own open <c>-wal</c> file (<c>SQLITE_FCNTL_JOURNAL_POINTER</c> gives the writer
/// connection's <c>sqlite3_file</c>, whose <c>xRead</c> is called), never through a descriptor of Walden's: the safety rules
/// (sqlite.org/howtocorrupt.html, section 2.2) forbid opening a file of a database in use outside SQLite, since closing any
/// descriptor of a file drops the process's POSIX locks on it. Only bytes SQLite has already committed are read, so a torn
/// frame cannot be seen.
/// </summary>
internal sealed unsafe class WalFrameReader : IDisposable
{
    private const int WalHeaderBytes = WalFrames.HeaderBytes;
    private const int FrameHeaderBytes = WalFrames.FrameHeaderBytes;
    private const int ShortRead = 522; // SQLITE_IOERR_SHORT_READ: the rest of the buffer was zero-filled
    private SqliteConnection? _writer;

    // Owned by the writer thread (the WAL hook and the base snapshot both run there).
    private uint _salt1;
    private uint _salt2;
    private uint _checksum1;
    private uint _checksum2;
    private bool _bigEndian;
    private int _pageSize;
    private WalChecksum? _pageChecksum; // a page's checksum in native order, in vectors

    /// <summary>The writer connection whose open <c>-wal</c> is read (set before the first <see cref="Synchronize"/>).</summary>
    internal void Attach(SqliteConnection writer) => _writer = writer;

    /// <summary>Frames of the current WAL generation already taken.</summary>
    internal int FramesTaken { get; private set; }

    /// <summary>True once the position is known (after <see cref="Synchronize"/>).</summary>
    internal bool Positioned { get; private set; }

    /// <summary>
    /// Finds the end of the committed log without taking anything (for a base snapshot taken at this moment):
    /// scans from the header through the last valid commit frame.
    /// </summary>
    internal void Synchronize()
    {
        Positioned = false;
        FramesTaken = 0;
        var header = ReadHeader();
        if (header is null)
        {
            _salt1 = _salt2 = 0;
            Positioned = true;
            return;
        }

        Scan(int.MaxValue);
        Positioned = true;
    }

    /// <summary>
    /// Takes the frames 1..<paramref name="frames"/> of the WAL that are new since the last call. Returns the page images
    /// (the last image of each page, in page order, as slices of one buffer) and the database size in pages after the last
    /// commit, or throws <see cref="InvalidDataException"/> when the log is not what the archive expects (a generation it did
    /// not see start, a checksum or salt mismatch): the caller then starts a new base snapshot. The new frames are read with
    /// one <c>xRead</c> (the writer thread waits for this call; frame-by-frame reads cost it a call and a copy per page) into
    /// <paramref name="arena"/>'s current chunk (see <see cref="CaptureArena"/> for why not a fresh or pooled array). The
    /// caller owns one reference to <paramref name="chunk"/> (released once nothing refers to its pages).
    /// </summary>
    /// <param name="frames">The frame count SQLite's WAL hook reported (the end of the committed log).</param>
    /// <param name="arena">Where the frames are read into.</param>
    /// <param name="previousGeneration">Set to true when the WAL was restarted since the last call.</param>
    /// <param name="chunk">The chunk the pages point into (null when no page was taken).</param>
    internal (List<(uint Page, ReadOnlyMemory<byte> Data)> Pages, uint DatabasePages) Take(int frames, CaptureArena arena,
        out bool previousGeneration, out CaptureArena.Chunk? chunk)
    {
        chunk = null;
        previousGeneration = false;
        if (Positioned && FramesTaken > 0 && frames > FramesTaken
            && TakeFrames(frames, arena, continuing: true, out chunk) is { } continued)
        {
            return continued;
        }

        var header = ReadHeader() ?? throw new InvalidDataException("the -wal file has no valid header after a commit");
        var (salt1, salt2) = header;
        if (salt1 == _salt1 && salt2 == _salt2 && frames < FramesTaken)
        {
            throw new InvalidDataException($"the WAL went back from frame {FramesTaken} to {frames} without a restart");
        }

        if (salt1 != _salt1 || salt2 != _salt2)
        {
            // A new generation. Whether the old one was wholly taken is the seam's question, not the WAL's: Walden's writer
            // restarts it only after this hook took the last commit, Walden's checkpointer only while the writer is held
            // (CommitSeam), and anyone else's commit shows in PRAGMA data_version. (SQLite picks new random salts when it
            // restarts an emptied WAL, so the salts alone cannot say how many restarts there were.)
            previousGeneration = true;
            StartGeneration();
        }

        return frames - FramesTaken <= 0 ? ([], 0) : TakeFrames(frames, arena, continuing: false, out chunk)!.Value;
    }

    /// <summary>Calls to the WAL file's <c>xRead</c> so far (tests: a commit in a known generation costs one).</summary>
    internal long Reads { get; private set; }

    /// <summary>
    /// Reads and checks the frames after <see cref="FramesTaken"/> through <paramref name="frames"/>. With
    /// <paramref name="continuing"/> the header was not read (a commit in the generation last seen, the usual case: one
    /// <c>xRead</c> per commit instead of two): then null when the first new frame does not carry this generation's salts,
    /// which is how a restarted WAL shows (every frame up to the reported count was written in the current generation, and a
    /// restart changes salt 1), and the caller reads the header. Either way each frame must carry the salts and continue the
    /// running checksum from the header through every frame taken before, as SQLite's recovery requires.
    /// </summary>
    private (List<(uint Page, ReadOnlyMemory<byte> Data)> Pages, uint DatabasePages)? TakeFrames(int frames, CaptureArena arena, bool continuing,
        out CaptureArena.Chunk? chunk)
    {
        chunk = null;
        var count = frames - FramesTaken;
        var frameBytes = FrameHeaderBytes + _pageSize;
        var space = arena.Reserve(count * frameBytes); // taken only once the frames check out
        var rented = space.Array!;
        var at = space.Offset;
        var file = WalFile();
        if (file == IntPtr.Zero || Read(file, space.AsSpan(), WalHeaderBytes + ((long)FramesTaken * frameBytes)) == 0)
        {
            if (continuing)
            {
                return null; // the WAL is shorter than that: restarted (or truncated) since, which the header says
            }

            throw new InvalidDataException($"the WAL is shorter than the {frames} committed frames SQLite reported");
        }

        if (continuing && (BinaryPrimitives.ReadUInt32BigEndian(rented.AsSpan(at + 8)) != _salt1
            || BinaryPrimitives.ReadUInt32BigEndian(rented.AsSpan(at + 12)) != _salt2))
        {
            return null;
        }

        var (c1, c2) = (_checksum1, _checksum2);
        var latest = _latest;
        latest.Clear();
        uint databasePages = 0;
        var lastCommit = -1;
        for (var i = 0; i < count; i++)
        {
            var span = rented.AsSpan(at + (i * frameBytes), frameBytes);
            if (!IsValidFrame(span, ref c1, ref c2))
            {
                break;
            }

            latest[BinaryPrimitives.ReadUInt32BigEndian(span)] = at + (i * frameBytes) + FrameHeaderBytes;
            var commitSize = BinaryPrimitives.ReadUInt32BigEndian(span[4..]);
            if (commitSize != 0)
            {
                lastCommit = i;
                databasePages = commitSize;
            }
        }

        if (lastCommit != count - 1)
        {
            throw new InvalidDataException($"the WAL holds {FramesTaken + lastCommit + 1} committed frames where SQLite reported {frames}");
        }

        FramesTaken = frames;
        (_checksum1, _checksum2) = (c1, c2);
        var pages = new List<(uint Page, ReadOnlyMemory<byte> Data)>(latest.Count);
        foreach (var (page, offset) in latest)
        {
            pages.Add((page, rented.AsMemory(offset, _pageSize)));
        }

        if (latest.Count > ReusedPagesLimit)
        {
            _latest = new Dictionary<uint, int>(); // a huge commit's table is not kept
        }

        chunk = arena.Take(count * frameBytes);
        pages.Sort(static (a, b) => a.Page.CompareTo(b.Page));
        return (pages, databasePages);
    }

    /// <summary>A commit of more pages than this gets its page table dropped afterwards rather than kept for the next one.</summary>
    private const int ReusedPagesLimit = 4096;

    // Writer thread: page -> offset of its last image in the buffer, cleared and reused by every commit.
    private Dictionary<uint, int> _latest = new();

    /// <summary>
    /// True when the WAL holds a committed frame after the last one taken in the same generation: another process
    /// committed since. Reads only; the position is unchanged.
    /// </summary>
    internal bool HasUntakenCommit()
    {
        var (salt1, salt2, taken, c1, c2) = (_salt1, _salt2, FramesTaken, _checksum1, _checksum2);
        try
        {
            var header = ReadHeader();
            if (header is null || header.Value.Salt1 != salt1 || header.Value.Salt2 != salt2)
            {
                return false; // a new generation the next Take checks (salt + 1)
            }

            return Scan(int.MaxValue) > taken;
        }
        finally
        {
            (_salt1, _salt2, FramesTaken, _checksum1, _checksum2) = (salt1, salt2, taken, c1, c2);
        }
    }

    private (uint Salt1, uint Salt2)? ReadHeader()
    {
        var file = WalFile();
        Span<byte> header = stackalloc byte[WalHeaderBytes];
        if (file == IntPtr.Zero || Read(file, header, 0) < WalHeaderBytes)
        {
            return null;
        }

        var magic = BinaryPrimitives.ReadUInt32BigEndian(header);
        if (!WalFrames.IsMagic(magic))
        {
            return null;
        }

        var salt1 = BinaryPrimitives.ReadUInt32BigEndian(header[16..]);
        var salt2 = BinaryPrimitives.ReadUInt32BigEndian(header[20..]);
        _bigEndian = WalFrames.IsBigEndian(magic);
        _pageSize = (int)BinaryPrimitives.ReadUInt32BigEndian(header[8..]);
        if (salt1 != _salt1 || salt2 != _salt2 || FramesTaken == 0)
        {
            // The running checksum starts from the header's own checksum (over its first 24 bytes).
            _pendingHeaderChecksum = (BinaryPrimitives.ReadUInt32BigEndian(header[24..]), BinaryPrimitives.ReadUInt32BigEndian(header[28..]));
            _pendingSalts = (salt1, salt2);
        }

        return (salt1, salt2);
    }

    private (uint, uint) _pendingHeaderChecksum;
    private (uint, uint) _pendingSalts;

    private void StartGeneration()
    {
        (_salt1, _salt2) = _pendingSalts;
        (_checksum1, _checksum2) = _pendingHeaderChecksum;
        FramesTaken = 0;
    }

    /// <summary>Reads frames after <see cref="FramesTaken"/> up to <paramref name="limit"/>; returns the last commit frame seen.</summary>
    private int Scan(int limit)
    {
        if (FramesTaken == 0 && !Positioned)
        {
            StartGeneration();
        }

        var file = WalFile();
        var frameBytes = FrameHeaderBytes + _pageSize;
        var buffer = new byte[frameBytes];
        var frame = FramesTaken;
        var (c1, c2) = (_checksum1, _checksum2);
        var lastCommit = FramesTaken;
        var committed = (c1, c2);
        while (frame < limit)
        {
            var offset = WalHeaderBytes + ((long)frame * frameBytes);
            if (file == IntPtr.Zero || Read(file, buffer, offset) < frameBytes)
            {
                break;
            }

            var span = buffer.AsSpan();
            if (!IsValidFrame(span, ref c1, ref c2))
            {
                break;
            }

            frame++;
            if (BinaryPrimitives.ReadUInt32BigEndian(span[4..]) != 0)
            {
                lastCommit = frame;
                committed = (c1, c2);
            }
        }

        FramesTaken = lastCommit;
        (_checksum1, _checksum2) = committed;
        return lastCommit;
    }

    /// <summary>
    /// Whether <paramref name="frame"/> (header and page) belongs to this WAL and continues its running checksum, as SQLite's
    /// own recovery tests a frame (<see cref="WalFrames.Continues"/>); the checksum is carried forward over it either way.
    /// </summary>
    private bool IsValidFrame(ReadOnlySpan<byte> frame, ref uint c1, ref uint c2) =>
        WalFrames.Continues(frame, _salt1, _salt2, _bigEndian, _pageSize, ref _pageChecksum, ref c1, ref c2);

    /// <summary>The writer connection's open <c>-wal</c> (<c>sqlite3_file*</c>), or zero while SQLite has not opened it.</summary>
    private IntPtr WalFile()
    {
        if (_writer?.Handle is not { } handle)
        {
            return IntPtr.Zero;
        }

        return SqliteNative.WalFileOf(handle.DangerousGetHandle(), out _); // zero: no WAL opened yet
    }

    /// <summary>Reads through the file's own <c>xRead</c>; 0 when the file is shorter than the range asked for.</summary>
    private int Read(IntPtr file, Span<byte> buffer, long offset)
    {
        Reads++;
        var read = SqliteNative.ReadMethodOf(file);
        int rc;
        fixed (byte* target = buffer)
        {
            rc = read(file, target, buffer.Length, offset);
        }

        return rc switch
        {
            0 => buffer.Length,
            ShortRead => 0,
            _ => throw new IOException($"reading the -wal through SQLite failed (SQLite error {rc})"),
        };
    }

    public void Dispose() => _writer = null;
}
