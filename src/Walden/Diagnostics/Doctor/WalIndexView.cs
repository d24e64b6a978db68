using System.Globalization;

namespace Walden.Diagnostics.Doctor;

/// <summary>The WAL-index header as SQLite keeps it in the -shm (sqlite.org/walformat.html, "The WAL-Index Header").</summary>
/// <param name="MaxFrame">mxFrame: the valid frames in the WAL (since its last reset).</param>
/// <param name="Backfilled">nBackfill: how many of them a checkpoint has already copied into the database.</param>
/// <param name="ReadMarks">aReadMark[0..4]: the WAL end each read mark's readers see (0xffffffff when unused).</param>
internal sealed record WalIndexState(uint MaxFrame, uint Backfilled, IReadOnlyList<uint> ReadMarks)
{
    /// <summary>Frames not yet copied into the database.</summary>
    internal uint NotCheckpointed => MaxFrame > Backfilled ? MaxFrame - Backfilled : 0;
}

/// <summary>
/// Reads the WAL-index header of a database through the memory map SQLite itself made of the -shm for a connection of this
/// process: no descriptor is opened on the -shm by Walden (closing one would drop this process's locks on it). The caller
/// must hold that connection open, with a read done on it, while this runs. The map is found in /proc/self/maps.
/// </summary>
internal static class WalIndexView
{
    private const int HeaderBytes = 48;
    private const int CheckpointInfoOffset = 96;

    /// <summary>The state, or null when this process has no map of the -shm at offset 0 or the two header copies never agree.</summary>
    internal static unsafe WalIndexState? Read(string shmPath)
    {
        if (MapStart(shmPath) is not { } start)
        {
            return null;
        }

        var header = (byte*)start;
        for (var attempt = 0; attempt < 100; attempt++)
        {
            // SQLite writes the second copy first and the first last; equal copies are a consistent header.
            if (new ReadOnlySpan<byte>(header, HeaderBytes).SequenceEqual(new ReadOnlySpan<byte>(header + HeaderBytes, HeaderBytes)))
            {
                var maxFrame = *(uint*)(header + 16);
                var backfilled = *(uint*)(header + CheckpointInfoOffset);
                var marks = new uint[5];
                for (var i = 0; i < marks.Length; i++)
                {
                    marks[i] = *(uint*)(header + CheckpointInfoOffset + 4 + (4 * i));
                }

                return new WalIndexState(maxFrame, backfilled, marks);
            }

            Thread.Yield();
        }

        return null;
    }

    private static IntPtr? MapStart(string shmPath)
    {
        const string maps = "/proc/self/maps";
        if (!File.Exists(maps))
        {
            return null;
        }

        foreach (var line in File.ReadAllLines(maps))
        {
            // start-end perms offset dev inode path
            var fields = line.Split(' ', 6, StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length == 6 && fields[5].Trim() == shmPath && fields[1].StartsWith('r')
                && long.TryParse(fields[2], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var offset) && offset == 0
                && long.TryParse(fields[0].Split('-')[0], NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var start))
            {
                return new IntPtr(start);
            }
        }

        return null;
    }
}
