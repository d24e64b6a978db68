using System.Buffers.Binary;
using Walden.Archiving;

namespace Walden.Tests.Archiving;

/// <summary>The WAL hook's vector checksum against SQLite's own algorithm, word pair by word pair.</summary>
public sealed class WalChecksumTests
{
    [Theory]
    [InlineData(512)]
    [InlineData(1024)]
    [InlineData(4096)]
    [InlineData(8192)]
    [InlineData(65536)]
    public void TheVectorChecksum_OfAPage_IsSqlitesChecksum_ForEveryPageSizeAndStartingValue(int pageSize)
    {
        var random = new Random(pageSize);
        var page = new byte[pageSize];
        for (var round = 0; round < 20; round++)
        {
            random.NextBytes(page);
            if (round == 1)
            {
                page.AsSpan().Fill(0xFF); // every addition wraps
            }

            var (s1, s2) = ((uint)random.NextInt64(uint.MaxValue + 1L), (uint)random.NextInt64(uint.MaxValue + 1L));
            var (e1, e2) = (s1, s2);
            SqliteWalChecksum(page, ref e1, ref e2);
            WalChecksum.For(pageSize).Update(page, ref s1, ref s2);
            Assert.Equal((e1, e2), (s1, s2));
        }
    }

    /// <summary>wal.c, walChecksumBytes, native byte order.</summary>
    private static void SqliteWalChecksum(ReadOnlySpan<byte> data, ref uint s1, ref uint s2)
    {
        for (var i = 0; i < data.Length; i += 8)
        {
            s1 = unchecked(s1 + BinaryPrimitives.ReadUInt32LittleEndian(data[i..]) + s2);
            s2 = unchecked(s2 + BinaryPrimitives.ReadUInt32LittleEndian(data[(i + 4)..]) + s1);
        }
    }
}
