using System.Buffers.Binary;

namespace Walden.Archiving;

/// <summary>
/// The pages the rounds being stored after the page map's transaction write, and where those rounds end, saved beside
/// the map (<c>&lt;db&gt;-archive-staging/pages-in-flight</c>) before each store. The map follows what every destination
/// holds, so it is saved after a round is stored: a crash between the two left destinations ahead of the map, and the
/// next open took a whole base, during which the Async bound did not hold (<c>walden torture --archive async</c>, seeds
/// 1821932762 and 2095097344). With this file the open still continues: every page a round after the map wrote is shipped
/// again as it is now, beside the pages whose digest differs from the map (<see cref="Archiver"/>, "Continuing at open").
/// </summary>
/// <remarks>
/// Why that is exact: the destinations end at transaction E after the map's M; a page not written in (M, E] is the same
/// at E as at M, and a page whose digest equals the map's is the same now as at M; every other page is shipped as it is
/// now. It does not depend on reading the stored rounds back. Written in one write, with no fsync: like the map, an
/// optimisation; a file that is missing, torn (its XXH128 fails), for another map transaction, or that does not name the
/// destinations' end with their chain value makes the open take a base. An older file for the same map transaction that
/// names that end covers every round up to it, since the pages only grow while the map stays. Written by hand: no
/// library keeps this.
/// </remarks>
internal sealed class PagesInFlight
{
    /// <summary>The file's name in the staging folder.</summary>
    internal const string FileName = "pages-in-flight";

    /// <summary>Round ends kept; older ones are dropped (a destination that far behind the others makes the open take a base anyway).</summary>
    private const int MaxEnds = 1024;

    /// <summary>Side bases kept; older ones are dropped (the open then takes a base, as before they were noted at all).</summary>
    private const int MaxSideBases = 16;

    private const int HeaderBytes = 80;
    private const int EndBytes = 8 + 32;
    private static readonly byte[] MagicV1 = "WLDNPIF1"u8.ToArray(); // one side base id at 72, no list after the pages
    private static readonly byte[] Magic = "WLDNPIF2"u8.ToArray(); // the side bases' count at 72, their ids after the pages

    internal PagesInFlight(long baseId, long from, byte[] fromChain)
    {
        BaseId = baseId;
        From = from;
        FromChain = fromChain;
        Covered = from;
    }

    internal long BaseId { get; }

    /// <summary>The page map's transaction: the rounds after it are described here.</summary>
    internal long From { get; }

    /// <summary>The chain value after <see cref="From"/> (the map's).</summary>
    internal byte[] FromChain { get; }

    /// <summary>The last transaction whose pages are in <see cref="Pages"/>.</summary>
    internal long Covered { get; set; }

    /// <summary>Where a round handed to a destination ends: its last transaction and the chain value after it.</summary>
    internal SortedDictionary<long, byte[]> Ends { get; } = [];

    /// <summary>
    /// The side bases of <see cref="BaseId"/>'s chain this database took, each noted before it is stored, oldest first: a
    /// crash after a side base's store and before the switch to it leaves it in the destinations with nothing after it,
    /// and the open continues the older chain beside it rather than take a base (Archiver.EndOf). All of them are kept, not
    /// only the last: the run that continues beside one stores rounds (and may take another side base) before the next
    /// crash, and an open that then knew only the newest note refused the older side base as another copy's and took a
    /// whole base (<c>walden torture --archive async</c>, seed 919578382, cycle 150).
    /// </summary>
    internal List<long> SideBaseIds { get; } = [];

    /// <summary>Notes a side base (see <see cref="SideBaseIds"/>), dropping the oldest beyond <see cref="MaxSideBases"/>.</summary>
    internal void NoteSideBase(long id)
    {
        if (id > 0 && !SideBaseIds.Contains(id))
        {
            SideBaseIds.Add(id);
            if (SideBaseIds.Count > MaxSideBases)
            {
                SideBaseIds.RemoveAt(0);
            }
        }
    }

    /// <summary>The fewest pages the database had at <see cref="From"/> or after any transaction up to <see cref="Covered"/>.</summary>
    internal uint MinPages { get; set; }

    /// <summary>Every page written by a transaction in (<see cref="From"/>, <see cref="Covered"/>].</summary>
    internal HashSet<uint> Pages { get; } = [];

    /// <summary>Adds a round's end, dropping the oldest beyond <see cref="MaxEnds"/>.</summary>
    internal void AddEnd(long txid, byte[] chain)
    {
        Ends[txid] = chain;
        while (Ends.Count > MaxEnds)
        {
            Ends.Remove(Ends.Keys.First());
        }
    }

    /// <summary>Writes the file in one write (no fsync: see the remarks).</summary>
    /// <exception cref="IOException">The file cannot be written.</exception>
    internal void Save(string path)
    {
        var length = HeaderBytes + (Ends.Count * EndBytes) + (Pages.Count * 4) + (SideBaseIds.Count * 8) + 16;
        var bytes = new byte[length];
        var span = bytes.AsSpan();
        Magic.CopyTo(span);
        BinaryPrimitives.WriteInt32LittleEndian(span[8..], length);
        BinaryPrimitives.WriteInt32LittleEndian(span[12..], Ends.Count);
        BinaryPrimitives.WriteInt32LittleEndian(span[16..], Pages.Count);
        BinaryPrimitives.WriteUInt32LittleEndian(span[20..], MinPages);
        BinaryPrimitives.WriteInt64LittleEndian(span[24..], BaseId);
        BinaryPrimitives.WriteInt64LittleEndian(span[32..], From);
        FromChain.CopyTo(span[40..]);
        BinaryPrimitives.WriteInt32LittleEndian(span[72..], SideBaseIds.Count);
        var offset = HeaderBytes;
        foreach (var (txid, chain) in Ends)
        {
            BinaryPrimitives.WriteInt64LittleEndian(span[offset..], txid);
            chain.CopyTo(span[(offset + 8)..]);
            offset += EndBytes;
        }

        foreach (var page in Pages)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(span[offset..], page);
            offset += 4;
        }

        foreach (var id in SideBaseIds)
        {
            BinaryPrimitives.WriteInt64LittleEndian(span[offset..], id);
            offset += 8;
        }

        ChecksummedFile.Write(path, bytes);
    }

    /// <summary>Reads the file; null (with the reason) when there is none or it does not check out.</summary>
    internal static PagesInFlight? TryLoad(string path, out string why)
    {
        try
        {
            if (!File.Exists(path))
            {
                why = "no pages in flight were saved";
                return null;
            }

            var bytes = File.ReadAllBytes(path);
            var span = bytes.AsSpan();
            var v1 = span[..8].SequenceEqual(MagicV1);
            if (bytes.Length < HeaderBytes + 16 || !(v1 || span[..8].SequenceEqual(Magic)))
            {
                why = "the pages in flight do not check out";
                return null;
            }

            var length = BinaryPrimitives.ReadInt32LittleEndian(span[8..]);
            var ends = BinaryPrimitives.ReadInt32LittleEndian(span[12..]);
            var pages = BinaryPrimitives.ReadInt32LittleEndian(span[16..]);
            var sides = v1 ? 0 : BinaryPrimitives.ReadInt32LittleEndian(span[72..]);
            if (length > bytes.Length || ends < 0 || pages < 0 || sides < 0 || sides > MaxSideBases ||
                length != HeaderBytes + ((long)ends * EndBytes) + ((long)pages * 4) + ((long)sides * 8) + 16
                || !ChecksummedFile.Checks(span, length - ChecksummedFile.TrailerBytes))
            {
                why = "the pages in flight do not check out";
                return null;
            }

            var loaded = new PagesInFlight(BinaryPrimitives.ReadInt64LittleEndian(span[24..]), BinaryPrimitives.ReadInt64LittleEndian(span[32..]),
                span.Slice(40, 32).ToArray())
            {
                MinPages = BinaryPrimitives.ReadUInt32LittleEndian(span[20..]),
            };
            var offset = HeaderBytes;
            for (var i = 0; i < ends; i++)
            {
                loaded.Ends[BinaryPrimitives.ReadInt64LittleEndian(span[offset..])] = span.Slice(offset + 8, 32).ToArray();
                offset += EndBytes;
            }

            for (var i = 0; i < pages; i++)
            {
                loaded.Pages.Add(BinaryPrimitives.ReadUInt32LittleEndian(span[offset..]));
                offset += 4;
            }

            for (var i = 0; i < sides; i++)
            {
                loaded.NoteSideBase(BinaryPrimitives.ReadInt64LittleEndian(span[offset..]));
                offset += 8;
            }

            if (v1)
            {
                loaded.NoteSideBase(BinaryPrimitives.ReadInt64LittleEndian(span[72..])); // a file of the build before the list
            }

            loaded.Covered = loaded.Ends.Count == 0 ? loaded.From : loaded.Ends.Keys.Max();
            why = string.Empty;
            return loaded;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            why = $"the pages in flight could not be read ({ex.Message})";
            return null;
        }
    }
}
