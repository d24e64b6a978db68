using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Walden.Archiving;

/// <summary>
/// SQLite's WAL checksum (wal.c, <c>walChecksumBytes</c>) over one page image in native byte order, computed in vectors.
/// <para>
/// The checksum runs over word pairs <c>(a, b)</c>: <c>s1 += a + s2; s2 += b + s1</c>, each step waiting for the one
/// before, so the plain loop is one long chain of dependent additions. The step is linear (modulo 2^32): with
/// <c>M = [[1, 1], [1, 2]]</c> it is <c>s' = M s + (a, a + b)</c>, so after the K pairs of a page
/// <c>s_K = M^K s_0 + sum over i of M^(K-1-i) (a_i, a_i + b_i)</c>. The sum is a dot product of the page's words with two
/// vectors of coefficients that depend only on a word's position (<see cref="For"/> computes them once per page size),
/// which vector multiply-adds compute without any chain between the words. It runs on the writer thread, in the WAL
/// hook, over every byte each commit wrote, so its time is on every batch's critical path.
/// </para>
/// </summary>
internal sealed class WalChecksum
{
    private static volatile WalChecksum? _last;

    private readonly uint[] _forS1; // per word of the page: its coefficient in s1
    private readonly uint[] _forS2;
    private readonly uint _m00, _m01, _m10, _m11; // M^K

    private WalChecksum(int pageSize)
    {
        PageSize = pageSize;
        var words = pageSize / 4;
        _forS1 = new uint[words];
        _forS2 = new uint[words];
        // M^e for e = 0, 1, ... from the last pair of the page backwards (the last pair is multiplied by M^0).
        uint p00 = 1, p01 = 0, p10 = 0, p11 = 1;
        for (var pair = (words / 2) - 1; pair >= 0; pair--)
        {
            _forS1[2 * pair] = unchecked(p00 + p01); // a counts in both halves of (a, a + b)
            _forS2[2 * pair] = unchecked(p10 + p11);
            _forS1[(2 * pair) + 1] = p01;
            _forS2[(2 * pair) + 1] = p11;
            (p00, p01, p10, p11) = unchecked((p00 + p10, p01 + p11, p00 + (2 * p10), p01 + (2 * p11))); // M * M^e
        }

        (_m00, _m01, _m10, _m11) = (p00, p01, p10, p11);
    }

    /// <summary>The page size the coefficients are for.</summary>
    internal int PageSize { get; }

    /// <summary>The checksum for pages of <paramref name="pageSize"/> bytes (a power of two from 512 to 65536).</summary>
    internal static WalChecksum For(int pageSize)
    {
        var last = _last;
        if (last?.PageSize == pageSize)
        {
            return last;
        }

        return _last = new WalChecksum(pageSize);
    }

    /// <summary>Carries <paramref name="s1"/> and <paramref name="s2"/> over <paramref name="page"/> (native-order words).</summary>
    internal void Update(ReadOnlySpan<byte> page, ref uint s1, ref uint s2)
    {
        var words = MemoryMarshal.Cast<byte, uint>(page);
        if (words.Length != _forS1.Length)
        {
            throw new ArgumentException($"a page of {page.Length} bytes, where {PageSize} were expected", nameof(page));
        }

        uint dot1, dot2;
        ref var word = ref MemoryMarshal.GetReference(words);
        ref var c1 = ref MemoryMarshal.GetArrayDataReference(_forS1);
        ref var c2 = ref MemoryMarshal.GetArrayDataReference(_forS2);
        if (Vector256.IsHardwareAccelerated && words.Length % Vector256<uint>.Count == 0)
        {
            var sum1 = Vector256<uint>.Zero;
            var sum2 = Vector256<uint>.Zero;
            for (nuint i = 0; i < (nuint)words.Length; i += (nuint)Vector256<uint>.Count)
            {
                var w = Vector256.LoadUnsafe(ref word, i);
                sum1 += w * Vector256.LoadUnsafe(ref c1, i);
                sum2 += w * Vector256.LoadUnsafe(ref c2, i);
            }

            dot1 = Vector256.Sum(sum1);
            dot2 = Vector256.Sum(sum2);
        }
        else
        {
            dot1 = dot2 = 0;
            for (var i = 0; i < words.Length; i++)
            {
                dot1 = unchecked(dot1 + (words[i] * _forS1[i]));
                dot2 = unchecked(dot2 + (words[i] * _forS2[i]));
            }
        }

        (s1, s2) = unchecked(((_m00 * s1) + (_m01 * s2) + dot1, (_m10 * s1) + (_m11 * s2) + dot2));
    }
}
