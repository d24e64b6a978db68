using System.Globalization;
using Walden.Diagnostics;

namespace Walden.Archiving;

internal sealed partial class Archiver
{
    private static readonly TimeSpan CompactionInterval = TimeSpan.FromSeconds(30);
    private long _nextCompactionAt;
    private long _nextDrillAt;
    private long _takesAtLastMaintenance; // maintenance loop

    /// <summary>On the loop: compaction and retention now and then, the restore drill on its schedule.</summary>
    private void RunMaintenance()
    {
        var takes = _arena.Takes;
        if (takes == _takesAtLastMaintenance)
        {
            _arena.ReleaseFree(); // no commit for a second: the chunks kept for the next ones go back to the GC
        }

        _takesAtLastMaintenance = takes;
        var now = _time.GetTimestamp();
        try
        {
            RetrySeals();
            if (now >= _nextCompactionAt)
            {
                _nextCompactionAt = now + (long)(CompactionInterval.TotalSeconds * _time.TimestampFrequency);
                CheckOtherCopies();
                foreach (var destination in _destinations)
                {
                    destination.Log?.SealAll(CompactionInterval); // records older than the interval become an ordinary segment

                    if (destination.FailingSince is null && destination.Claimed) // never another database's archive (ArchiveLineage)
                    {
                        Compact(destination.Destination, _options.SegmentTargetBytes);
                        ApplyRetention(destination.Destination, _options.RetentionWindow, _time.GetUtcNow());
                    }
                }
            }

            if (_options.DrillInterval is { } interval && now >= _nextDrillAt && _destinations.Any(d => d.Claimed))
            {
                _nextDrillAt = now + (long)(interval.TotalSeconds * _time.TimestampFrequency);
                RunDrill();
            }
        }
#pragma warning disable CA1031 // Maintenance must never stop the loop that ships the archive.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            LogMessages.ArchiveMaintenanceFailed(_logger, _name, ex.Message);
        }
    }

    /// <summary>Tries each failed seal of an append log again once its back-off has passed (every maintenance pass; tests).</summary>
    internal void RetrySeals()
    {
        foreach (var destination in _destinations)
        {
            destination.Log?.RetrySealIfDue();
        }
    }

    /// <summary>How long after now the next drill is due (tests).</summary>
    internal TimeSpan DrillDueIn => _nextDrillAt == long.MaxValue ? TimeSpan.MaxValue : _time.GetElapsedTime(_time.GetTimestamp(), _nextDrillAt);

    /// <summary>
    /// At open: when the first drill is due. The schedule outlives the process: an interval after the oldest of the last
    /// verifications recorded in the destinations (for one never verified, after its oldest base was taken), at once when
    /// that is overdue or one failed (health then says so again, which it forgot with the process); an interval after the
    /// open for an archive with no base yet. Counted from the open alone, a process restarted more often than the interval
    /// never drilled, and the open's base check (BasesChecked) leaves damage in between to the drill. A verification
    /// dated after now (a clock put back) leaves it an interval after the open.
    /// </summary>
    private TimeSpan FirstDrillAfter(TimeSpan interval)
    {
        var now = _time.GetUtcNow();
        var first = interval;
        foreach (var destination in _destinations.Where(d => d.Claimed))
        {
            try
            {
                var last = WaldenArchive.LastVerification(destination.Destination);
                if (last is { Ok: false })
                {
                    return TimeSpan.Zero;
                }

                // Never verified: counted from the oldest base's moment (restarts before the first drill otherwise never drilled).
                if ((last?.At ?? OldestBaseTime(destination.Destination)) is { } since && since <= now)
                {
                    var elapsed = now - since; // no sum of a date and an interval: a date near the calendar's end would overflow
                    var due = elapsed >= interval ? TimeSpan.Zero : interval - elapsed;
                    first = due < first ? due : first;
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or OverflowException or
                InvalidDataException or ArgumentException)
            {
                // Unreadable: as if there were none.
            }
        }

        return first;
    }

    /// <summary>When the oldest base in <paramref name="destination"/> was taken (its header), or null when it has none.</summary>
    private static DateTimeOffset? OldestBaseTime(IWaldenArchiveDestination destination)
    {
        var oldest = ArchiveCatalog.Read(destination).Bases.MinBy(b => b.BaseId);
        if (oldest is null)
        {
            return null;
        }

        using var stream = destination.OpenRead(oldest.Name);
        return ArchiveRestorer.FromMicros(ArchiveFormat.DecodeBase(stream, databasePath: null).TimeMicros);
    }

    /// <summary>Tests: the folder the drill's scratch folder goes in (null: the temporary folder).</summary>
    internal string? DrillScratchFolder { get; set; }

    /// <summary>
    /// Restores the latest state of every destination this archive holds into a scratch file, one after the other, and
    /// records the outcome: health names each destination that failed. A failure in any asks for one new base (Heal). Only
    /// the first destination was drilled before: with two (a folder and an object store), damage in the second was found
    /// by no drill, and a restore from it (the first lost) stopped at the damage. Returns the first failing destination's
    /// result, or the first destination's when all passed.
    /// </summary>
    internal WaldenArchiveRestoreResult RunDrill()
    {
        var problems = new List<string>();
        WaldenArchiveRestoreResult? first = null;
        WaldenArchiveRestoreResult? failed = null;
        string? healFor = null;
        var ran = false;
        foreach (var destination in _destinations.Where(d => d.Claimed))
        {
            var source = destination.Destination;
            WaldenArchiveRestoreResult result;
            try
            {
                result = WaldenArchive.Verify(source, _time, CancellationToken.None, DrillScratchFolder, Connections.ConfigureConnection);
                ran = true;
            }
            catch (WaldenException ex) when (ex is WaldenDiskFullException or WaldenReadOnlyException)
            {
                // A drill that cannot run proves nothing: health says so (naming the temporary folder), not that the archive is sound.
                problems.Add($"{source.Name}: it could not run: {ex.Message}");
                result = new WaldenArchiveRestoreResult(string.Empty, 0, 0, default, 0, 0, Complete: false, ex.Message);
                first ??= result;
                failed ??= result;
                continue;
            }

            first ??= result;
            if (!result.Complete)
            {
                problems.Add($"{source.Name}: {result.Problem}");
                failed ??= result;
                if (healFor is null && !Unhealable(source))
                {
                    healFor = result.Problem;
                }
            }
        }

        lock (_gate)
        {
            if (ran)
            {
                _lastDrillAt = _time.GetUtcNow();
            }

            _drillProblem = problems.Count == 0 ? null : string.Join("; ", problems);
        }

        foreach (var problem in problems)
        {
            LogMessages.ArchiveDrillFailed(_logger, _name, problem);
        }

        if (healFor is not null)
        {
            Heal(healFor);
        }

        return failed ?? first ?? new WaldenArchiveRestoreResult(string.Empty, 0, 0, default, 0, 0, Complete: false,
            "no destination of this archive was claimed at open, so none could be drilled");
    }

    /// <summary>
    /// The archive is refused whole for a reason a new base cannot fix (bases of two archives in one folder: <see
    /// cref="WaldenArchiveStatus.Problem"/>): a base at every drill would only add to it (ArchiveInFlightBreaker2Tests).
    /// Health names the problem either way.
    /// </summary>
    private static bool Unhealable(IWaldenArchiveDestination source)
    {
        try
        {
            return WaldenArchive.GetStatus(source).Problem is not null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or WaldenException)
        {
            return true; // unreadable now: nothing a base can be stored into either
        }
    }

    /// <summary>
    /// After a drill that could not restore the latest state (a damaged or missing segment, a damaged base): a new base, so
    /// that the archive restores the latest state again from here on, instead of every later restore stopping at the
    /// damage until the chain grows long enough for a base of its own. The damaged object stays where it is (a restore
    /// before it still needs what precedes it, and it is the evidence); health stays Degraded, naming it, until a drill
    /// passes. Async takes a side base, so the chain goes on meanwhile and the bound holds; Sync, a base at the next write.
    /// </summary>
    private void Heal(string? problem)
    {
        if (_options.Mode == WaldenArchiveMode.Async)
        {
            lock (_gate)
            {
                _wantSideBase = _sideBase is null && !_needBase;
            }
        }
        else
        {
            NeedBase($"the restore drill could not restore the latest state ({problem}); a new base makes it restorable again");
        }
    }

    /// <summary>
    /// Merges runs of adjacent segments of each base into segments of up to <paramref name="target"/> bytes. The merged
    /// segment keeps the chain values, so it replaces the run exactly; the run is deleted only after it is stored.
    /// </summary>
    internal static int Compact(IWaldenArchiveDestination destination, long target)
    {
        var merged = 0;
        var catalog = ArchiveCatalog.Read(destination, includeLog: false); // objects only: the log's records are sealed by the log
        foreach (var (baseId, segments) in catalog.Segments)
        {
            var ordered = segments.OrderBy(s => s.First).ThenByDescending(s => s.Last).ToList();
            var run = new List<ArchiveObjectName>();
            long bytes = 0;
            long next = -1;
            foreach (var segment in ordered)
            {
                var length = catalog.Lengths[segment.Name];
                if (segment.First != next || bytes + length > target)
                {
                    merged += Merge(destination, baseId, run);
                    run.Clear();
                    bytes = 0;
                }

                if (segment.First < next && run.Count == 0)
                {
                    continue; // covered by an earlier, larger segment (a compaction that stopped before deleting)
                }

                run.Add(segment);
                bytes += length;
                next = segment.Last + 1;
            }

            merged += Merge(destination, baseId, run);
        }

        return merged;
    }

    private static int Merge(IWaldenArchiveDestination destination, long baseId, List<ArchiveObjectName> run)
    {
        if (run.Count < 2)
        {
            return 0;
        }

        var decoded = new List<DecodedSegment>();
        foreach (var segment in run)
        {
            using var stream = destination.OpenRead(segment.Name);
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            try
            {
                decoded.Add(ArchiveFormat.DecodeSegment(buffer.ToArray()));
            }
            catch (InvalidDataException)
            {
                return 0; // a damaged segment stays as it is, for restore to stop at and the drill to name
            }
        }

        for (var i = 1; i < decoded.Count; i++)
        {
            if (!decoded[i].PreviousChain.AsSpan().SequenceEqual(decoded[i - 1].LastChain))
            {
                return 0;
            }
        }

        var records = decoded.SelectMany(s => s.Records).ToList();
        var olderChain = records.Select(r => ArchiveFormat.HasOlderChain(r)).Distinct().ToList();
        if (olderChain.Count > 1)
        {
            return 0; // records of both chain rules (an archive upgraded mid-base): each keeps the format its chain values need
        }

        var bytes = olderChain[0]
            ? ArchiveFormat.EncodeXorSegment(baseId, decoded[0].PageSize, decoded[0].PreviousChain, records)
            : ArchiveFormat.EncodeSegment(baseId, decoded[0].PageSize, decoded[0].PreviousChain, records);
        using (var content = new MemoryStream(bytes, writable: false))
        {
            destination.Put(ArchiveFormat.SegmentName(baseId, records[0].Txid, records[^1].Txid), content);
        }

        foreach (var segment in run)
        {
            destination.Delete(segment.Name);
        }

        return run.Count;
    }

    /// <summary>
    /// Deletes bases (with their segments) that are no longer needed for the window: a base goes only when a newer base
    /// that passed verification was taken before the window began. The newest verified base is never deleted.
    /// </summary>
    internal static int ApplyRetention(IWaldenArchiveDestination destination, TimeSpan window, DateTimeOffset now)
    {
        var verification = WaldenArchive.LastVerification(destination);
        if (verification is not { Ok: true })
        {
            return 0;
        }

        var catalog = ArchiveCatalog.Read(destination, logBytes: false); // the log's records by name: which bases they hold
        var cutoff = now - window;
        // The newest base that is verified (it or a later one passed the drill) and older than the window: everything before it can go.
        ArchiveObjectName? keepFrom = null;
        foreach (var item in catalog.Bases.Where(b => b.BaseId <= verification.BaseId).OrderByDescending(b => b.BaseId))
        {
            using var stream = destination.OpenRead(item.Name);
            var header = ArchiveFormat.DecodeBase(stream, null);
            if (ArchiveRestorer.FromMicros(header.TimeMicros) <= cutoff)
            {
                keepFrom = item;
                break;
            }
        }

        if (keepFrom is null)
        {
            return 0;
        }

        var deleted = 0;
        foreach (var old in catalog.Bases.Where(b => b.BaseId < keepFrom.BaseId))
        {
            if (catalog.Logged.Values.Any(l => l.Name.BaseId == old.BaseId))
            {
                continue; // records of it are still only in the append log: the base goes once they are sealed
            }

            foreach (var segment in catalog.Segments.TryGetValue(old.BaseId, out var list) ? list : [])
            {
                destination.Delete(segment.Name);
            }

            foreach (var resume in catalog.Resumes.Where(r => r.Value.BaseId == old.BaseId))
            {
                destination.Delete(resume.Key);
            }

            destination.Delete(old.Name);
            deleted++;
        }

        return deleted;
    }

    /// <summary>What health reports about the archive: the lag, failing destinations, a failed drill.</summary>
    internal void AddHealth(List<string> reasons, Dictionary<string, object> data)
    {
        var lag = CurrentLag(out var behind);
        data["archiveLagMs"] = lag.TotalMilliseconds;
        data["archiveLastTxid"] = LastTxid;
        var bound = _options.Mode == WaldenArchiveMode.Async ? _options.MaxLag : TimeSpan.Zero;
        if (lag > bound && lag > TimeSpan.Zero)
        {
            reasons.Add($"The archive destination '{behind}' is {lag.TotalSeconds:0.###} s behind " +
                (_options.Mode == WaldenArchiveMode.Async ? $"(MaxLag {bound.TotalSeconds:0.###} s)." : "(Sync: writes wait for it)."));
        }

        foreach (var destination in _destinations)
        {
            if (destination.LastError is { } error)
            {
                reasons.Add($"The archive destination '{destination.Destination.Name}' is failing since {destination.FailingSince:O}: {error}");
            }
        }

        foreach (var destination in _destinations)
        {
            if (destination.Log?.SealProblem is { } seal)
            {
                // Nothing is lost (the records are durable in the log, and every reader of the archive reads them), but they
                // are not in an immutable segment, and the log cannot take a new file's worth of records until this is fixed.
                data["archiveSealFailure"] = $"{seal.Log}: {seal.Reason}";
                data["archiveUnsealedBytes"] = seal.UnsealedBytes;
                reasons.Add(string.Create(CultureInfo.InvariantCulture,
                    $"The archive log '{seal.Log}' could not be sealed into a segment since {seal.Since:O} ({seal.Attempts} failed tries; the next at " +
                    $"{seal.NextAttemptAt:O}): {seal.Reason}. Its {seal.UnsealedBytes:N0} bytes of records are safe in the log and every restore reads them."));
            }
        }

        lock (_gate)
        {
            if (_drillProblem is { } problem)
            {
                data["archiveDrill"] = problem;
                reasons.Add($"The archive restore drill failed: {problem}");
            }
            else if (_lastDrillAt is { } at)
            {
                data["archiveDrill"] = $"ok at {at:O}";
            }
        }
    }
}
