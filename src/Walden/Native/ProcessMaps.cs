using System.Globalization;

namespace Walden.Native;

/// <summary>
/// Reads /proc/self/maps: which files are mapped into this process and at which addresses. Linux only;
/// elsewhere every answer is empty. Reading it opens no database file, so it is safe at any time.
/// </summary>
internal static class ProcessMaps
{
    internal readonly record struct Mapping(ulong Start, ulong End, string Path);

    /// <summary>The file-backed mappings of this process, in address order.</summary>
    internal static IReadOnlyList<Mapping> Read()
    {
        const string maps = "/proc/self/maps";
        return OperatingSystem.IsLinux() && File.Exists(maps) ? Parse(File.ReadAllLines(maps)) : [];
    }

    /// <summary>Parses lines of the form <c>start-end perms offset dev inode path</c>; anonymous mappings are skipped.</summary>
    internal static List<Mapping> Parse(IEnumerable<string> lines)
    {
        var result = new List<Mapping>();
        foreach (var line in lines)
        {
            var fields = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length < 6 || !fields[5].StartsWith('/'))
            {
                continue;
            }

            var range = fields[0].Split('-');
            if (range.Length == 2
                && ulong.TryParse(range[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var start)
                && ulong.TryParse(range[1], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var end))
            {
                result.Add(new Mapping(start, end, fields[5].Trim()));
            }
        }

        return result;
    }

    /// <summary>The file whose mapping holds <paramref name="address"/>, or null.</summary>
    internal static string? FileAt(IReadOnlyList<Mapping> mappings, ulong address)
    {
        foreach (var mapping in mappings)
        {
            if (address >= mapping.Start && address < mapping.End)
            {
                return mapping.Path;
            }
        }

        return null;
    }
}
