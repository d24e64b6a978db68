using System.Diagnostics;
using System.Globalization;
using Microsoft.Data.Sqlite;

namespace Walden.Archiving;

/// <summary>
/// Builds a database from an archive as of a transaction or a moment: the newest base at or before the target, then
/// its segments in transaction order, each checked (checksum, contiguous ids, chain value) before any of its pages is
/// written. At the first segment that is missing or damaged it stops and says so: the result is the last good moment
/// before it, never a database with a gap. The file is built under a temporary name, checked with
/// <c>PRAGMA integrity_check</c>, and only then linked to the output path, which must not exist.
/// </summary>
internal static class ArchiveRestorer
{
    internal static WaldenArchiveRestoreResult Restore(IWaldenArchiveDestination source, string outputPath, WaldenArchiveRestoreOptions target,
        CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        outputPath = Path.GetFullPath(outputPath);
        if (Files.OutputPath.Problem(outputPath, "restored.db") is { } wrongOutput)
        {
            throw new WaldenArchiveException(wrongOutput + " Nothing was written.");
        }

        foreach (var path in new[] { outputPath, outputPath + "-wal", outputPath + "-shm", outputPath + "-journal" })
        {
            if (File.Exists(path) || Directory.Exists(path))
            {
                throw new WaldenArchiveException($"'{path}' already exists. A restore never writes over a file: choose a new output path.");
            }
        }

        // The restored file's lineage goes into its staging folder (WaldenArchive.ContinueLineage). One left by a database that
        // was at this path holds that database's lineage and working files: written over, its archive would lose its owner's
        // id, and kept, its working files would be taken for the restored database's.
        var staging = ArchiveLineage.StagingFolder(outputPath);
        if (File.Exists(staging) || Directory.Exists(staging))
        {
            throw new WaldenArchiveException($"'{staging}' already exists: the archive working files and lineage of a database that " +
                "was at this path. A restore never writes over them: choose a new output path, or move that folder away if its " +
                "database is gone for good.");
        }

        var folder = Path.GetDirectoryName(outputPath)!;
        if (!Directory.Exists(folder))
        {
            throw new WaldenArchiveException($"The folder '{folder}' does not exist. Create it, or choose an output path in an existing folder.");
        }

        WaldenArchive.EnsureReadable(source);
        var catalog = ArchiveCatalog.Read(source);
        if (catalog.Bases.Count == 0)
        {
            throw new WaldenArchiveException($"'{source.Name}' holds no base snapshot, so nothing can be restored from it. Is it a Walden archive folder?");
        }

        // A moment the archive cannot reach is refused before anything is built, naming the moments it can reach.
        var spans = RestorableSpans.Read(source, catalog);
        if (RestorableSpans.Conflict(spans, source.Name) is { } mixed)
        {
            throw new WaldenArchiveException(mixed, isDamaged: true);
        }

        if ((RestorableSpans.Problem(spans, target, source.Name)
            ?? RestorableSpans.Unknown(RestorableSpans.Continuations(source, catalog), target, source.Name)) is { } unreachable)
        {
            throw new WaldenArchiveException(unreachable);
        }

        var temporary = Path.Combine(folder, $".{Path.GetFileName(outputPath)}.restoring-{Environment.ProcessId}");
        try
        {
            // The scratch file of a restore that was killed (its owner lock is free) is removed; a running one's is left alone.
            Files.OwnerLock.RemoveAbandoned(folder, ".*.restoring-*" + Files.OwnerLock.Suffix,
                path => !path.EndsWith(Files.OwnerLock.Suffix, StringComparison.Ordinal));
            Files.OwnerLock owner;
            try
            {
                owner = Files.OwnerLock.Claim(temporary);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                throw OutputError(ex, source, outputPath, folder); // before reading anything
            }

            using var claimed = owner;
            return Restore(source, catalog, outputPath, folder, temporary, target, started, cancellationToken, spans);
        }
        catch (Exception ex) when (Files.IoErrors.IsWriteSide(ex) || (ex is UnauthorizedAccessException && !CanWrite(temporary)))
        {
            // Reading the archive never fails this way: the output's folder is full, read-only or not ours to write.
            DeleteTemporary(temporary);
            throw OutputError(ex, source, outputPath, folder);
        }
        catch (SqliteException ex) when (ex.SqliteErrorCode is 13 or 8 or 10) // FULL, READONLY, IOERR: the check of the output
        {
            DeleteTemporary(temporary);
            throw new WaldenArchiveException(
                $"Restoring '{source.Name}' to '{outputPath}' failed while checking the rebuilt database in '{folder}' ({ex.Message}); " +
                "nothing was written. Free space in that folder or choose another one.", ex);
        }
    }

    /// <summary>
    /// Whether the segments in the folder of the base <paramref name="header"/> continue its chain (the folder came whole
    /// from another archive), rather than being this archive's segments whose base was replaced. A folder with no segment
    /// is the base alone.
    /// </summary>
    private static bool FollowsItsBase(IWaldenArchiveDestination source, ArchiveCatalog catalog, long baseId, DecodedBase header)
    {
        var segments = catalog.Restorable(baseId);
        if (segments.Find(s => s.First == header.Txid + 1) is not { } first)
        {
            return segments.Count == 0;
        }

        try
        {
            using var stream = catalog.Open(source, first);
            using var bytes = new MemoryStream();
            stream.CopyTo(bytes);
            return ArchiveFormat.TryReadSegmentHeader(bytes.GetBuffer().AsSpan(0, (int)bytes.Length)) is { } segment
                && segment.PreviousChain.AsSpan().SequenceEqual(header.Chain);
        }
        catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException)
        {
            return false; // unreadable: not shown to be another archive's
        }
    }

    /// <summary>
    /// The error for a failure to write the output: names the user's output and its folder (never the scratch file) and the
    /// cause, typed as a full disk or a folder that cannot be written.
    /// </summary>
    private static WaldenException OutputError(Exception ex, IWaldenArchiveDestination source, string outputPath, string folder)
    {
        var start = $"Restoring '{source.Name}' to '{outputPath}' failed: ";
        const string Nothing = " Nothing was written.";
        if (ex is IOException { HResult: 28 or 122 } || ex.Message.Contains("No space left", StringComparison.Ordinal))
        {
            return new WaldenDiskFullException(start + $"the disk holding '{folder}' is full." + Nothing +
                " Free space there or choose an output path on another disk.", Errors.SqliteErrors.Full, Errors.SqliteErrors.Full, ex);
        }

        var cause = ex switch
        {
            UnauthorizedAccessException => "this user may not create files there (permission denied)",
            IOException { HResult: 30 } => "it is on a read-only file system",
            FileNotFoundException or DirectoryNotFoundException => "no file can be created there",
            _ => $"it cannot be written ({ex.GetType().Name}, errno {ex.HResult})",
        };
        return new WaldenReadOnlyException(start + $"'{folder}' cannot take the restored file: {cause}." + Nothing +
            " Choose an output path in a folder this user may write.", Errors.SqliteErrors.ReadOnly, Errors.SqliteErrors.ReadOnly, ex);
    }

    /// <summary>Whether a file can be created at <paramref name="path"/> (removed again at once).</summary>
    private static bool CanWrite(string path)
    {
        try
        {
            using (new FileStream(path, FileMode.CreateNew, FileAccess.Write))
            {
            }

            File.Delete(path);
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static WaldenArchiveRestoreResult Restore(IWaldenArchiveDestination source, ArchiveCatalog catalog, string outputPath, string folder,
        string temporary, WaldenArchiveRestoreOptions target, long started, CancellationToken cancellationToken, List<RestorableSpan> spans)
    {
        DeleteTemporary(temporary);
        try
        {
            using (new FileStream(temporary, FileMode.CreateNew, FileAccess.Write))
            {
            }

            File.Delete(temporary);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw OutputError(ex, source, outputPath, folder); // before reading anything
        }

        var targetMicros = target.At is { } at ? Archiver.Micros(at) : long.MaxValue;
        var targetTxid = target.Txid ?? long.MaxValue;
        var problems = new List<string>();
        // Bases the target may need that could not be used, with how far their chain is named (long.MaxValue: not known): a
        // newer one, or one whose chain reaches past what the restore returns, makes the result older than asked.
        var skipped = new List<(long BaseId, string Problem, long Reach)>();
        // A base id is the later of its predecessor's + 1 and its time in Unix seconds: a base taken after the time asked is not needed.
        bool MayBeNeeded(long baseId) => target.At is not { } at || baseId <= at.ToUnixTimeSeconds() + 1;
        foreach (var orphan in catalog.Segments.Keys.Concat(catalog.Logged.Values.Select(l => l.Name.BaseId)).Distinct()
                     .Where(id => catalog.Bases.TrueForAll(b => b.BaseId != id) && MayBeNeeded(id)).Order())
        {
            var names = catalog.Restorable(orphan);
            skipped.Add((orphan, string.Create(CultureInfo.InvariantCulture,
                $"the segments of base {orphan} (transactions {names.Min(n => n.First)}..{names.Max(n => n.Last)}) have no base snapshot " +
                $"({orphan}/{ArchiveFormat.BaseFileName} is missing)"), names.Max(n => n.Last)));
        }

        // The newest base that reaches the target; for the latest state (or a target past every chain), the base whose chain
        // reaches furthest. Normally that is the newest base either way; but while a side base is being stored
        // (Archiver.StartSideBase: the chain goes on after the older base until the side base is everywhere), or after a crash
        // then, the newest base holds an earlier state than the older base's chain reaches, and must not be taken for the
        // latest. A base with no span (unreadable) is tried first, as the newest, so that its problem is reported.
        var spanOf = spans.GroupBy(s => s.BaseId).ToDictionary(g => g.Key, g => g.First());
        bool Covers(ArchiveObjectName b) => !spanOf.TryGetValue(b.BaseId, out var s)
            || (target.Txid is { } t ? s.FirstTxid <= t && t <= s.LastTxid : target.At is { } a && s.FirstTime <= a && a <= s.LastTime);
        long Reach(ArchiveObjectName b) => spanOf.TryGetValue(b.BaseId, out var s) ? Math.Min(s.LastTxid, targetTxid) : long.MaxValue;
        foreach (var candidate in catalog.Bases.OrderByDescending(Covers).ThenByDescending(Reach).ThenByDescending(b => b.BaseId))
        {
            cancellationToken.ThrowIfCancellationRequested();
            DecodedBase header;
            try
            {
                using var stream = source.OpenRead(candidate.Name);
                header = ArchiveFormat.DecodeBase(stream, null);
            }
            catch (Exception ex) when (ex is IOException or InvalidDataException or UnauthorizedAccessException)
            {
                if (MayBeNeeded(candidate.BaseId))
                {
                    skipped.Add((candidate.BaseId, $"base {candidate.Name} cannot be read ({ex.Message})", Reach(candidate)));
                }

                continue;
            }

            if (RestorableSpans.ForeignBase(catalog, candidate, header) is { } foreign)
            {
                // When its folder's segments are this database's (its base was swapped for another's), the archive holds
                // transactions up to their end that no usable base reaches, so a restore that ends before them is not the
                // latest state; before, an older base's end was returned as the complete latest. A folder copied in whole
                // from another archive (its segments follow its base) holds nothing of this database's.
                if (MayBeNeeded(candidate.BaseId) && !FollowsItsBase(source, catalog, candidate.BaseId, header))
                {
                    var named = catalog.Restorable(candidate.BaseId).Select(s => s.Last).DefaultIfEmpty(header.Txid).Max();
                    skipped.Add((candidate.BaseId, foreign, Math.Min(named, targetTxid)));
                }
                else
                {
                    problems.Add(foreign);
                }

                continue;
            }

            if (header.Txid > targetTxid || header.TimeMicros > targetMicros)
            {
                continue;
            }

            DeleteTemporary(temporary);
            try
            {
                using (var stream = source.OpenRead(candidate.Name))
                {
                    ArchiveFormat.DecodeBase(stream, temporary);
                }
            }
            catch (Exception ex) when ((ex is IOException or InvalidDataException or UnauthorizedAccessException) && !Files.IoErrors.IsWriteSide(ex))
            {
                skipped.Add((candidate.BaseId, $"base {candidate.Name} is damaged ({ex.Message})", Reach(candidate)));
                DeleteTemporary(temporary);
                continue;
            }

            try
            {
                var (txid, micros, stop) = Apply(source, catalog, header, temporary, targetTxid, targetMicros, target.At, cancellationToken);
                // Past the target: the chain holds a transaction after the moment asked, so the state there is settled.
                var pastTarget = target.At is { } asked && spanOf.TryGetValue(header.BaseId, out var own) && own.LastTime > asked;
                var newer = skipped.Where(s => s.BaseId > header.BaseId || (!pastTarget && s.Reach > txid)).Select(s => s.Problem).ToList();
                if (stop is null && newer.Count > 0 && (target.Txid is null || txid < target.Txid))
                {
                    // A newer base was unusable: this older one's end is not the latest state (nor the state at the time asked).
                    stop = $"{string.Join("; ", newer)}; restored from the older base {header.BaseId} up to transaction {txid}, " +
                        "the last good moment before it";
                }
                else
                {
                    problems.AddRange(skipped.Select(s => s.Problem)); // not needed for the target reached, but said all the same
                }

                var atEnd = stop is null && txid == catalog.Restorable(header.BaseId).Select(s => s.Last).DefaultIfEmpty(header.Txid).Max();
                if (atEnd && catalog.LogDamage is { } damage)
                {
                    stop = $"{damage}; restored up to transaction {txid}, the last good moment before it";
                }

                if (stop is null && target.Txid is null && target.At is null &&
                    WaldenArchive.LastVerification(source) is { VerifiedThroughTxid: { } verified, VerifiedThroughAt: { } verifiedAt } && verified > txid)
                {
                    // The archive once held more: a verification restored up to there. Its latest state now ends before that,
                    // so transactions it held are gone, which nothing else in it can show (the newest segment's name is the end).
                    stop = string.Create(CultureInfo.InvariantCulture,
                        $"the archive held transactions up to {verified} when it was verified at {verifiedAt:O}, but its latest state now ends at " +
                        $"transaction {txid}: transactions {txid + 1}..{verified} are gone (a segment deleted or lost, or the archive copied in part); " +
                        $"restored up to transaction {txid}, the last good moment before it");
                }

                var notes = new List<string>();
                if (atEnd && stop is null && catalog.LogTail is { } tail)
                {
                    notes.Add($"{tail}; restored up to transaction {txid}");
                }

                var wanted = target.Txid is not null || target.At is not null;
                var reachedTarget = stop is null || (target.Txid is { } t && txid >= t);
                Files.TestPause.At("archive-restore-built");
                var check = Check(temporary, target.ConfigureConnection, notes);
                if (check != "ok")
                {
                    throw new WaldenArchiveException(
                        $"The database rebuilt from '{source.Name}' up to transaction {txid} fails integrity_check ({check}); nothing was written to '{outputPath}'.",
                        isDamaged: true);
                }

                File.Move(temporary, outputPath, overwrite: false);
                Native.Posix.FsyncDirectory(folder);
                var bytes = new FileInfo(outputPath).Length;
                var seconds = Stopwatch.GetElapsedTime(started).TotalSeconds;
                if (stop is not null)
                {
                    problems.Add(stop);
                }
                else if (target.Txid is { } wantedTxid && txid < wantedTxid)
                {
                    stop = $"the archive ends at transaction {txid}, before the requested {wantedTxid}";
                    problems.Add(stop);
                    reachedTarget = false;
                }

                return new WaldenArchiveRestoreResult(outputPath, header.BaseId, txid, FromMicros(micros), bytes, seconds,
                    Complete: stop is null || (wanted && reachedTarget), problems.Count == 0 ? null : string.Join("; ", problems))
                {
                    Note = notes.Count == 0 ? null : string.Join(" ", notes),
                };
            }
            finally
            {
                DeleteTemporary(temporary);
            }
        }

        throw new WaldenArchiveException(
            $"'{source.Name}' holds no usable base snapshot at or before the requested moment" +
            (problems.Count + skipped.Count > 0 ? $" ({string.Join("; ", problems.Concat(skipped.Select(s => s.Problem)))})" : string.Empty) + ". Nothing was written." +
            (spans.Count > 0 ? $" Its readable bases hold {RestorableSpans.Describe(RestorableSpans.Merge(spans))}." : string.Empty),
            isDamaged: true);
    }

    /// <summary>Applies the base's segments; returns the last transaction applied and why it stopped early (null: reached the end or the target).</summary>
    private static (long Txid, long Micros, string? Stop) Apply(IWaldenArchiveDestination source, ArchiveCatalog catalog, DecodedBase header,
        string path, long targetTxid, long targetMicros, DateTimeOffset? targetAt, CancellationToken cancellationToken)
    {
        var next = header.Txid + 1;
        var chain = header.Chain;
        var segments = catalog.Restorable(header.BaseId);
        var byFirst = segments.ToLookup(s => s.First);
        var last = segments.Count == 0 ? header.Txid : segments.Max(s => s.Last);
        using var applier = new SegmentApplier(path, header.PageSize, Path.GetDirectoryName(path)!) { Applied = (header.Txid, header.TimeMicros) };
        try
        {
            while (next <= targetTxid && next <= last)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var candidates = byFirst[next].OrderByDescending(s => s.Last).ToList();
                var applied = applier.Applied;
                if (candidates.Count == 0)
                {
                    var following = segments.Where(s => s.First > next).OrderBy(s => s.First).FirstOrDefault();
                    return (applied.Txid, applied.Micros, $"transactions {next}..{(following?.First - 1)?.ToString(CultureInfo.InvariantCulture) ?? "?"} " +
                        $"of base {header.BaseId} are missing (no segment starts at {next}); restored up to transaction {applied.Txid}, the last good moment");
                }

                // Each candidate is checked whole (its SHA-256, read once a part at a time) before any of its pages is written.
                (Stream Stream, DecodedSegment Header, int Version, ArchiveObjectName Name)? chosen = null;
                string? damage = null;
                foreach (var candidate in candidates)
                {
                    try
                    {
                        var opened = applier.Open(catalog.Open(source, candidate));
                        if (!opened.Header.PreviousChain.AsSpan().SequenceEqual(chain) || opened.Header.BaseId != header.BaseId)
                        {
                            opened.Stream.Dispose();
                            throw new InvalidDataException("it does not continue the chain of the transactions before it");
                        }

                        chosen = (opened.Stream, opened.Header, opened.Version, candidate);
                        break;
                    }
                    catch (Exception ex) when ((ex is IOException or InvalidDataException or UnauthorizedAccessException) && !Files.IoErrors.IsWriteSide(ex))
                    {
                        damage ??= $"segment {candidate.Name} is unusable ({ex.Message})";
                    }
                }

                if (chosen is not { } read)
                {
                    return (applied.Txid, applied.Micros, $"{damage}; restored up to transaction {applied.Txid}, the last good moment before it");
                }

                using (read.Stream)
                {
                    try
                    {
                        if (applier.Apply(read.Stream, read.Header, read.Version, (txid, micros) => txid > targetTxid || micros > targetMicros))
                        {
                            // The first transaction past the time asked holds what changed while the archive was not watching,
                            // without times: the state at that time is unknown, whatever side objects the archive holds.
                            if (applier.StoppedBefore is { CatchUp: true, Micros: var stopMicros } && stopMicros > targetMicros
                                && applier.Applied.Micros < targetMicros && targetAt is { } asked)
                            {
                                var window = new ContinuedChain(applier.Applied.Txid, FromMicros(applier.Applied.Micros), FromMicros(stopMicros));
                                throw new WaldenArchiveException(RestorableSpans.Unknown([window], new WaldenArchiveRestoreOptions { At = asked }, source.Name)
                                    ?? $"'{source.Name}' cannot restore the state as of {asked:O}: transaction {window.Txid + 1} holds changes made while the archive was not watching, without their times. Nothing was written.");
                            }

                            return (applier.Applied.Txid, applier.Applied.Micros, null);
                        }
                    }
                    catch (Exception ex) when ((ex is IOException or InvalidDataException) && !Files.IoErrors.IsWriteSide(ex))
                    {
                        // A segment that cannot be read or decoded (the output's full or read-only folder is not the archive's
                        // fault: that goes up as such). Whole transactions up to here were applied in order: the file is the
                        // state after the last of them.
                        var at = applier.Applied;
                        return (at.Txid, at.Micros,
                            $"segment {read.Name.Name} is unusable at transaction {at.Txid + 1} ({ex.Message}); restored up to transaction {at.Txid}, " +
                            "the last good moment before it");
                    }
                }

                chain = read.Header.LastChain;
                next = read.Header.LastTxid + 1;
            }

            return (applier.Applied.Txid, applier.Applied.Micros, null);
        }
        finally
        {
            applier.Flush();
        }
    }

    /// <summary>
    /// <c>PRAGMA integrity_check</c> of the rebuilt file: "ok", or its findings. A schema that names the application's
    /// collations or functions is checked with them (<paramref name="configure"/>) or with stand-ins, and what stand-ins
    /// could not verify goes into <paramref name="notes"/>: before, such a schema (Android's LOCALIZED) made every restore,
    /// verification and drill fail with "no such collation sequence".
    /// </summary>
    private static string Check(string path, Action<SqliteConnection>? configure, List<string> notes)
    {
        try
        {
            return CheckOrThrow(path, configure, notes);
        }
        catch (SqliteException ex) when (ex.SqliteErrorCode is 11 or 26) // SQLITE_CORRUPT, SQLITE_NOTADB: a finding, said as one
        {
            return ex.Message;
        }
    }

    private static string CheckOrThrow(string path, Action<SqliteConnection>? configure, List<string> notes)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        connection.Open();
        configure?.Invoke(connection);
        var standIns = new Configuration.StandIns();
        var (findings, setAside) = Integrity.IntegrityChecker.RunSettingAsideStandIns(connection, standIns, WaldenIntegrityCheck.Full);
        notes.AddRange(standIns.Notes);
        notes.AddRange(setAside);

        // The copy carries the WAL flag of its source; fold any -wal SQLite made into the file before it is moved.
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA wal_checkpoint(TRUNCATE)";
        command.ExecuteNonQuery();
        return findings.Count == 0 ? "ok" : string.Join(" | ", findings);
    }

    private static void DeleteTemporary(string path)
    {
        foreach (var file in new[] { path, path + "-wal", path + "-shm", path + "-journal" })
        {
            if (File.Exists(file))
            {
                File.Delete(file); // our own scratch file, never an original
            }
        }
    }

    internal static DateTimeOffset FromMicros(long micros) => DateTimeOffset.UnixEpoch.AddTicks(micros * 10);
}

/// <summary>The objects of an archive, grouped by base.</summary>
internal sealed class ArchiveCatalog
{
    internal List<ArchiveObjectName> Bases { get; } = [];

    internal Dictionary<long, List<ArchiveObjectName>> Segments { get; } = [];

    internal Dictionary<string, long> Lengths { get; } = [];

    /// <summary>
    /// The lineage of the one database whose archive this is (its <c>lineage-&lt;id&gt;</c> object, <see cref="ArchiveLineage"/>);
    /// null when it holds none (begun before lineages) or several (two databases claimed it at once): no base is judged by it.
    /// </summary>
    internal string? Lineage { get; private set; }

    /// <summary>The resume claims: where an open continued a base's chain (Archiver.Continue.cs), by name.</summary>
    internal Dictionary<string, (long BaseId, long Txid, int Index)> Resumes { get; } = [];

    /// <summary>Segments that are records of the open Sync append log of a folder destination (not objects yet), by name.</summary>
    internal Dictionary<string, LoggedSegment> Logged { get; } = [];

    /// <summary>The append log ends in a record cut short by a crash (never acknowledged, left out); null when not.</summary>
    internal string? LogTail { get; private set; }

    /// <summary>The append log holds a damaged record with records after it; null when not.</summary>
    internal string? LogDamage { get; private set; }

    /// <summary>The segments and log records of a base, everything a restore may apply.</summary>
    internal List<ArchiveObjectName> Restorable(long baseId) =>
        [.. (Segments.TryGetValue(baseId, out var list) ? list : []), .. Logged.Values.Where(l => l.Name.BaseId == baseId).Select(l => l.Name)];

    /// <summary>Opens a segment or a log record of this catalog.</summary>
    internal Stream Open(IWaldenArchiveDestination source, ArchiveObjectName name) =>
        Logged.TryGetValue(name.Name, out var logged)
            ? new MemoryStream(logged.Bytes ?? throw new InvalidOperationException("the catalog was read without the log's bytes"), writable: false)
            : source.OpenRead(name.Name);

    /// <param name="source">The destination.</param>
    /// <param name="includeLog">Also the records of a folder destination's append log (false: objects only, for compaction).</param>
    /// <param name="logBytes">Copy the log records' bytes, for <see cref="Open"/> (false: their names only, for retention).</param>
    internal static ArchiveCatalog Read(IWaldenArchiveDestination source, bool includeLog = true, bool logBytes = true)
    {
        var catalog = new ArchiveCatalog();
        if (includeLog && source is WaldenFolderDestination folder)
        {
            // Read before the listing: a seal that stores a run and recycles the log in between then shows the run as an
            // object, never as in neither.
            var log = folder.ReadLog(logBytes);
            foreach (var record in log.Records)
            {
                catalog.Logged[record.Name.Name] = record;
                catalog.Lengths[record.Name.Name] = record.Length;
            }

            catalog.LogTail = log.Tail;
            catalog.LogDamage = log.Damage;
        }

        var lineages = new List<string>();
        foreach (var item in source.List(string.Empty))
        {
            if (ArchiveFormat.Parse(item.Name) is not { } parsed)
            {
                if (ArchiveFormat.ParseResume(item.Name) is { } resume)
                {
                    catalog.Resumes[item.Name] = resume;
                }
                else if (ArchiveLineage.IdOf(item.Name) is { } lineage)
                {
                    lineages.Add(lineage);
                }

                continue;
            }

            catalog.Lengths[item.Name] = item.Length;
            if (parsed.IsBase)
            {
                catalog.Bases.Add(parsed);
            }
            else
            {
                if (!catalog.Segments.TryGetValue(parsed.BaseId, out var list))
                {
                    catalog.Segments[parsed.BaseId] = list = [];
                }

                list.Add(parsed);
            }
        }

        catalog.Lineage = lineages is [var only] ? only : null;
        return catalog;
    }
}
