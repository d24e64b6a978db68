using System.Buffers.Binary;
using Walden.Files;

namespace Walden.Recovery;

/// <summary>
/// The 100-byte header of a database file, read directly. SQLite cannot be asked here: a damaged
/// header is exactly what makes it refuse the file (SQLITE_NOTADB). Reading it with a FileStream is
/// safe only while this process has no SQLite connection on the file (closing any descriptor would
/// drop this process's POSIX locks, sqlite.org/howtocorrupt.html 2.2), so callers read it before they
/// open one, and <see cref="DatabaseFiles.OpenRawRead"/> refuses while any descriptor of this process (an SQLite
/// connection of Walden's or of the application) is on the file. Other processes' locks are not affected.
/// </summary>
internal sealed record InputHeader(bool MagicIntact, int PageSizeField, long FileLength, uint PageCountField, uint FirstFreelistTrunk, uint FreelistCount, bool PageCountValid = false, bool WalMode = false, DatabaseSettings? Settings = null)
{
    private static readonly byte[] Magic = "SQLite format 3\0"u8.ToArray();

    /// <summary>The page size the header declares, or 0 when the field holds no legal page size.</summary>
    internal int PageSize => IsLegalPageSize(PageSizeField) ? PageSizeField : 0;

    internal static bool IsLegalPageSize(int size) => size is >= 512 and <= 65536 && (size & (size - 1)) == 0;

    internal static InputHeader Read(string path)
    {
        var bytes = new byte[100];
        int read;
        long length;
        using (var stream = DatabaseFiles.OpenRawRead(path, "Reading the database header outside SQLite"))
        {
            length = stream.Length;
            read = stream.ReadAtLeast(bytes, bytes.Length, throwOnEndOfStream: false);
        }

        return Parse(read < 100 ? [] : bytes, length);
    }

    /// <summary>The header in the first 100 bytes of <paramref name="bytes"/> (page 1 as SQLite or the file gives it).</summary>
    internal static InputHeader Parse(byte[] bytes, long length)
    {
        if (bytes.Length < 100)
        {
            return new InputHeader(false, 0, length, 0, 0, 0);
        }

        int pageSize = BinaryPrimitives.ReadUInt16BigEndian(bytes.AsSpan(16));
        if (pageSize == 1)
        {
            pageSize = 65536;
        }

        return new InputHeader(
            bytes.AsSpan(0, 16).SequenceEqual(Magic),
            pageSize,
            length,
            BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(28)),
            BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(32)),
            BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(36)),
            // The in-header page count is valid only when "version-valid-for" equals the change counter (fileformat.html 1.3.7).
            BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(28)) != 0 && bytes.AsSpan(92, 4).SequenceEqual(bytes.AsSpan(24, 4)),
            bytes[18] == 2 && bytes[19] == 2, // file format versions 2: a WAL database (fileformat.html 1.3.3)
            SettingsOf(bytes, pageSize));
    }

    /// <summary>
    /// The persistent settings an intact header holds (fileformat.html 1.3), for when SQLite cannot report them because page 1's
    /// body (the schema) is damaged: the header alone says WAL, the page size, auto_vacuum, the encoding and the two ids.
    /// </summary>
    private static DatabaseSettings? SettingsOf(byte[] bytes, int pageSize)
    {
        var encoding = BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(56)) switch
        {
            1 => "UTF-8",
            2 => "UTF-16le",
            3 => "UTF-16be",
            _ => null,
        };
        if (!bytes.AsSpan(0, 16).SequenceEqual(Magic) || !IsLegalPageSize(pageSize) || encoding is null)
        {
            return null;
        }

        var autoVacuum = BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(52)) == 0 ? 0
            : BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(64)) != 0 ? 2 : 1;
        return new DatabaseSettings(
            bytes[18] == 2 && bytes[19] == 2 ? "wal" : "delete",
            pageSize,
            autoVacuum,
            BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(60)),
            BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(68)),
            encoding,
            bytes[20]);
    }

    /// <summary>
    /// Whether the file's freelist can be trusted: the header is intact, no -wal holds newer pages, and
    /// walking the trunk pages visits exactly the number of free pages the header declares, all inside
    /// the file. Only then are pages outside every tree known to be orphaned live pages rather than
    /// freed pages holding deleted rows. Same reading rule as <see cref="Read"/>: not while open in SQLite here.
    /// </summary>
    internal bool FreelistIntact(string path)
    {
        if (!MagicIntact || PageSize == 0 || DatabaseFiles.SizeOf(path + "-wal") is > 0)
        {
            return false;
        }

        using var stream = DatabaseFiles.OpenRawRead(path, "Reading the freelist outside SQLite");
        return FreelistIntact(FileLength / PageSize, pgno =>
        {
            var page = new byte[PageSize];
            stream.Position = (pgno - 1) * PageSize;
            return stream.ReadAtLeast(page, page.Length, throwOnEndOfStream: false) == page.Length ? page : null;
        });
    }

    /// <summary>
    /// Walks the freelist of this header over pages read by <paramref name="readPage"/> (from the file, or
    /// through SQLite when newer pages are in a -wal): true when it visits exactly the number of free pages
    /// the header declares, all inside the database's <paramref name="pages"/>.
    /// </summary>
    internal bool FreelistIntact(long pages, Func<long, byte[]?> readPage)
    {
        if (!MagicIntact || PageSize == 0)
        {
            return false;
        }

        long visited = 0;
        var trunk = (long)FirstFreelistTrunk;
        var seen = new HashSet<long>();
        while (trunk != 0)
        {
            if (trunk < 2 || trunk > pages || !seen.Add(trunk) || visited > FreelistCount || readPage(trunk) is not { } page)
            {
                return false;
            }

            var next = BinaryPrimitives.ReadUInt32BigEndian(page);
            var leaves = BinaryPrimitives.ReadUInt32BigEndian(page.AsSpan(4));
            if (leaves > (PageSize / 4) - 2)
            {
                return false;
            }

            for (var i = 0; i < leaves; i++)
            {
                var leaf = BinaryPrimitives.ReadUInt32BigEndian(page.AsSpan(8 + (i * 4)));
                if (leaf < 2 || leaf > pages)
                {
                    return false;
                }
            }

            visited += 1 + leaves;
            trunk = next;
        }

        return visited == FreelistCount;
    }

    /// <summary>
    /// Rewrites the damaged header of a COPY of the file (never the original) so SQLite accepts it: the
    /// magic string, the candidate page size (bytes 16-17), file format versions (rollback, or WAL when
    /// a -wal was copied along), no reserved bytes, the fixed payload fractions, an empty freelist
    /// (a garbage freelist pointer would make the extension skip live pages as "free") and the text encoding
    /// (bytes 56-59: 1 UTF-8, 2 UTF-16le, 3 UTF-16be; a zeroed header says none, and SQLite then reads every text as UTF-8).
    /// </summary>
    internal static void PatchCopy(string copyPath, int pageSize, bool wal, string encoding = "UTF-8")
    {
        var header = new byte[60];
        using var stream = new FileStream(copyPath, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
        stream.ReadExactly(header);
        Magic.CopyTo(header, 0);
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(16), (ushort)(pageSize == 65536 ? 1 : pageSize));
        header[18] = header[19] = (byte)(wal ? 2 : 1);
        header[20] = 0;
        header[21] = 64;
        header[22] = 32;
        header[23] = 32;
        header.AsSpan(32, 8).Clear();
        BinaryPrimitives.WriteUInt32BigEndian(header.AsSpan(56), encoding switch { "UTF-16le" => 2u, "UTF-16be" => 3u, _ => 1u });
        stream.Position = 0;
        stream.Write(header);
    }

    /// <summary>The text encodings SQLite knows, as PRAGMA encoding names them.</summary>
    internal static readonly string[] Encodings = ["UTF-8", "UTF-16le", "UTF-16be"];

    /// <summary>
    /// The text encodings to try when repairing the header of copies of <paramref name="path"/>, told from the schema's SQL on page 1
    /// (SQLite stores every schema statement starting with the keyword CREATE, in the database's encoding; page 1 is at most 64 KiB):
    /// UTF-8 when it is written so; both UTF-16 byte orders when it is UTF-16, the likelier first; every encoding, UTF-8 first, when
    /// no such text is found. Both byte orders are tried because a UTF-16be text read one byte on looks like UTF-16le: the attempts
    /// decide by what they recover, and a tie goes to the first. Same reading rule as <see cref="Read"/>: not while open in SQLite here.
    /// </summary>
    internal static IReadOnlyList<string> EncodingsOf(string path)
    {
        var bytes = new byte[65536];
        int read;
        using (var stream = DatabaseFiles.OpenRawRead(path, "Reading the database's first page outside SQLite"))
        {
            read = stream.ReadAtLeast(bytes, bytes.Length, throwOnEndOfStream: false);
        }

        var page = bytes.AsSpan(0, read);
        if (page.IndexOf("CREATE "u8) >= 0)
        {
            return page.IndexOf(Utf16Le) >= 0 ? Encodings : ["UTF-8"];
        }

        // Each UTF-16le match with no UTF-16be match one byte before it cannot be a shifted UTF-16be text: a table's or an index's
        // statement follows its root page number, whose last byte is seldom zero. Every match of a UTF-16be text has one.
        var little = false;
        var any = false;
        for (var at = page.IndexOf(Utf16Le); at >= 0; at = Next(page, at))
        {
            any = true;
            little |= at == 0 || !page[(at - 1)..].StartsWith(Utf16Be);
        }

        any |= page.IndexOf(Utf16Be) >= 0;
        return !any ? Encodings : little ? ["UTF-16le", "UTF-16be"] : ["UTF-16be", "UTF-16le"];

        static int Next(ReadOnlySpan<byte> page, int at) =>
            page[(at + 1)..].IndexOf(Utf16Le) is var next and >= 0 ? at + 1 + next : -1;
    }

    private static readonly byte[] Utf16Le = System.Text.Encoding.Unicode.GetBytes("CREATE ");
    private static readonly byte[] Utf16Be = System.Text.Encoding.BigEndianUnicode.GetBytes("CREATE ");
}
