using System.Buffers.Binary;
using System.IO.Hashing;

namespace Walden.Archiving;

/// <summary>
/// The staging folder's small binary files (the pages in flight, the page map's journal): their content and its XXH128 in
/// one write from offset 0, without truncating (a longer file's tail is past the length the content gives) and without
/// fsync. A torn or stale file fails <see cref="Checks"/> and is then not trusted. Written by hand: no library keeps this.
/// </summary>
internal static class ChecksummedFile
{
    /// <summary>The trailer's size in bytes.</summary>
    internal const int TrailerBytes = 16;

    /// <summary>Fills the last <see cref="TrailerBytes"/> of <paramref name="bytes"/> with the XXH128 of the rest, and writes them all at offset 0.</summary>
    /// <exception cref="IOException">The file cannot be written.</exception>
    internal static void Write(string path, byte[] bytes)
    {
        var content = bytes.Length - TrailerBytes;
        BinaryPrimitives.WriteUInt128LittleEndian(bytes.AsSpan(content), XxHash128.HashToUInt128(bytes.AsSpan(0, content)));
        using var handle = File.OpenHandle(path, FileMode.OpenOrCreate, FileAccess.Write);
        RandomAccess.Write(handle, bytes, 0);
    }

    /// <summary>Whether <paramref name="bytes"/> holds <paramref name="length"/> bytes of content followed by their XXH128.</summary>
    internal static bool Checks(ReadOnlySpan<byte> bytes, long length) =>
        length >= 0 && length + TrailerBytes <= bytes.Length &&
        BinaryPrimitives.ReadUInt128LittleEndian(bytes[(int)length..]) == XxHash128.HashToUInt128(bytes[..(int)length]);
}
