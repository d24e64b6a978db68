using System.Buffers.Binary;
using System.IO.Hashing;
using Microsoft.Win32.SafeHandles;

namespace Walden.Archiving;

/// <summary>
/// What every destination holds, page by page: the XXH128 digest of each page of the database as a restore of the
/// archive through transaction <see cref="Txid"/> of base <see cref="BaseId"/> would return it, kept beside the database
/// (<c>&lt;db&gt;-archive-staging/pages</c>) so that the next open can continue that chain instead of taking a new base
/// snapshot (<see cref="Archiver"/>, "Continuing at open"): it reads the database, compares each page's digest with this
/// map, and ships the pages that differ as one transaction. A base snapshot at every open made the Async bound depend on
/// the database's size: the writes of the first moments after an open were archived only once the whole file was copied,
/// compressed and stored.
/// </summary>
/// <remarks>
/// The file is updated in place (the changed entries, then the header) after each round every destination stored, with
/// no fsync: it is an optimisation, never a source of truth; a file behind the destinations makes the open take a base. Its header carries an XOR over every entry's mixed digest,
/// so a file cut short by a crash or a power cut between the entries and the header, or torn, fails the check at open
/// and the open takes a base as before. A file that is whole but older than the archive (a power cut) names an older
/// transaction than the destinations' last one, and is not used either. What a continued chain depends on is therefore
/// only that the map describes the destinations' content at the transaction it names; the open checks the chain value
/// of that transaction in every destination too. Written by hand: no library keeps a persistent digest per page.
/// </remarks>
internal sealed class PageMap
{
    /// <summary>The file's name in the staging folder.</summary>
    internal const string FileName = "pages";

    private const int HeaderBytes = 128;
    private const int EntryBytes = 16;
    private static readonly byte[] Magic = "WLDNPGM1"u8.ToArray();
    private static readonly byte[] JournalMagic = "WLDNPGJ1"u8.ToArray();

    /// <summary>The journal of an update in place, beside the map (<see cref="WriteJournal"/>).</summary>
    internal const string JournalSuffix = ".journal";

    private UInt128[] _digests;
    private readonly SortedSet<uint> _dirty = [];
    private bool _rewrite = true;

    private PageMap(int pageSize, UInt128[] digests, uint count, UInt128 sum)
    {
        PageSize = pageSize;
        _digests = digests;
        Count = count;
        Sum = sum;
    }

    internal int PageSize { get; }

    /// <summary>Pages in the database at <see cref="Txid"/>.</summary>
    internal uint Count { get; private set; }

    internal long BaseId { get; private set; }

    internal long Txid { get; private set; }

    /// <summary>The chain value after <see cref="Txid"/> (the base's own when it is the base's transaction).</summary>
    internal byte[] Chain { get; private set; } = [];

    /// <summary>The run (one open of the database) that last wrote the map: 16 random bytes, also in its resume claims.</summary>
    internal byte[] Run { get; set; } = new byte[16];

    /// <summary>XOR of <see cref="Mix"/> over every page: checks the file's entries against its header.</summary>
    private UInt128 Sum { get; set; }

    /// <summary>
    /// The digest of a page whose content is not known (written by a round stored after the map's transaction, see
    /// <see cref="PagesInFlight"/>): no page's XXH128 is expected to equal it, so the next comparison ships the page.
    /// </summary>
    internal static readonly UInt128 Unknown = UInt128.MaxValue;

    /// <summary>An empty map for a database of <paramref name="pageSize"/>-byte pages.</summary>
    internal static PageMap Empty(int pageSize) => new(pageSize, [], 0, UInt128.Zero);

    /// <summary>The digest of page <paramref name="page"/> (1-based), or zero past the end.</summary>
    internal UInt128 Digest(uint page) => page >= 1 && page <= Count ? _digests[page - 1] : UInt128.Zero;

    internal static UInt128 DigestOf(ReadOnlySpan<byte> image) => XxHash128.HashToUInt128(image);

    /// <summary>Sets page <paramref name="page"/> (1-based) to an image with this digest; the map grows to hold it.</summary>
    internal void Set(uint page, UInt128 digest)
    {
        if (page > Count)
        {
            Resize(page);
        }

        Sum ^= Mix(page, _digests[page - 1]) ^ Mix(page, digest);
        _digests[page - 1] = digest;
        if (!_rewrite)
        {
            _dirty.Add(page);
        }
    }

    /// <summary>The database now has <paramref name="pages"/> pages: entries past it are dropped (new ones are set as written).</summary>
    internal void Resize(uint pages)
    {
        if (pages < Count)
        {
            for (var page = pages + 1; page <= Count; page++)
            {
                Sum ^= Mix(page, _digests[page - 1]);
                _digests[page - 1] = UInt128.Zero;
            }

            _rewrite = true;
        }
        else if (pages > Count)
        {
            if (pages > _digests.Length)
            {
                Array.Resize(ref _digests, (int)Math.Max(pages, Math.Min((long)_digests.Length * 2, int.MaxValue / EntryBytes)));
            }

            for (var page = Count + 1; page <= pages; page++)
            {
                Sum ^= Mix(page, UInt128.Zero); // an entry not yet set counts as the zero digest
            }

            _rewrite = true;
        }

        Count = pages;
    }

    /// <summary>The transaction the map now describes.</summary>
    internal void At(long baseId, long txid, byte[] chain)
    {
        BaseId = baseId;
        Txid = txid;
        Chain = chain;
    }

    internal PageMap Copy()
    {
        var copy = new PageMap(PageSize, (UInt128[])_digests.Clone(), Count, Sum) { Run = Run };
        copy.At(BaseId, Txid, Chain);
        return copy;
    }

    /// <summary>
    /// Writes what changed since the last save (every entry after a resize or the first time, to a new file put in place
    /// by rename), then the header. No fsync (see the remarks on the class).
    /// </summary>
    /// <exception cref="IOException">The file cannot be written.</exception>
    internal void Save(string path)
    {
        if (_rewrite || !File.Exists(path))
        {
            var temporary = path + ".new";
            using (var handle = File.OpenHandle(temporary, FileMode.Create, FileAccess.Write))
            {
                var entries = new byte[Math.Min(Count, 4096u) * EntryBytes];
                for (uint start = 0; start < Count; start += 4096)
                {
                    var n = (int)Math.Min(4096u, Count - start);
                    for (var i = 0; i < n; i++)
                    {
                        BinaryPrimitives.WriteUInt128LittleEndian(entries.AsSpan(i * EntryBytes), _digests[start + i]);
                    }

                    RandomAccess.Write(handle, entries.AsSpan(0, n * EntryBytes), HeaderBytes + ((long)start * EntryBytes));
                }

                RandomAccess.Write(handle, Header(), 0);
            }

            File.Move(temporary, path, overwrite: true);
            _rewrite = false;
            _dirty.Clear();
            return;
        }

        var header = Header();
        WriteJournal(path + JournalSuffix, header);
        using (var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Write))
        {
            WriteDirty(handle);
            RandomAccess.Write(handle, header, 0);
        }

        _dirty.Clear();
    }

    /// <summary>
    /// Before an update in place: the new header and the dirty entries in one write, with their own XXH128, so that an
    /// update cut short by a kill (some entries written, not the header: `walden torture --archive async`, seed
    /// 1345920932, cycle 113, took a whole base at the next open for it) is completed at the next load (<see cref="TryLoad"/>).
    /// </summary>
    private void WriteJournal(string path, byte[] header)
    {
        var bytes = new byte[16 + HeaderBytes + (_dirty.Count * (4 + EntryBytes)) + 16];
        var span = bytes.AsSpan();
        JournalMagic.CopyTo(span);
        BinaryPrimitives.WriteInt32LittleEndian(span[8..], _dirty.Count);
        header.CopyTo(span[16..]);
        var offset = 16 + HeaderBytes;
        foreach (var page in _dirty)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(span[offset..], page);
            BinaryPrimitives.WriteUInt128LittleEndian(span[(offset + 4)..], _digests[page - 1]);
            offset += 4 + EntryBytes;
        }

        ChecksummedFile.Write(path, bytes);
    }

    /// <summary>Applies a whole journal (<see cref="WriteJournal"/>) to a map file's bytes; false when there is none or it does not check out.</summary>
    private static bool ReplayJournal(string path, byte[] map)
    {
        if (map.Length < HeaderBytes || !File.Exists(path))
        {
            return false; // a map cut shorter than its header was not being updated in place
        }

        var bytes = File.ReadAllBytes(path);
        var span = bytes.AsSpan();
        if (bytes.Length < 16 + HeaderBytes + 16 || !span[..8].SequenceEqual(JournalMagic))
        {
            return false;
        }

        var count = BinaryPrimitives.ReadInt32LittleEndian(span[8..]);
        var length = 16 + HeaderBytes + ((long)count * (4 + EntryBytes));
        if (count < 0 || !ChecksummedFile.Checks(span, length))
        {
            return false;
        }

        for (var i = 0; i < count; i++)
        {
            var offset = 16 + HeaderBytes + (i * (4 + EntryBytes));
            var at = HeaderBytes + ((long)(BinaryPrimitives.ReadUInt32LittleEndian(span[offset..]) - 1) * EntryBytes);
            if (at + EntryBytes > map.Length)
            {
                return false;
            }

            span.Slice(offset + 4, EntryBytes).CopyTo(map.AsSpan((int)at));
        }

        span.Slice(16, HeaderBytes).CopyTo(map);
        return true;
    }

    /// <summary>Writes the dirty entries, runs of neighbouring pages in one write each.</summary>
    private void WriteDirty(SafeFileHandle handle)
    {
        var buffer = new byte[64 * EntryBytes];
        uint runStart = 0;
        var runLength = 0;
        foreach (var page in _dirty)
        {
            if (runLength > 0 && (page != runStart + (uint)runLength || runLength == 64))
            {
                RandomAccess.Write(handle, buffer.AsSpan(0, runLength * EntryBytes), HeaderBytes + ((long)(runStart - 1) * EntryBytes));
                runLength = 0;
            }

            if (runLength == 0)
            {
                runStart = page;
            }

            BinaryPrimitives.WriteUInt128LittleEndian(buffer.AsSpan(runLength * EntryBytes), _digests[page - 1]);
            runLength++;
        }

        if (runLength > 0)
        {
            RandomAccess.Write(handle, buffer.AsSpan(0, runLength * EntryBytes), HeaderBytes + ((long)(runStart - 1) * EntryBytes));
        }
    }

    private byte[] Header()
    {
        var header = new byte[HeaderBytes];
        var span = header.AsSpan();
        Magic.CopyTo(span);
        BinaryPrimitives.WriteInt32LittleEndian(span[8..], PageSize);
        BinaryPrimitives.WriteUInt32LittleEndian(span[12..], Count);
        BinaryPrimitives.WriteInt64LittleEndian(span[16..], BaseId);
        BinaryPrimitives.WriteInt64LittleEndian(span[24..], Txid);
        if (Chain.Length != 32)
        {
            throw new InvalidOperationException("the map has no chain value to save");
        }

        Chain.CopyTo(span[32..]);
        BinaryPrimitives.WriteUInt128LittleEndian(span[64..], Sum);
        Run.CopyTo(span[80..]);
        BinaryPrimitives.WriteUInt128LittleEndian(span[112..], XxHash128.HashToUInt128(span[..112]));
        return header;
    }

    /// <summary>Reads a saved map; null (with the reason) when there is none or it does not check out.</summary>
    internal static PageMap? TryLoad(string path, out string why)
    {
        try
        {
            if (!File.Exists(path))
            {
                why = "no page map from an earlier run";
                return null;
            }

            var bytes = File.ReadAllBytes(path);
            if (Parse(bytes, out why) is { } map)
            {
                return map;
            }

            // An update in place cut short: its journal, when whole, completes it (and the sums must then agree). The file
            // itself stays torn until the next save, which therefore rewrites it whole: an update in place writes only its own
            // entries, over a file whose torn ones only this load had mended, and the load after it, with the next journal,
            // found the entries not matching and took a whole base (`walden torture --archive async`, seed 1386912576,
            // cycle 52).
            if (ReplayJournal(path + JournalSuffix, bytes) && Parse(bytes, out _) is { } replayed)
            {
                replayed._rewrite = true;
                return replayed;
            }

            return null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            why = $"the page map cannot be read: {ex.Message}";
            return null;
        }
    }

    /// <summary>A map from a file's bytes; null (with the reason) when they do not check out.</summary>
    private static PageMap? Parse(byte[] bytes, out string why)
    {
        var span = bytes.AsSpan();
        if (bytes.Length < HeaderBytes || !span[..8].SequenceEqual(Magic)
            || BinaryPrimitives.ReadUInt128LittleEndian(span[112..]) != XxHash128.HashToUInt128(span[..112]))
        {
            why = "the page map's header does not check out";
            return null;
        }

        var pageSize = BinaryPrimitives.ReadInt32LittleEndian(span[8..]);
        var count = BinaryPrimitives.ReadUInt32LittleEndian(span[12..]);
        if (pageSize is < 512 or > 65536 || bytes.Length < HeaderBytes + ((long)count * EntryBytes))
        {
            why = "the page map is cut short";
            return null;
        }

        var digests = new UInt128[count];
        var sum = UInt128.Zero;
        for (uint page = 1; page <= count; page++)
        {
            digests[page - 1] = BinaryPrimitives.ReadUInt128LittleEndian(span[(HeaderBytes + (int)((page - 1) * EntryBytes))..]);
            sum ^= Mix(page, digests[page - 1]);
        }

        if (sum != BinaryPrimitives.ReadUInt128LittleEndian(span[64..]))
        {
            why = "the page map's entries do not match its header (a crash while it was written)";
            return null;
        }

        var map = new PageMap(pageSize, digests, count, sum) { _rewrite = false, Run = span.Slice(80, 16).ToArray() };
        map.At(BinaryPrimitives.ReadInt64LittleEndian(span[16..]), BinaryPrimitives.ReadInt64LittleEndian(span[24..]), span.Slice(32, 32).ToArray());
        why = string.Empty;
        return map;
    }

    /// <summary>Removes the file (best effort): nothing may continue from it.</summary>
    internal static void Forget(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
        }
    }

    private static UInt128 Mix(uint page, UInt128 digest)
    {
        Span<byte> input = stackalloc byte[20];
        BinaryPrimitives.WriteUInt32LittleEndian(input, page);
        BinaryPrimitives.WriteUInt128LittleEndian(input[4..], digest);
        return XxHash128.HashToUInt128(input);
    }
}
