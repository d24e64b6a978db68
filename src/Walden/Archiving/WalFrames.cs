using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Walden.Archiving;

/// <summary>
/// The WAL file format's own tests (sqlite.org/fileformat2.html#walformat; wal.c, <c>walIndexRecover</c> and
/// <c>walDecodeFrame</c>), shared by the archive's <see cref="WalFrameReader"/> and the integrity check's
/// <see cref="Integrity.WalChainBreak"/>: the one place Walden decides whether a frame belongs to a WAL.
/// </summary>
internal static class WalFrames
{
    /// <summary>The WAL header's size in bytes (wal.c, WAL_HDRSIZE).</summary>
    internal const int HeaderBytes = 32;

    /// <summary>A frame header's size in bytes (wal.c, WAL_FRAME_HDRSIZE).</summary>
    internal const int FrameHeaderBytes = 24;

    /// <summary>The WAL format version SQLite writes and requires (wal.c, WAL_MAX_VERSION).</summary>
    internal const uint Version = 3007000;

    /// <summary>Whether <paramref name="magic"/> (the header's first four bytes, big-endian) names a WAL: 0x377f0682 or 0x377f0683.</summary>
    internal static bool IsMagic(uint magic) => (magic & 0xFFFFFFFE) == 0x377f0682;

    /// <summary>Whether the header's magic asks for checksums over big-endian words (0x377f0683).</summary>
    internal static bool IsBigEndian(uint magic) => (magic & 1) == 1;

    /// <summary>
    /// Whether <paramref name="frame"/> (header and page) carries the salts <paramref name="salt1"/>, <paramref name="salt2"/>
    /// of its WAL's header, names a page, and continues the running checksum (<paramref name="c1"/>, <paramref name="c2"/>, which are
    /// carried forward over it either way), as SQLite's recovery tests a frame. <paramref name="pageChecksum"/> caches the
    /// <see cref="WalChecksum"/> for native-order pages (set here when null or of another size).
    /// </summary>
    internal static bool Continues(ReadOnlySpan<byte> frame, uint salt1, uint salt2, bool bigEndian, int pageSize,
        ref WalChecksum? pageChecksum, ref uint c1, ref uint c2)
    {
        if (BinaryPrimitives.ReadUInt32BigEndian(frame[8..]) != salt1 || BinaryPrimitives.ReadUInt32BigEndian(frame[12..]) != salt2)
        {
            return false;
        }

        Carry(frame, bigEndian, pageSize, ref pageChecksum, ref c1, ref c2);
        return BinaryPrimitives.ReadUInt32BigEndian(frame) != 0 && // page 0 is no page (walDecodeFrame)
            c1 == BinaryPrimitives.ReadUInt32BigEndian(frame[16..]) && c2 == BinaryPrimitives.ReadUInt32BigEndian(frame[20..]);
    }

    /// <summary>Carries the running checksum over a frame: its first 8 header bytes, then its page.</summary>
    internal static void Carry(ReadOnlySpan<byte> frame, bool bigEndian, int pageSize, ref WalChecksum? pageChecksum, ref uint c1, ref uint c2)
    {
        Checksum(frame[..8], bigEndian, ref c1, ref c2);
        if (bigEndian == BitConverter.IsLittleEndian)
        {
            Checksum(frame.Slice(FrameHeaderBytes, pageSize), bigEndian, ref c1, ref c2);
        }
        else
        {
            (pageChecksum is { } known && known.PageSize == pageSize ? known : pageChecksum = WalChecksum.For(pageSize))
                .Update(frame.Slice(FrameHeaderBytes, pageSize), ref c1, ref c2);
        }
    }

    /// <summary>The checksum a frame stores in its header (bytes 16 to 23): the running checksum through that frame.</summary>
    internal static (uint C1, uint C2) StoredChecksum(ReadOnlySpan<byte> frame) =>
        (BinaryPrimitives.ReadUInt32BigEndian(frame[16..]), BinaryPrimitives.ReadUInt32BigEndian(frame[20..]));

    /// <summary>
    /// SQLite's WAL checksum (walChecksumBytes): 32-bit words in the byte order the header's magic names. A page in native
    /// order (every WAL this machine's SQLite writes) goes through <see cref="WalChecksum"/> instead; this loop takes the
    /// frame headers, the WAL header and the pages of a WAL written in the other byte order.
    /// </summary>
    internal static void Checksum(ReadOnlySpan<byte> data, bool bigEndian, ref uint s1, ref uint s2)
    {
        var words = MemoryMarshal.Cast<byte, uint>(data);
        var (a, b) = (s1, s2);
        if (bigEndian == BitConverter.IsLittleEndian)
        {
            for (var i = 0; i + 1 < words.Length; i += 2)
            {
                a = unchecked(a + BinaryPrimitives.ReverseEndianness(words[i]) + b);
                b = unchecked(b + BinaryPrimitives.ReverseEndianness(words[i + 1]) + a);
            }
        }
        else
        {
            ref var word = ref MemoryMarshal.GetReference(words);
            var pairs = words.Length / 2;
            for (nint i = 0; i < pairs; i++)
            {
                a = unchecked(a + Unsafe.Add(ref word, 2 * i) + b);
                b = unchecked(b + Unsafe.Add(ref word, (2 * i) + 1) + a);
            }
        }

        (s1, s2) = (a, b);
    }
}
