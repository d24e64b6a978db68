using System.Globalization;
using System.Security.Cryptography;

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
                        var read = ReadWhole(stream);
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

    /// <summary>Reads a whole segment once, checking its magic, length and SHA-256; its header.</summary>
    private static SegmentHeader ReadWhole(Stream stream)
    {
        var header = new byte[ArchiveFormat.HeaderBytes];
        stream.ReadExactly(header);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        hash.AppendData(header);
        var buffer = new byte[64 * 1024];
        var held = new byte[ArchiveFormat.HashBytes];
        var heldCount = 0;
        long total = header.Length;
        int read;
        while ((read = stream.Read(buffer)) > 0)
        {
            total += read;
            // Hash everything but the final HashBytes bytes (the trailer): the last ones read are held back until more come.
            var combined = new byte[heldCount + read];
            held.AsSpan(0, heldCount).CopyTo(combined);
            buffer.AsSpan(0, read).CopyTo(combined.AsSpan(heldCount));
            var keep = Math.Min(ArchiveFormat.HashBytes, combined.Length);
            hash.AppendData(combined, 0, combined.Length - keep);
            combined.AsSpan(combined.Length - keep).CopyTo(held);
            heldCount = keep;
        }

        if (!ArchiveFormat.IsSegmentHeader(header, total) || heldCount < ArchiveFormat.HashBytes)
        {
            throw new InvalidDataException("it is not a whole Walden archive segment (wrong magic or length)");
        }

        if (!hash.GetHashAndReset().AsSpan().SequenceEqual(held))
        {
            throw new InvalidDataException("its checksum does not match its content (damaged or truncated)");
        }

        return ArchiveFormat.ParseSegmentHeader(header);
    }
}
