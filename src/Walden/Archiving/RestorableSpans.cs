using System.Globalization;

namespace Walden.Archiving;

/// <summary>A run of moments a restore can reach: from a base's transaction through the last one its segments name.</summary>
/// <param name="BaseId">The base's id (its folder's name); the first of them when spans are merged.</param>
/// <param name="FirstTxid">The base's transaction (its state as a whole).</param>
/// <param name="FirstTime">When that base was taken.</param>
/// <param name="LastTxid">The last transaction the span's segments reach (by name; the restore checks them).</param>
/// <param name="LastTime">When that transaction was committed.</param>
internal sealed record RestorableSpan(long BaseId, long FirstTxid, DateTimeOffset FirstTime, long LastTxid, DateTimeOffset LastTime);

/// <summary>
/// Where an open continued a chain and shipped what changed while no run was watching as one transaction
/// (<c>Archiver.Continue.cs</c>): between <paramref name="After"/> and <paramref name="At"/> the state is not known.
/// </summary>
/// <param name="Txid">The last transaction before the open (its state is known).</param>
/// <param name="After">When <paramref name="Txid"/> was committed.</param>
/// <param name="At">The open: the moment of transaction <paramref name="Txid"/> + 1, which holds the changes.</param>
internal sealed record ContinuedChain(long Txid, DateTimeOffset After, DateTimeOffset At);

/// <summary>
/// What an archive can restore, read from the names of its objects and the headers of its bases and last segments, and
/// the check of a requested moment against it before anything is built. Bases whose chains continue one another form one
/// span; a gap between two spans is a run of transactions the archive never held one by one (a destination fell behind
/// and a new base took them whole, another process wrote, or retention removed the older base). A hole inside one base's
/// segments is not a gap here: it is damage, which the restore finds, stopping at the last good moment before it.
/// </summary>
internal static class RestorableSpans
{
    /// <summary>The span of each usable base, oldest first (not merged: see <see cref="Merge"/>).</summary>
    internal static List<RestorableSpan> Read(IWaldenArchiveDestination source, ArchiveCatalog catalog)
    {
        var spans = new List<RestorableSpan>();
        foreach (var item in catalog.Bases)
        {
            try
            {
                DecodedBase header;
                using (var stream = source.OpenRead(item.Name))
                {
                    header = ArchiveFormat.DecodeBase(stream, null);
                }

                if (ForeignBase(catalog, item, header) is not null)
                {
                    continue; // the restore skips it and says why
                }

                spans.Add(Of(source, catalog, item, header));
            }
            catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException)
            {
                // A damaged base or last segment: the restore meets it and says so.
            }
        }

        return [.. spans.OrderBy(s => s.FirstTxid)];
    }

    /// <summary>
    /// The span of the base <paramref name="item"/> whose header is <paramref name="header"/>: from its transaction to the
    /// end its segment names reach without a hole (<see cref="Contiguous"/>), at the newest commit time that can be read
    /// (<see cref="LastKnownTime"/>). The restore's choice of the latest chain and `archive status` both use it.
    /// </summary>
    internal static RestorableSpan Of(IWaldenArchiveDestination source, ArchiveCatalog catalog, ArchiveObjectName item, DecodedBase header)
    {
        var taken = ArchiveRestorer.FromMicros(header.TimeMicros);
        var after = Contiguous(header.Txid, catalog.Restorable(item.BaseId));
        return after.Count == 0
            ? new RestorableSpan(item.BaseId, header.Txid, taken, header.Txid, taken)
            : new RestorableSpan(item.BaseId, header.Txid, taken, after[0].Last, LastKnownTime(source, catalog, after) ?? taken);
    }

    /// <summary>
    /// The segments after a base at <paramref name="baseTxid"/> that follow it without a hole in their names, newest (by
    /// last transaction) first: a restore of the chain stops at the first hole, so a chain reaches no further than this.
    /// By the largest name alone, `archive status` named a last transaction after a deleted middle segment that no restore
    /// returns, and the choice of the latest chain counted it.
    /// </summary>
    private static List<ArchiveObjectName> Contiguous(long baseTxid, IEnumerable<ArchiveObjectName> segments)
    {
        var reach = baseTxid;
        var kept = new List<ArchiveObjectName>();
        foreach (var segment in segments.Where(s => s.Last > baseTxid).OrderBy(s => s.First).ThenByDescending(s => s.Last))
        {
            if (segment.First > reach + 1)
            {
                break;
            }

            kept.Add(segment);
            reach = Math.Max(reach, segment.Last);
        }

        return [.. kept.OrderByDescending(s => s.Last)];
    }

    /// <summary>
    /// The last commit time of the newest of <paramref name="newestFirst"/> whose time can be read. A torn or damaged last
    /// segment (a power cut during its store) used to leave its base with no span at all, so the restore of the latest
    /// tried that base first and stopped at the damage, though a newer base (taken by the next open) held a later state
    /// whole. The span keeps the reach its names give; the restore still finds the damage when it takes that chain.
    /// </summary>
    private static DateTimeOffset? LastKnownTime(IWaldenArchiveDestination source, ArchiveCatalog catalog, List<ArchiveObjectName> newestFirst)
    {
        foreach (var segment in newestFirst)
        {
            try
            {
                if (WaldenArchive.SegmentLastTime(catalog.Open(source, segment)) is { } time)
                {
                    return time;
                }
            }
            catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException)
            {
                // Damaged: an older one's time.
            }
        }

        return null;
    }

    /// <summary>
    /// Why the base object <paramref name="item"/> is not this archive's base, or null when it is: its header names another
    /// base (a base.wbase copied or moved from another folder or archive: its own segments could never follow it), or
    /// another database's lineage than the archive's (<see cref="ArchiveCatalog.Lineage"/>: a base folder copied in from
    /// another database's archive, whose segments follow it and whose transaction ids may fall in this archive's own
    /// range, so no other check tells it apart). A base taken before lineages carries none and is not judged by it.
    /// </summary>
    internal static string? ForeignBase(ArchiveCatalog catalog, ArchiveObjectName item, DecodedBase header) =>
        header.BaseId != item.BaseId
            ? string.Create(CultureInfo.InvariantCulture,
                $"base {item.Name} holds the snapshot of base {header.BaseId}, not of base {item.BaseId} (copied or moved in from another " +
                $"folder or archive); it is not used")
            : header.Lineage is { } lineage && catalog.Lineage is { } own && lineage != own
            ? $"base {item.Name} was taken from another database (lineage {lineage}), not from the one this archive belongs to (lineage " +
              $"{own}): copied in from another database's archive; it is not used"
            : null;

    /// <summary>
    /// Why the bases cannot all be one database's archive, or null: within one archive every base starts after the last
    /// transaction of the base before it (transaction ids only grow), so a base that starts at or before it was copied in
    /// from another archive (another database's, or an older copy), and a restore could return the wrong database.
    /// </summary>
    internal static string? Conflict(IReadOnlyList<RestorableSpan> bases, string archive)
    {
        var byId = bases.OrderBy(b => b.BaseId).ToList();
        for (var i = 1; i < byId.Count; i++)
        {
            var (before, after) = (byId[i - 1], byId[i]);
            // Not against the earlier base's last transaction: a base taken at a reopen after a kill may start at the last
            // transaction the earlier base's segments reach (seen in `walden torture --archive async`), so only a base that starts
            // before the earlier base's own start is another archive's (two bases may start at the same one: a reopen with no commit between).
            if (after.FirstTxid < before.FirstTxid)
            {
                return string.Create(CultureInfo.InvariantCulture,
                    $"'{archive}' holds bases that are not one database's archive: base {after.BaseId} starts at transaction " +
                    $"{after.FirstTxid}, but the base before it, {before.BaseId}, starts at transaction {before.FirstTxid} (in one " +
                    $"archive every base starts after the one before it). One of the two folders was copied in from another archive: " +
                    $"move the one that does not belong to this database out of '{archive}' and restore again. Nothing was written.");
            }
        }

        return null;
    }

    /// <summary>Spans merged where one continues another's transactions: what <c>--txid</c> can reach.</summary>
    internal static List<RestorableSpan> Merge(IReadOnlyList<RestorableSpan> spans)
    {
        var merged = new List<RestorableSpan>();
        foreach (var span in spans)
        {
            if (merged.Count > 0 && span.FirstTxid <= merged[^1].LastTxid + 1)
            {
                if (span.LastTxid > merged[^1].LastTxid)
                {
                    merged[^1] = merged[^1] with { LastTxid = span.LastTxid, LastTime = span.LastTime };
                }
            }
            else
            {
                merged.Add(span);
            }
        }

        return merged;
    }

    /// <summary>
    /// Why <paramref name="target"/> cannot be restored from the spans of the <paramref name="bases"/> (before the first moment, after the last
    /// transaction, or in a gap), naming the first and last restorable moments or the nearest ones and what to ask for
    /// instead; null when it can (or when no base could be read: the restore reports those).
    /// </summary>
    internal static string? Problem(IReadOnlyList<RestorableSpan> bases, WaldenArchiveRestoreOptions target, string archive)
    {
        if (bases.Count == 0)
        {
            return null;
        }

        var spans = Merge(bases);

        var first = spans[0];
        var last = spans[^1];
        var range = Describe(spans);
        var ask = string.Create(CultureInfo.InvariantCulture,
            $"Ask for a transaction from {first.FirstTxid} to {last.LastTxid} (Txid, or --txid) or a time from {first.FirstTime:O} on " +
            $"(At, or --at), or for neither to restore the latest. Nothing was written.");
        if (target.Txid is { } txid)
        {
            if (txid < first.FirstTxid)
            {
                return string.Create(CultureInfo.InvariantCulture,
                    $"'{archive}' cannot restore transaction {txid}: it is before the first restorable moment{Retention}. " +
                    $"The archive holds {range}. {ask}");
            }

            if (txid > last.LastTxid)
            {
                return string.Create(CultureInfo.InvariantCulture,
                    $"'{archive}' cannot restore transaction {txid}: the last restorable transaction is {last.LastTxid} " +
                    $"(committed {last.LastTime:O}). The archive holds {range}. {ask}");
            }

            for (var i = 1; i < spans.Count; i++)
            {
                if (txid > spans[i - 1].LastTxid && txid < spans[i].FirstTxid)
                {
                    return Gap(archive, string.Create(CultureInfo.InvariantCulture, $"transaction {txid}"), spans[i - 1], spans[i]);
                }
            }
        }

        if (target.At is { } at)
        {
            if (at < first.FirstTime)
            {
                return string.Create(CultureInfo.InvariantCulture,
                    $"'{archive}' cannot restore the state as of {at.ToUniversalTime():O}: it is before the first restorable " +
                    $"moment{Retention}. The archive holds {range}. {ask}");
            }

            // Between one base's last transaction and the next base the archive knows nothing of when anything happened: what
            // another process committed then, or while the database was closed or a destination was behind, is only in the
            // next base, without its time. Even with no gap in the transaction ids, a state in between may miss such a commit.
            for (var i = 1; i < bases.Count; i++)
            {
                // Not when another base's chain covers the moment: a side base (Archiver.StartSideBase) starts inside the
                // older base's chain, and after a crash before the chain moved to it its span ends at its own start.
                if (at > bases[i - 1].LastTime && at < bases[i].FirstTime && !bases.Any(b => b.FirstTime <= at && at <= b.LastTime))
                {
                    return Between(archive, at, bases[i - 1], bases[i]);
                }
            }
        }

        return null;
    }

    /// <summary>
    /// The continuations of the archive that shipped changes (read from the resume claims' bodies; a claim that cannot be
    /// read counts as one whose window is unknown, so it is skipped: its base's spans still bound what is restorable).
    /// </summary>
    internal static List<ContinuedChain> Continuations(IWaldenArchiveDestination source, ArchiveCatalog catalog)
    {
        var continued = new List<ContinuedChain>();
        foreach (var name in catalog.Resumes.Keys)
        {
            try
            {
                using var reader = new StreamReader(source.OpenRead(name));
                if (Archiver.ParseResumeBody(reader.ReadToEnd()) is { } chain)
                {
                    continued.Add(chain);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
            }
        }

        return continued;
    }

    /// <summary>Why a time inside a continuation's window cannot be restored; null when the target is not in one.</summary>
    internal static string? Unknown(IReadOnlyList<ContinuedChain> continued, WaldenArchiveRestoreOptions target, string archive)
    {
        if (target.At is not { } at || continued.FirstOrDefault(c => at > c.After && at < c.At) is not { } window)
        {
            return null;
        }

        return string.Create(CultureInfo.InvariantCulture,
            $"'{archive}' cannot restore the state as of {at.ToUniversalTime():O}: it falls between transaction {window.Txid} " +
            $"(committed {window.After:O}) and transaction {window.Txid + 1} ({window.At:O}), which holds what changed in the " +
            $"database while the archive was not watching it (commits not yet archived when it stopped or crashed, or another " +
            $"program's writes while it was closed), without their times, so the state at that moment is not known. The nearest " +
            $"restorable moments are transaction {window.Txid} ({window.After:O}) and transaction {window.Txid + 1} ({window.At:O}): " +
            $"ask for one of those. Nothing was written.");
    }

    private const string Retention = " (bases older than the archive's retention window are removed)";

    /// <summary>The spans in words: "transactions 1..90 (from ... to ...) and 120..400 (...)".</summary>
    internal static string Describe(IReadOnlyList<RestorableSpan> spans) =>
        "transactions " + string.Join(" and ", spans.Select(s => string.Create(CultureInfo.InvariantCulture,
            $"{s.FirstTxid}..{s.LastTxid} (from {s.FirstTime:O} to {s.LastTime:O})")));

    private static string Gap(string archive, string what, RestorableSpan before, RestorableSpan after) =>
        string.Create(CultureInfo.InvariantCulture,
            $"'{archive}' cannot restore {what}: transactions {before.LastTxid + 1}..{after.FirstTxid - 1} are not in it one by one " +
            $"(a destination fell behind or another process wrote, and the base taken at {after.FirstTime:O} holds them only " +
            $"together). The nearest restorable moments are transaction {before.LastTxid} (committed {before.LastTime:O}) and " +
            $"transaction {after.FirstTxid} (the base taken at {after.FirstTime:O}): ask for one of those. Nothing was written.");

    private static string Between(string archive, DateTimeOffset at, RestorableSpan before, RestorableSpan after) =>
        string.Create(CultureInfo.InvariantCulture,
            $"'{archive}' cannot restore the state as of {at.ToUniversalTime():O}: it falls between transaction {before.LastTxid} " +
            $"(committed {before.LastTime:O}, the last the archive took one by one) and the next base, taken at {after.FirstTime:O}. " +
            $"What was committed in between (by another process, while the database was closed, or while a destination was behind) " +
            $"is only in that base, without its time, so the state at that moment is not known. The nearest restorable moments are " +
            $"transaction {before.LastTxid} ({before.LastTime:O}) and transaction {after.FirstTxid} ({after.FirstTime:O}): ask for " +
            $"one of those. Nothing was written.");
}
