using System.Globalization;

namespace Walden.Archiving;

/// <summary>
/// The point-in-time history of an archive, checked without restoring it: every base but the one a verification restored
/// (that one was checked by applying it), its segments whole (magic, length, SHA-256) and linked (each continues the one
/// before: base, transaction id and chain value, as a restore walks them). A verification restores only the latest state,
/// so damage in an older base's chain stayed hidden until the day a restore to a moment in it was needed; status still
/// listed that moment as restorable. Base objects are read as far as their header: checking a whole base means
/// decompressing a copy of the database, which a restore to a moment in that base does.
/// </summary>
internal static class ArchiveHistory
{
    /// <summary>One sentence per base whose chain is broken, naming the segment and the transactions it makes unreachable.</summary>
    /// <param name="source">The archive.</param>
    /// <param name="restoredBaseId">The base the verification restored (not checked again).</param>
    /// <param name="cancellationToken">Stops the check.</param>
    internal static List<string> Problems(IWaldenArchiveDestination source, long restoredBaseId, CancellationToken cancellationToken)
    {
        var catalog = ArchiveCatalog.Read(source);
        var problems = new List<string>();
        foreach (var item in catalog.Bases.Where(b => b.BaseId != restoredBaseId).OrderBy(b => b.BaseId))
        {
            cancellationToken.ThrowIfCancellationRequested();
            DecodedBase header;
            try
            {
                using var stream = source.OpenRead(item.Name);
                header = ArchiveFormat.DecodeBase(stream, null);
            }
            catch (Exception ex) when (ex is IOException or InvalidDataException or EndOfStreamException or UnauthorizedAccessException)
            {
                problems.Add($"base {item.Name} cannot be read ({ex.Message}): no moment of base {item.BaseId} can be restored");
                continue;
            }

            var segments = catalog.Restorable(item.BaseId);
            if (segments.Count == 0)
            {
                continue;
            }

            var last = segments.Max(s => s.Last);
            var byFirst = segments.ToLookup(s => s.First);
            var next = header.Txid + 1;
            var chain = header.Chain;
            while (next <= last)
            {
                cancellationToken.ThrowIfCancellationRequested();
                string? damage = null;
                SegmentHeader? continued = null;
                foreach (var candidate in byFirst[next].OrderByDescending(s => s.Last))
                {
                    try
                    {
                        using var stream = catalog.Open(source, candidate);
                        var read = ReadWhole(stream, stream.CanSeek ? stream.Length : catalog.Lengths[candidate.Name]);
                        if (read.BaseId != item.BaseId || !read.PreviousChain.AsSpan().SequenceEqual(chain))
                        {
                            throw new InvalidDataException("it does not continue the chain of the transactions before it");
                        }

                        continued = read;
                        break;
                    }
                    catch (Exception ex) when (ex is IOException or InvalidDataException or EndOfStreamException or UnauthorizedAccessException)
                    {
                        damage ??= $"segment {candidate.Name} is unusable ({ex.Message})";
                    }
                }

                if (continued is null)
                {
                    problems.Add(string.Create(CultureInfo.InvariantCulture,
                        $"{damage ?? $"no segment of base {item.BaseId} starts at transaction {next}"}: transactions {next}..{last} of the older " +
                        $"base {item.BaseId} cannot be restored to by point in time (restores up to transaction {next - 1} of it still can)"));
                    break;
                }

                chain = continued.LastChain;
                next = continued.Last + 1;
            }
        }

        return problems;
    }

    /// <summary>Reads a whole segment once through <see cref="ArchiveFormat.CheckWholeSegment"/>, as a restore checks it; its header.</summary>
    private static SegmentHeader ReadWhole(Stream stream, long length)
    {
        var header = new byte[ArchiveFormat.HeaderBytes];
        var buffer = new byte[64 * 1024];
        ArchiveFormat.CheckWholeSegment(length, header, buffer, span => stream.ReadAtLeast(span, span.Length, throwOnEndOfStream: false));
        return ArchiveFormat.ParseSegmentHeader(header);
    }
}
