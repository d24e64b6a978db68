using System.Buffers.Binary;
using Walden.Files;

namespace Walden.Recovery;

/// <summary>
/// The 100-byte header of a database file, read directly. SQLite cannot be asked here: a damaged
/// header is exactly what makes it refuse the file (SQLITE_NOTADB). Reading it with a FileStream is
/// safe only while this process has no SQLite connection on the file (closing any descriptor would
/// drop this process's POSIX locks, sqlite.org/howtocorrupt.html 2.2), so callers read it before they
/// open one and never for a file in <see cref="OpenDatabases"/>. Other processes' locks are not affected.
/// </summary>
internal sealed record InputHeader(bool MagicIntact, int PageSizeField, long FileLength, uint PageCountField)
{
    private static readonly byte[] Magic = "SQLite format 3\0"u8.ToArray();

    /// <summary>The page size the header declares, or 0 when the field holds no legal page size.</summary>
    internal int PageSize => IsLegalPageSize(PageSizeField) ? PageSizeField : 0;

    internal static bool IsLegalPageSize(int size) => size is >= 512 and <= 65536 && (size & (size - 1)) == 0;

    internal static InputHeader Read(string path)
    {
        if (OpenDatabases.Contains(Path.GetFullPath(path)))
        {
            throw new InvalidOperationException($"'{path}' is open in this process; its header must be read through SQLite.");
        }

        var bytes = new byte[100];
        int read;
        long length;
        using (var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
        {
            length = stream.Length;
            read = stream.ReadAtLeast(bytes, bytes.Length, throwOnEndOfStream: false);
        }

        if (read < 100)
        {
            return new InputHeader(false, 0, length, 0);
        }

        int pageSize = BinaryPrimitives.ReadUInt16BigEndian(bytes.AsSpan(16));
        if (pageSize == 1)
        {
            pageSize = 65536;
        }

        return new InputHeader(bytes.AsSpan(0, 16).SequenceEqual(Magic), pageSize, length, BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(28)));
    }

    /// <summary>Writes a page size into bytes 16-17 of a COPY of the damaged file (never the original).</summary>
    internal static void PatchPageSize(string copyPath, int pageSize)
    {
        var field = new byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(field, (ushort)(pageSize == 65536 ? 1 : pageSize));
        using var stream = new FileStream(copyPath, FileMode.Open, FileAccess.Write, FileShare.None);
        stream.Position = 16;
        stream.Write(field);
    }
}
