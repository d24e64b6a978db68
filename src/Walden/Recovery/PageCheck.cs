using System.Buffers.Binary;
using Microsoft.Data.Sqlite;

namespace Walden.Recovery;

/// <summary>
/// Whether a page of the damaged file is a well-formed b-tree page: cells, freeblocks and the
/// unallocated area cover the page exactly, with no overlap (the test the recover extension uses to
/// detect page sizes, <c>recoverIsValidPage</c>). A bit flip in a page header or cell pointer makes a
/// page fail it, and its rows are then never moved out of lost_and_found: decoding a damaged page can
/// yield a plausible-looking row that was never written.
/// </summary>
internal sealed class PageCheck : IDisposable
{
    private readonly int _pageSize;
    private readonly FileStream? _file;
    private readonly SqliteConnection? _connection;
    private readonly SqliteCommand? _read;

    /// <param name="inputPath">The file the recovery read (the damaged file, or Walden's patched copy of it).</param>
    /// <param name="pageSize">The page size the recovery used.</param>
    internal PageCheck(string inputPath, int pageSize)
    {
        _pageSize = pageSize;
        if (Files.DatabaseFiles.SizeOf(inputPath + "-wal") is not > 0)
        {
            // No -wal: the file holds every page. Nobody has it open (recovery checked the locks first), so reading it directly is safe.
            _file = Files.DatabaseFiles.OpenRawRead(inputPath, "Reading pages outside SQLite");
            return;
        }

        // Newer pages may be in the -wal: ask SQLite, which reads through it.
        var builder = new SqliteConnectionStringBuilder { DataSource = inputPath, Mode = SqliteOpenMode.ReadOnly, Pooling = false };
        _connection = new SqliteConnection(builder.ToString());
        _connection.Open();
        _read = _connection.CreateCommand();
        _read.CommandText = "SELECT data FROM sqlite_dbpage WHERE pgno = $pgno";
        _read.Parameters.Add("$pgno", SqliteType.Integer);
    }

    internal bool IsWellFormed(long pgno)
    {
        if (pgno < 2)
        {
            return false;
        }

        try
        {
            if (_file is not null)
            {
                var page = new byte[_pageSize];
                _file.Position = (pgno - 1) * _pageSize;
                return _file.ReadAtLeast(page, page.Length, throwOnEndOfStream: false) == page.Length && IsWellFormed(page);
            }

            _read!.Parameters[0].Value = pgno;
            return _read.ExecuteScalar() is byte[] data && data.Length == _pageSize && IsWellFormed(data);
        }
        catch (SqliteException disk) when (!Errors.SqliteErrors.IsDiskFault(disk))
        {
            return false; // SQLite cannot read the damaged input's pages: none can be vouched for
        }
    }

    internal static bool IsWellFormed(ReadOnlySpan<byte> a)
    {
        var n = a.Length;
        var type = a[0];
        if (type is not (0x02 or 0x05 or 0x0A or 0x0D))
        {
            return false;
        }

        int free = BinaryPrimitives.ReadUInt16BigEndian(a[1..]);
        int cells = BinaryPrimitives.ReadUInt16BigEndian(a[3..]);
        int content = BinaryPrimitives.ReadUInt16BigEndian(a[5..]);
        if (content == 0)
        {
            content = 65536;
        }

        int fragmented = a[7];
        if (content > n)
        {
            return false;
        }

        var used = new bool[n];
        used.AsSpan(0, content).Fill(true);
        if (free != 0 && free <= content)
        {
            return false;
        }

        while (free != 0)
        {
            if (free > n - 4)
            {
                return false;
            }

            int next = BinaryPrimitives.ReadUInt16BigEndian(a[free..]);
            int size = BinaryPrimitives.ReadUInt16BigEndian(a[(free + 2)..]);
            if (free + size > n || size < 4 || (next != 0 && next < free + size))
            {
                return false;
            }

            used.AsSpan(free, size).Fill(true);
            free = next;
        }

        var cellArray = type is 0x02 or 0x05 ? 12 : 8;
        if (cellArray + (2 * cells) > content)
        {
            return false;
        }

        for (var i = 0; i < cells; i++)
        {
            int offset = BinaryPrimitives.ReadUInt16BigEndian(a[(cellArray + (2 * i))..]);
            if (offset < content || offset > n - 4)
            {
                return false;
            }

            var length = type is 0x05 or 0x02 ? 4 : 0;
            length += Varint(a, offset + length, out var payload);
            if (type == 0x0D)
            {
                length += Varint(a, offset + length, out _);
            }

            if (type != 0x05)
            {
                long local = type == 0x0D ? n - 35 : (((n - 12) * 64 / 255) - 23);
                long min = ((n - 12) * 32 / 255) - 23;
                var k = min + ((payload - min) % (n - 4));
                length += (int)(payload < local ? payload : k <= local ? k + 4 : min + 4);
            }

            if (offset + length > n)
            {
                return false;
            }

            for (var b = offset; b < offset + length; b++)
            {
                if (used[b])
                {
                    return false;
                }

                used[b] = true;
            }
        }

        var unaccounted = 0;
        foreach (var flag in used)
        {
            unaccounted += flag ? 0 : 1;
        }

        return unaccounted == fragmented;
    }

    /// <summary>
    /// The cells of a malformed table-leaf page that cannot be trusted: those reaching outside the page
    /// or overlapping another cell (a flipped bit in a cell pointer makes SQLite decode a record from the
    /// middle of another one). Both cells of an overlap are suspect: which one is right cannot be known.
    /// </summary>
    internal static List<int> SuspectCells(ReadOnlySpan<byte> a)
    {
        var n = a.Length;
        var suspect = new List<int>();
        int cells = BinaryPrimitives.ReadUInt16BigEndian(a[3..]);
        int content = BinaryPrimitives.ReadUInt16BigEndian(a[5..]);
        content = content == 0 ? 65536 : content;
        if (8 + (2 * cells) > content && content <= n)
        {
            // A flipped cell count claims more pointers than fit before the content area: those past it are not pointers
            // (the sound cells' pointers must not be judged against an array end that runs into the records).
            var fitting = (content - 8) / 2;
            suspect.AddRange(Enumerable.Range(fitting, Math.Max(0, cells - fitting)));
            cells = fitting;
        }

        var cellArrayEnd = 8 + (2 * cells);
        var ranges = new List<(int Cell, int Start, int End)>();
        for (var i = 0; i < cells && 8 + (2 * i) + 1 < n; i++)
        {
            int offset = BinaryPrimitives.ReadUInt16BigEndian(a[(8 + (2 * i))..]);
            // Inside the pointer array no record can start.
            if (offset < cellArrayEnd || offset > n - 4)
            {
                suspect.Add(i);
                continue;
            }

            var length = Varint(a, offset, out var payload);
            length += Varint(a, offset + length, out _);
            long local = n - 35;
            long min = ((n - 12) * 32 / 255) - 23;
            var k = min + ((payload - min) % (n - 4));
            length += (int)Math.Min(n, payload < 0 ? n : payload < local ? payload : k <= local ? k + 4 : min + 4);
            if (offset + length > n)
            {
                suspect.Add(i);
                continue;
            }

            ranges.Add((i, offset, offset + length));
        }

        ranges.Sort((x, y) => x.Start.CompareTo(y.Start));
        for (var i = 1; i < ranges.Count; i++)
        {
            if (ranges[i].Start < ranges[i - 1].End)
            {
                // A record's header says exactly how long its body is. When one cell of the overlap agrees with
                // its own payload size and the other does not, the other is the damaged one (a flipped size
                // or pointer); otherwise which one is right cannot be known.
                var current = RecordConsistent(a, ranges[i].Start);
                var previous = RecordConsistent(a, ranges[i - 1].Start);
                if (!current || previous)
                {
                    suspect.Add(ranges[i].Cell);
                }

                if (!previous || current)
                {
                    suspect.Add(ranges[i - 1].Cell);
                }
            }
        }

        // Records are packed end to end up to the page end (gaps of at most 3 bytes are fragments; larger
        // free space is a freeblock, whose start is an anchor too). A cell touching nothing on either side
        // points into the middle of something else: its pointer was damaged.
        var anchors = FreeblockStarts(a);
        anchors.Add(n);
        var ends = new HashSet<int>(ranges.Select(r => r.End));
        var starts = new HashSet<int>(ranges.Select(r => r.Start));
        foreach (var (cell, start, end) in ranges)
        {
            var before = ranges.Count(r => r.End <= start && start - r.End <= 3) > 0;
            var after = anchors.Contains(end) || Enumerable.Range(end, 4).Any(starts.Contains) || Enumerable.Range(end, 4).Any(anchors.Contains);
            if (!before && !after && ranges.Count > 1)
            {
                suspect.Add(cell);
            }
        }

        return suspect.Distinct().ToList();
    }

    /// <summary>
    /// Whether the table-leaf cell at <paramref name="offset"/> agrees with itself: its record header fits in
    /// the page, every serial type is legal, and header plus the sizes the serial types give equal the
    /// cell's payload size (https://www.sqlite.org/fileformat.html#record_format). A flipped bit in the
    /// payload size, the header or the cell pointer almost never leaves all three in agreement.
    /// </summary>
    internal static bool RecordConsistent(ReadOnlySpan<byte> a, int offset) =>
        ReadRecord(a, offset, out var payload, out _, out var headerSize, out var body) && headerSize + body == payload;

    /// <summary>
    /// Reads the table-leaf cell at <paramref name="offset"/>: its payload size, where its record header starts, the
    /// header's size and the body size its serial types give. False when the header does not fit the page, a serial type
    /// is illegal, or the serial types overrun the header.
    /// </summary>
    private static bool ReadRecord(ReadOnlySpan<byte> a, int offset, out long payload, out int headerStart, out long headerSize, out long body)
    {
        var n = a.Length;
        (payload, headerStart, headerSize, body) = (0, 0, 0, 0);
        if (offset < 0 || offset > n - 4)
        {
            return false;
        }

        var p = offset + Varint(a, offset, out payload);
        p += Varint(a, p, out _);
        headerStart = p;
        if (p >= n)
        {
            return false;
        }

        p += Varint(a, p, out headerSize);
        if (headerSize < 1 || headerSize > payload || headerStart + headerSize > n)
        {
            return false;
        }

        while (p < headerStart + headerSize)
        {
            p += Varint(a, p, out var type);
            if (type is 10 or 11 || type < 0)
            {
                return false;
            }

            body += SizeOf(type);
        }

        return p == headerStart + headerSize;
    }

    /// <summary>
    /// Whether the table-leaf cell at <paramref name="offset"/> is a sound record whose payload size alone was hit by
    /// one flipped bit: its header is legal, the payload size is larger than header plus body by exactly one power of
    /// two, the record still lies wholly in the part of the payload SQLite keeps on the page (so the whole record
    /// was read, whatever the damaged size says about overflow), and the record, by its own length, ends where the next
    /// cell, a freeblock or the page end begins (records are packed end to end). A pointer into the middle of another
    /// record almost never meets all of these.
    /// </summary>
    internal static bool PayloadSizeFlipped(ReadOnlySpan<byte> a, int offset)
    {
        var n = a.Length;
        if (!ReadRecord(a, offset, out var payload, out var headerStart, out var headerSize, out var body))
        {
            return false;
        }

        var length = headerSize + body;
        var difference = payload ^ length;
        if (payload <= length || (difference & (difference - 1)) != 0 || length > LocalSize(n, payload))
        {
            return false;
        }

        var end = headerStart + length;
        var anchors = FreeblockStarts(a);
        anchors.Add(n);
        int cells = BinaryPrimitives.ReadUInt16BigEndian(a[3..]);
        for (var i = 0; i < cells && 8 + (2 * i) + 1 < n; i++)
        {
            anchors.Add(BinaryPrimitives.ReadUInt16BigEndian(a[(8 + (2 * i))..]));
        }

        return Enumerable.Range((int)Math.Min(end, n + 1), 4).Any(anchors.Contains);
    }

    /// <summary>The bytes of a table-leaf payload SQLite keeps on the page (https://www.sqlite.org/fileformat.html#cell_payload_overflow_pages).</summary>
    private static long LocalSize(int pageSize, long payload)
    {
        long max = pageSize - 35;
        long min = ((pageSize - 12) * 32 / 255) - 23;
        var k = min + ((payload - min) % (pageSize - 4));
        return payload <= max ? payload : k <= max ? k : min;
    }

    private static long SizeOf(long serialType) => serialType switch
    {
        < 5 => serialType,
        5 => 6,
        6 or 7 => 8,
        < 12 => 0,
        _ => (serialType - 12) / 2,
    };

    private static HashSet<int> FreeblockStarts(ReadOnlySpan<byte> a)
    {
        var starts = new HashSet<int>();
        int free = BinaryPrimitives.ReadUInt16BigEndian(a[1..]);
        while (free != 0 && free <= a.Length - 4 && starts.Add(free))
        {
            free = BinaryPrimitives.ReadUInt16BigEndian(a[free..]);
        }

        return starts;
    }

    /// <summary>The pages of the input, for a scan over all of them.</summary>
    internal long PageCount => _file is not null ? _file.Length / _pageSize : 0;

    /// <summary>The bytes of one page, or null when it cannot be read.</summary>
    internal byte[]? Read(long pgno)
    {
        if (_file is null)
        {
            return null;
        }

        var page = new byte[_pageSize];
        _file.Position = (pgno - 1) * _pageSize;
        return _file.ReadAtLeast(page, page.Length, throwOnEndOfStream: false) == page.Length ? page : null;
    }

    private static int Varint(ReadOnlySpan<byte> a, int offset, out long value)
    {
        value = 0;
        for (var i = 0; i < 9 && offset + i < a.Length; i++)
        {
            var b = a[offset + i];
            if (i == 8)
            {
                value = (value << 8) | b;
                return 9;
            }

            value = (value << 7) | (long)(b & 0x7F);
            if ((b & 0x80) == 0)
            {
                return i + 1;
            }
        }

        return 9;
    }

    public void Dispose()
    {
        _file?.Dispose();
        _read?.Dispose();
        _connection?.Dispose();
    }
}
