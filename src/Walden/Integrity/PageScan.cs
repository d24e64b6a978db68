using System.Buffers.Binary;

namespace Walden.Integrity;

/// <summary>
/// Whether the start of a file without the 'SQLite format 3' header holds any SQLite b-tree page, at any legal page size. A
/// database whose header was damaged still has them (page 1's own b-tree header at offset 100, a table's pages after it); an
/// encrypted database (SQLCipher, SEE) or another kind of file whose length happens to be a whole number of 512-byte blocks has
/// none, and no recovery can read anything from it. The test is SQLite's own page-header rules (fileformat.html 1.6): a page
/// type flag, a cell count whose pointer array fits before the cell content area, every cell pointer inside that area, a
/// fragmented-byte count of at most 60. Random bytes pass them for a page with a probability far below one in a million.
/// </summary>
internal static class PageScan
{
    /// <summary>How much of the file's start is scanned: 2,048 pages of 512 bytes, 16 of 64 KiB.</summary>
    internal const int Limit = 1 << 20;

    internal static bool AnyBtreePage(ReadOnlySpan<byte> start)
    {
        for (var size = 512; size <= 65536; size *= 2)
        {
            for (var offset = 0; offset + size <= start.Length; offset += size)
            {
                if (IsBtreePage(start.Slice(offset, size), offset == 0 ? 100 : 0))
                {
                    return true;
                }
            }
        }

        return false;
    }

    private static bool IsBtreePage(ReadOnlySpan<byte> page, int at)
    {
        var size = page.Length;
        var flag = page[at];
        if (flag is not (2 or 5 or 10 or 13))
        {
            return false;
        }

        var headerEnd = at + (flag is 2 or 5 ? 12 : 8);
        int firstFreeblock = BinaryPrimitives.ReadUInt16BigEndian(page[(at + 1)..]);
        int cells = BinaryPrimitives.ReadUInt16BigEndian(page[(at + 3)..]);
        int content = BinaryPrimitives.ReadUInt16BigEndian(page[(at + 5)..]);
        content = content == 0 ? 65536 : content;
        if (page[at + 7] > 60 || (firstFreeblock != 0 && (firstFreeblock < headerEnd || firstFreeblock > size - 4)))
        {
            return false;
        }

        if (cells == 0)
        {
            return content == size && firstFreeblock == 0; // an empty page: its content area starts at its end
        }

        if (headerEnd + (2 * cells) > content || content > size)
        {
            return false;
        }

        for (var i = 0; i < cells; i++)
        {
            int pointer = BinaryPrimitives.ReadUInt16BigEndian(page[(headerEnd + (2 * i))..]);
            if (pointer < content || pointer > size - 4)
            {
                return false;
            }
        }

        return true;
    }
}
