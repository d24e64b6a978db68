using System.Collections.Concurrent;
using System.Globalization;
using System.IO.MemoryMappedFiles;
using System.Text;
using Walden.Native;

namespace Walden.Diagnostics.Doctor;

/// <summary>A copy of SQLite found inside a library or executable file, and its version as that file records it.</summary>
/// <param name="File">The file that holds SQLite's code (a libsqlite3, an e_sqlite3, a Node addon, an executable).</param>
/// <param name="Version">The version text, e.g. "3.40.1"; null when the file has SQLite's source id but no version string near it.</param>
/// <param name="SourceId">SQLite's source id (check-in date and hash), e.g. "2022-12-28 14:03:47 df5c25...".</param>
internal sealed record SqliteBuild(string File, string? Version, string SourceId)
{
    /// <summary>The date of the first release with the WAL-reset fix (3.51.3); every release before it has the bug.</summary>
    private static readonly DateOnly FixReleased = new(2026, 3, 13);

    /// <summary>The version as a number (3040001 for 3.40.1), or null.</summary>
    internal int? VersionNumber => Version is null ? null : SqliteBuilds.NumberOf(Version);

    /// <summary>
    /// True when this SQLite has the WAL-reset bug (3.7.0 to 3.51.2, and the withdrawn 3.52.0). Without a version string,
    /// a source id dated before the fix's release says the same; null when neither tells.
    /// </summary>
    internal bool? HasWalResetBug => VersionNumber is { } number
        ? SqliteBuilds.IsAffected(number)
        : DateOnly.TryParseExact(SourceId.AsSpan(0, Math.Min(10, SourceId.Length)), "yyyy-MM-dd", CultureInfo.InvariantCulture,
            DateTimeStyles.None, out var date) && date < FixReleased ? true : null;

    /// <summary>"3.40.1", or "unknown (source id ...)".</summary>
    internal string VersionText => Version ?? $"unknown (source id {SourceId})";
}

/// <summary>
/// Reads which SQLite a library or executable file carries, from the file itself: a message of SQLite's core proves the code
/// is in the file, SQLite's source id (the <c>sqlite3_sourceid()</c> string, "YYYY-MM-DD HH:MM:SS" and a hash of 40 or more hex
/// digits) names the check-in, and the <c>sqlite3_version</c> string ("3.x.y") stored next to it gives the version. Nothing is loaded or executed, so a file
/// of another process, another architecture or a deleted build can be read too. The file is mapped read-only; these are
/// program files, never database files. Results are kept per file identity, size and time stamp, so each file is read once.
/// </summary>
internal static class SqliteBuilds
{
    /// <summary>How far from the source id the version string is looked for (the two are a few hundred bytes apart in the builds seen).</summary>
    private const int VersionWindow = 256 * 1024;

    /// <summary>
    /// A message of SQLite's virtual machine (vdbe.c, in every release since 3.7.0): only a file carrying SQLite's code has it. The
    /// source id alone is not enough: a program built against SQLite's header (the sqlite3 shell) carries it too.
    /// </summary>
    private static readonly byte[] CoreMarker = "cannot commit - no transaction is active"u8.ToArray();

    private static readonly ConcurrentDictionary<string, SqliteBuild?> Cache = new(StringComparer.Ordinal);

    /// <summary>True for 3.7.0 to 3.51.2 and the withdrawn 3.52.x: the versions with the WAL-reset bug.</summary>
    internal static bool IsAffected(int versionNumber) => versionNumber < SqliteLibrary.MinimumFixedVersion
        || versionNumber is >= SqliteLibrary.WithdrawnLineStart and < SqliteLibrary.WithdrawnLineEnd;

    /// <summary>3040001 for "3.40.1"; null for anything else.</summary>
    internal static int? NumberOf(string version)
    {
        var parts = version.Split('.');
        return parts.Length == 3
            && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var major)
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var minor)
            && int.TryParse(parts[2], NumberStyles.None, CultureInfo.InvariantCulture, out var patch)
            ? (major * 1_000_000) + (minor * 1_000) + patch
            : null;
    }

    /// <summary>"3.40.1" for 3040001.</summary>
    internal static string TextOf(int versionNumber) => string.Create(CultureInfo.InvariantCulture,
        $"{versionNumber / 1_000_000}.{versionNumber / 1_000 % 1_000}.{versionNumber % 1_000}");

    /// <summary>The SQLite inside <paramref name="path"/>, or null when the file carries none or cannot be read.</summary>
    internal static SqliteBuild? Read(string path)
    {
        FileInfo info;
        try
        {
            info = new FileInfo(path);
            if (info.LinkTarget is not null && info.ResolveLinkTarget(returnFinalTarget: true) is FileInfo target)
            {
                info = target; // the size and time stamp of the file itself, not of the link
            }

            if (!info.Exists || info.Length < CoreMarker.Length)
            {
                return null;
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return null;
        }

        var key = $"{path}|{Files.FileId.Of(path)}|{info.Length}|{info.LastWriteTimeUtc.Ticks}";
        return Cache.GetOrAdd(key, _ => Scan(info.FullName, info.Length));
    }

    private static unsafe SqliteBuild? Scan(string path, long length)
    {
        try
        {
            using var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
            using var view = map.CreateViewAccessor(0, 0, MemoryMappedFileAccess.Read);
            byte* start = null;
            view.SafeMemoryMappedViewHandle.AcquirePointer(ref start);
            try
            {
                start += view.PointerOffset;
                // Executables over 2 GiB are not read (a span is limited to int.MaxValue bytes); none carries SQLite that large.
                var bytes = new ReadOnlySpan<byte>(start, (int)Math.Min(length, int.MaxValue));
                return Find(path, bytes);
            }
            finally
            {
                view.SafeMemoryMappedViewHandle.ReleasePointer();
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Finds the source id and the version string nearest to it in the bytes of a file.</summary>
    internal static SqliteBuild? Find(string path, ReadOnlySpan<byte> bytes)
    {
        if (bytes.IndexOf(CoreMarker) < 0)
        {
            return null;
        }

        var sourceIdAt = -1;
        var sourceIdLength = 0;
        for (var at = 0; at < bytes.Length;)
        {
            // "2022-12-28 14:03:47 <hash>": look at each ':' and test the shape around it.
            var colon = bytes[at..].IndexOf((byte)':');
            if (colon < 0)
            {
                break;
            }

            var candidate = at + colon - 13;
            if (candidate >= 0 && SourceIdLength(bytes[candidate..]) is > 0 and var found)
            {
                sourceIdAt = candidate;
                sourceIdLength = found;
                break;
            }

            at += colon + 1;
        }

        if (sourceIdAt < 0)
        {
            return null;
        }

        var sourceId = Encoding.ASCII.GetString(bytes.Slice(sourceIdAt, sourceIdLength));
        var from = Math.Max(0, sourceIdAt - VersionWindow);
        var to = Math.Min(bytes.Length, sourceIdAt + VersionWindow);
        string? version = null;
        var distance = int.MaxValue;
        for (var i = from; i < to - 6; i++)
        {
            if (bytes[i] == (byte)'3' && bytes[i + 1] == (byte)'.' && (i == 0 || !IsVersionByte(bytes[i - 1]))
                && VersionLength(bytes[i..]) is > 0 and var length)
            {
                var text = Encoding.ASCII.GetString(bytes.Slice(i, length));
                if (NumberOf(text) is >= 3_007_000 and < 4_000_000 && Math.Abs(i - sourceIdAt) < distance)
                {
                    distance = Math.Abs(i - sourceIdAt);
                    version = text;
                }
            }
        }

        return new SqliteBuild(path, version, sourceId);
    }

    private static bool IsVersionByte(byte b) => b is (>= (byte)'0' and <= (byte)'9') or (byte)'.' or (>= (byte)'A' and <= (byte)'Z')
        or (>= (byte)'a' and <= (byte)'z');

    /// <summary>The length of a NUL-terminated "3.x.y" at the start of <paramref name="bytes"/>, or 0.</summary>
    private static int VersionLength(ReadOnlySpan<byte> bytes)
    {
        var dots = 0;
        for (var i = 0; i < Math.Min(bytes.Length, 12); i++)
        {
            var b = bytes[i];
            if (b == 0)
            {
                return dots == 2 && bytes[i - 1] != (byte)'.' ? i : 0;
            }

            if (b == (byte)'.')
            {
                if (++dots > 2 || bytes[i - 1] == (byte)'.')
                {
                    return 0;
                }
            }
            else if (b is < (byte)'0' or > (byte)'9')
            {
                return 0;
            }
        }

        return 0;
    }

    /// <summary>The length of an SQLite source id at the start of <paramref name="bytes"/>, or 0.</summary>
    private static int SourceIdLength(ReadOnlySpan<byte> bytes)
    {
        const string shape = "dddd-dd-dd dd:dd:dd ";
        if (bytes.Length < shape.Length + 40)
        {
            return 0;
        }

        for (var i = 0; i < shape.Length; i++)
        {
            var ok = shape[i] == 'd' ? bytes[i] is >= (byte)'0' and <= (byte)'9' : bytes[i] == (byte)shape[i];
            if (!ok)
            {
                return 0;
            }
        }

        var end = shape.Length;
        while (end < bytes.Length && end < shape.Length + 80 && bytes[end] is (>= (byte)'0' and <= (byte)'9') or (>= (byte)'a' and <= (byte)'z'))
        {
            end++;
        }

        return end - shape.Length >= 40 ? end : 0;
    }
}
