using System.Globalization;
using System.Text;
using Walden.Archiving;

namespace Walden;

/// <summary>
/// Point-in-time restore, verification and status of an archive written by <see cref="WaldenOptions.Archive"/>.
/// These work on the archive alone (the database need not exist). The CLI's <c>walden restore &lt;archive-dir&gt;</c> and
/// <c>walden archive verify|status</c> call them.
/// </summary>
public static class WaldenArchive
{
    private const string VerificationPrefix = "verifications/";
    private const string DrillPrefix = "walden-archive-drill-";

    /// <summary>
    /// Builds the database as of <paramref name="options"/> (default: the latest) at <paramref name="outputPath"/>, which
    /// must not exist. Verifies every segment's checksum and the contiguity of transactions on the way, and the result
    /// with <c>PRAGMA integrity_check</c>. A missing or damaged segment stops it at the last good moment before it:
    /// <see cref="WaldenArchiveRestoreResult.Complete"/> is then false and <see cref="WaldenArchiveRestoreResult.Problem"/>
    /// names the segment.
    /// </summary>
    /// <exception cref="WaldenArchiveException">The output, its -wal, -shm or -journal, or its staging folder (<c>&lt;output&gt;-archive-staging</c>, left by a database that was at that path) exists; the archive folder is missing or a file; the target is
    /// before the first restorable moment, after the last transaction, or in a run of transactions the archive holds only
    /// inside a later base (the message names the first and last, or the nearest, restorable moments); the archive has no
    /// usable base at or before the target; or the rebuilt database fails integrity_check. Nothing is written.</exception>
    /// <exception cref="WaldenDiskFullException">The output's folder is full (nothing is written).</exception>
    /// <exception cref="WaldenReadOnlyException">The output's folder is read-only or may not be written by this user.</exception>
    public static Task<WaldenArchiveRestoreResult> RestoreAsync(string archiveDirectory, string outputPath,
        WaldenArchiveRestoreOptions? options = null, CancellationToken cancellationToken = default) =>
        RestoreAsync(new WaldenFolderDestination(archiveDirectory), outputPath, options, cancellationToken);

    /// <summary>As <see cref="RestoreAsync(string, string, WaldenArchiveRestoreOptions?, CancellationToken)"/>, from any destination.</summary>
    public static Task<WaldenArchiveRestoreResult> RestoreAsync(IWaldenArchiveDestination source, string outputPath,
        WaldenArchiveRestoreOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentException.ThrowIfNullOrWhiteSpace(outputPath);
        options ??= new WaldenArchiveRestoreOptions();
        if (options.At is not null && options.Txid is not null)
        {
            throw new ArgumentException("Give either At or Txid, not both.", nameof(options));
        }

        return Task.Run(() =>
        {
            var result = ArchiveRestorer.Restore(source, outputPath, options, cancellationToken);
            ContinueLineage(source, outputPath);
            return result;
        }, cancellationToken);
    }

    /// <summary>
    /// The restored file continues the archive's lineage (<see cref="ArchiveLineage"/>): opened with the same destination, it
    /// archives on into it instead of being refused as another database. Best effort: the restore itself is done, and an
    /// archive with no lineage (begun before lineages) or with two has none to hand on.
    /// </summary>
    private static void ContinueLineage(IWaldenArchiveDestination source, string outputPath)
    {
        try
        {
            if (ArchiveLineage.InArchive(source) is [var id])
            {
                ArchiveLineage.WriteLocal(ArchiveLineage.StagingFolder(Path.GetFullPath(outputPath)), id);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The database is restored; opening it with that archive says how to write the id by hand.
        }
    }

    /// <summary>
    /// Restores the latest state into a scratch file (deleted afterwards) and records the outcome in the archive
    /// (<c>verifications/</c>), where <see cref="GetStatusAsync(string, CancellationToken)"/> reports it. An archive that
    /// cannot be written (read-only, full, a user or credentials that may only read) is still verified; the result says
    /// why the outcome was not recorded (<see cref="WaldenArchiveRestoreResult.RecordingProblem"/>).
    /// </summary>
    /// <exception cref="WaldenArchiveException">The archive folder is missing or is a file.</exception>
    /// <exception cref="WaldenDiskFullException">The temporary folder (TMPDIR) cannot take the scratch copy; nothing is recorded.</exception>
    /// <exception cref="WaldenReadOnlyException">The temporary folder cannot be written; nothing is recorded.</exception>
    public static Task<WaldenArchiveRestoreResult> VerifyAsync(string archiveDirectory, CancellationToken cancellationToken = default) =>
        VerifyAsync(new WaldenFolderDestination(archiveDirectory), TimeProvider.System, cancellationToken);

    /// <summary>As <see cref="VerifyAsync(string, CancellationToken)"/>, for any destination (e.g. an S3 bucket).</summary>
    public static Task<WaldenArchiveRestoreResult> VerifyAsync(IWaldenArchiveDestination source, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        return VerifyAsync(source, TimeProvider.System, cancellationToken);
    }

    internal static Task<WaldenArchiveRestoreResult> VerifyAsync(IWaldenArchiveDestination source, TimeProvider time,
        CancellationToken cancellationToken) =>
        Task.Run(() =>
        {
            // On demand, the older bases' chains too (ArchiveHistory); the standing drill restores the latest state only, since
            // a new base (its answer to a failure) cannot mend an older chain, which retention removes in its time.
            var result = Verify(source, time, cancellationToken);
            var history = ArchiveHistory.Problems(source, result.BaseId, cancellationToken);
            return history.Count == 0 ? result : result with { HistoryProblems = history };
        }, cancellationToken);

    /// <param name="source">The archive.</param>
    /// <param name="time">The clock of the record.</param>
    /// <param name="cancellationToken">Cancels the restore.</param>
    /// <param name="scratchParent">Where the scratch folder goes (tests); null: the temporary folder.</param>
    /// <param name="configure">The application's collations and functions for the check (the drill: the database's own); null: stand-ins.</param>
    internal static WaldenArchiveRestoreResult Verify(IWaldenArchiveDestination source, TimeProvider time, CancellationToken cancellationToken,
        string? scratchParent = null, Action<Microsoft.Data.Sqlite.SqliteConnection>? configure = null)
    {
        EnsureReadable(source);
        DirectoryInfo scratch;
        Files.OwnerLock? owner = null;
        try
        {
            // A scratch folder a killed verification left (its owner lock is free) is removed; a running one's is left alone.
            var parent = scratchParent ?? Path.GetTempPath();
            Files.OwnerLock.RemoveAbandoned(parent, DrillPrefix + "*" + Files.OwnerLock.Suffix, Directory.Exists);
            var path = Path.Combine(parent, DrillPrefix + Guid.NewGuid().ToString("N"));
            owner = Files.OwnerLock.Claim(path); // before the folder exists, so a killed run never leaves an unowned one
            scratch = OperatingSystem.IsWindows()
                ? Directory.CreateDirectory(path)
                : Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            owner?.Dispose();
            throw ScratchError(source, ex, scratchParent);
        }

        using var claimed = owner;
        try
        {
            WaldenArchiveRestoreResult result;
            try
            {
                result = ArchiveRestorer.Restore(source, Path.Combine(scratch.FullName, "drill.db"),
                    new WaldenArchiveRestoreOptions { ConfigureConnection = configure }, cancellationToken);
            }
            catch (WaldenArchiveException ex)
            {
                result = new WaldenArchiveRestoreResult(string.Empty, 0, 0, default, 0, 0, Complete: false, ex.Message);
            }
            catch (WaldenException ex) when (ex is WaldenDiskFullException or WaldenReadOnlyException)
            {
                throw ScratchError(source, ex, scratchParent); // the scratch folder's fault, not the archive's: nothing is recorded in it
            }

            if (!result.Complete && ArchiveCatalog.Read(source, includeLog: true, logBytes: false).Bases.Count == 0)
            {
                // Not an archive (or not one yet): nothing is written into a location that holds no base.
                return result with { RecordingProblem = "nothing is written into a location that is not an archive (yet)" };
            }

            var now = time.GetUtcNow();
            // The furthest any verification reached is carried from record to record (after the problem, which older readers
            // take as the last field), so the archive keeps the evidence of what it held even after one that fails.
            var reach = LastVerification(source) is { VerifiedThroughTxid: { } before, VerifiedThroughAt: { } beforeAt } ? (before, beforeAt) : (0L, default(DateTimeOffset));
            if (result.Complete && result.Txid >= reach.Item1)
            {
                reach = (result.Txid, now);
            }

            var line = string.Create(CultureInfo.InvariantCulture,
                $"{now:O}\t{(result.Complete ? "ok" : "failed")}\t{result.BaseId}\t{result.Txid}\t{result.Problem?.Replace('\t', ' ')}\t{reach.Item1}\t{reach.Item2:O}");
            string? recordingProblem = null;
            try
            {
                using var content = new MemoryStream(Encoding.UTF8.GetBytes(line));
                source.Put(VerificationName(source, now), content);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // The outcome is returned either way; a read-only archive cannot keep the record, and the caller is told so
                // (it was silent: status went on showing the verification before as the last one).
                recordingProblem = $"'{source.Name}' cannot be written ({ex.Message.TrimEnd('.')})";
            }

            return result with { Path = string.Empty, RecordingProblem = recordingProblem };
        }
        finally
        {
            scratch.Delete(recursive: true);
        }
    }

    /// <summary>Lists an archive's bases and segments, the first and last restorable moment, sizes and the last verification.</summary>
    public static Task<WaldenArchiveStatus> GetStatusAsync(string archiveDirectory, CancellationToken cancellationToken = default) =>
        Task.Run(() => GetStatus(new WaldenFolderDestination(archiveDirectory)), cancellationToken);

    /// <summary>As <see cref="GetStatusAsync(string, CancellationToken)"/>, for any destination (e.g. an S3 bucket).</summary>
    public static Task<WaldenArchiveStatus> GetStatusAsync(IWaldenArchiveDestination source, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        return Task.Run(() => GetStatus(source), cancellationToken);
    }

    internal static WaldenArchiveStatus GetStatus(IWaldenArchiveDestination source)
    {
        EnsureReadable(source);
        var catalog = ArchiveCatalog.Read(source);
        var bases = new List<WaldenArchiveBaseInfo>();
        foreach (var item in catalog.Bases.OrderBy(b => b.BaseId))
        {
            var segments = catalog.Restorable(item.BaseId);
            try
            {
                using var stream = source.OpenRead(item.Name);
                var header = ArchiveFormat.DecodeBase(stream, null);
                if (RestorableSpans.ForeignBase(catalog, item, header) is { } foreign)
                {
                    throw new InvalidDataException(foreign);
                }

                // The span the restore's choice of the latest chain uses: up to the first hole in the names, and a damaged
                // last segment leaves the reach its name gives rather than making the row a problem.
                var span = RestorableSpans.Of(source, catalog, item, header);
                bases.Add(new WaldenArchiveBaseInfo(item.BaseId, header.Txid, span.FirstTime, catalog.Lengths[item.Name], header.DatabaseBytes,
                    segments.Count, segments.Sum(s => catalog.Lengths[s.Name]), span.LastTxid, span.LastTime));
            }
            catch (Exception ex) when (ex is IOException or InvalidDataException or EndOfStreamException)
            {
                bases.Add(new WaldenArchiveBaseInfo(item.BaseId, -1, default, catalog.Lengths[item.Name], 0, segments.Count,
                    segments.Sum(s => catalog.Lengths[s.Name]), -1, default) { Problem = ex.Message });
            }
        }

        var verification = LastVerification(source);
        var usable = bases.Where(b => b.Problem is null)
            .Select(b => new RestorableSpan(b.BaseId, b.Txid, b.Time, b.LastTxid, b.LastTime)).ToList();
        return new WaldenArchiveStatus(source.Name, bases, verification)
        {
            UnknownWindows = [.. RestorableSpans.Continuations(source, catalog).OrderBy(c => c.Txid)
                .Select(c => new WaldenArchiveUnknownWindow(c.Txid, c.After, c.At))],
            Logs = LogsOf(catalog),
            Lineages = ArchiveLineage.InArchive(source),
            Problem = RestorableSpans.Conflict(usable, source.Name)?.Replace(" and restore again. Nothing was written.", ".", StringComparison.Ordinal),
        };
    }

    /// <summary>The append log files holding records not yet sealed into a segment (a Sync archive in a folder).</summary>
    private static List<WaldenArchiveLogInfo> LogsOf(ArchiveCatalog catalog)
    {
        var logs = new List<WaldenArchiveLogInfo>();
        foreach (var file in catalog.Logged.Values.GroupBy(l => l.Name.Name[..l.Name.Name.IndexOf('@', StringComparison.Ordinal)]).OrderBy(g => g.Key))
        {
            var problem = new[] { catalog.LogDamage, catalog.LogTail }.FirstOrDefault(p => p?.Contains(file.Key, StringComparison.Ordinal) == true);
            logs.Add(new WaldenArchiveLogInfo(file.Key, file.Count(), file.Sum(l => l.Length), file.Min(l => l.Name.First), file.Max(l => l.Name.Last),
                [.. file.Select(l => l.Name.BaseId).Distinct().Order()]) { Problem = problem });
        }

        foreach (var problem in new[] { catalog.LogDamage, catalog.LogTail }.OfType<string>())
        {
            // A log file whose first record is already damaged or cut short has no valid record: listed for its problem alone.
            var file = ArchiveAppendLog.FileNames.FirstOrDefault(n => problem.Contains(n, StringComparison.Ordinal));
            if (file is not null && logs.TrueForAll(l => l.File != file))
            {
                logs.Add(new WaldenArchiveLogInfo(file, 0, 0, 0, 0, []) { Problem = problem });
            }
        }

        return logs;
    }

    /// <summary>
    /// The error for a verification that could not build its scratch copy (the temporary folder is full or cannot be written):
    /// names that folder and TMPDIR, never the scratch file as an output the user chose, and says the archive was not judged.
    /// </summary>
    private static WaldenException ScratchError(IWaldenArchiveDestination source, Exception ex, string? scratchParent)
    {
        var temp = scratchParent ?? Path.GetTempPath();
        var full = ex is WaldenDiskFullException || ex is IOException { HResult: 28 or 122 } ||
                   ex.Message.Contains("No space left", StringComparison.Ordinal);
        var message = $"Verifying '{source.Name}' restores it into a scratch file in the temporary folder '{temp}' (TMPDIR), which " +
                      (full ? "is full" : "cannot be written") + ". The archive itself was not judged. " +
                      (full ? "Free space there, or set TMPDIR to a folder on a disk with room for the whole database."
                            : "Set TMPDIR to a folder this user may write.");
        return full
            ? new WaldenDiskFullException(message, Errors.SqliteErrors.Full, Errors.SqliteErrors.Full, ex)
            : new WaldenReadOnlyException(message, Errors.SqliteErrors.ReadOnly, Errors.SqliteErrors.ReadOnly, ex);
    }

    /// <summary>A folder archive to read must be a folder: a missing one, or a file, is refused saying what to give instead.</summary>
    /// <exception cref="WaldenArchiveException">The folder does not exist or is a file.</exception>
    internal static void EnsureReadable(IWaldenArchiveDestination source)
    {
        if (source is WaldenFolderDestination folder && WaldenFolderDestination.FolderProblem(folder.Path, writing: false) is { } problem)
        {
            throw new WaldenArchiveException(problem, isTransient: false, folder.Name, innerException: null);
        }
    }

    internal static DateTimeOffset? SegmentLastTime(Stream segment)
    {
        using var stream = segment;
        var header = new byte[ArchiveFormat.HeaderBytes];
        stream.ReadExactly(header);
        return ArchiveRestorer.FromMicros(System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(header.AsSpan(48)));
    }

    /// <summary>
    /// The name of a verification written at <paramref name="now"/>: its ticks, or one more than the newest one's when that
    /// is later (a clock put back), so the newest written is always the one <see cref="LastVerification"/> finds. Named
    /// by the clock alone, a drill that failed after the clock was put back sorted before an earlier one that passed, and
    /// the next open took the pass as the last word (ArchiveBaseCheckBreakerTests).
    /// </summary>
    private static string VerificationName(IWaldenArchiveDestination source, DateTimeOffset now)
    {
        var ticks = now.UtcTicks;
        if (Newest(source) is { } newest && newest.Ticks >= ticks)
        {
            ticks = newest.Ticks + 1;
        }

        return string.Create(CultureInfo.InvariantCulture, $"{VerificationPrefix}{ticks:D20}.txt");
    }

    /// <summary>The verification object with the largest number in its name (names that are not one are ignored), or null.</summary>
    private static (WaldenArchiveObject Object, long Ticks)? Newest(IWaldenArchiveDestination source)
    {
        (WaldenArchiveObject, long)? newest = null;
        foreach (var item in source.List(VerificationPrefix))
        {
            var name = item.Name.AsSpan(VerificationPrefix.Length);
            if (name.EndsWith(".txt", StringComparison.Ordinal) &&
                long.TryParse(name[..^4], NumberStyles.None, CultureInfo.InvariantCulture, out var ticks) &&
                ticks < long.MaxValue && (newest is null || ticks > newest.Value.Item2))
            {
                newest = (item, ticks);
            }
        }

        return newest;
    }

    internal static WaldenArchiveVerification? LastVerification(IWaldenArchiveDestination source)
    {
        var last = Newest(source)?.Object;
        if (last is null)
        {
            return null;
        }

        using var reader = new StreamReader(source.OpenRead(last.Name));
        var parts = reader.ReadToEnd().Split('\t');
        if (parts.Length < 5 || !DateTimeOffset.TryParse(parts[0], CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var at))
        {
            return null;
        }

        var ok = parts[1] == "ok";
        var txid = long.Parse(parts[3], CultureInfo.InvariantCulture);
        long? through = ok ? txid : null;
        DateTimeOffset? throughAt = ok ? at : null;
        if (parts.Length >= 7 && long.TryParse(parts[5], NumberStyles.None, CultureInfo.InvariantCulture, out var reach) && reach > 0 &&
            DateTimeOffset.TryParse(parts[6], CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out var reachAt))
        {
            (through, throughAt) = (reach, reachAt);
        }

        return new WaldenArchiveVerification(at, ok, long.Parse(parts[2], CultureInfo.InvariantCulture), txid, parts[4].Length == 0 ? null : parts[4])
        {
            VerifiedThroughTxid = through,
            VerifiedThroughAt = throughAt,
        };
    }
}

/// <summary>What moment <see cref="WaldenArchive.RestoreAsync(string, string, WaldenArchiveRestoreOptions?, CancellationToken)"/> restores.</summary>
public sealed class WaldenArchiveRestoreOptions
{
    /// <summary>The state as of this moment: every transaction committed at or before it.</summary>
    /// <value>The default value is null: the latest.</value>
    public DateTimeOffset? At { get; set; }

    /// <summary>The state after this transaction id (as listed by <c>walden archive status</c>).</summary>
    /// <value>The default value is null: the latest.</value>
    public long? Txid { get; set; }

    /// <summary>
    /// Registers the application's own collations and SQL functions on the connection that checks the restored database
    /// (<c>PRAGMA integrity_check</c>), as <see cref="WaldenOptions.ConfigureConnection"/> does on the database's own.
    /// Without them, a schema that names them (Android's <c>LOCALIZED</c> collation, a <c>CHECK(valid_email(x))</c>) is
    /// checked with stand-ins (a collation in binary order, a function returning NULL): every page and row is still checked,
    /// the indexes that use a stand-in cannot be, and <see cref="WaldenArchiveRestoreResult.Note"/> names them.
    /// </summary>
    /// <value>The default value is null: stand-ins for whatever the schema names that is not SQLite's own.</value>
    public Action<Microsoft.Data.Sqlite.SqliteConnection>? ConfigureConnection { get; set; }
}

/// <summary>What a restore produced.</summary>
/// <param name="Path">The restored database (empty for a verification).</param>
/// <param name="BaseId">The base snapshot it started from.</param>
/// <param name="Txid">The last transaction applied.</param>
/// <param name="Time">When that transaction was committed.</param>
/// <param name="Bytes">Size of the restored database in bytes.</param>
/// <param name="Seconds">How long the restore took.</param>
/// <param name="Complete">False when it stopped early at a missing or damaged segment (or the archive ends before the target).</param>
/// <param name="Problem">Why it stopped early, naming the segment; null when nothing was wrong.</param>
public sealed record WaldenArchiveRestoreResult(string Path, long BaseId, long Txid, DateTimeOffset Time, long Bytes, double Seconds,
    bool Complete, string? Problem)
{
    /// <summary>
    /// What the restore left out that was never acknowledged: the last record of a Sync archive's append log, cut short by
    /// a crash while it was being stored (restore stops before it); and what its integrity_check could not verify: the
    /// indexes that use the application's collations or functions, checked with stand-ins (see
    /// <see cref="WaldenArchiveRestoreOptions.ConfigureConnection"/>). Null when there was neither.
    /// </summary>
    public string? Note { get; init; }

    /// <summary>
    /// For a verification (<see cref="WaldenArchive.VerifyAsync(string, CancellationToken)"/>): why its outcome was not
    /// recorded in the archive (the archive cannot be written: read-only, full, or this user or these credentials may only
    /// read; or the location is not an archive: it holds no base snapshot, and nothing is written into it). The outcome itself stands: then
    /// <see cref="WaldenArchiveStatus.LastVerification"/> still shows the verification recorded before. Null when it was
    /// recorded, and always null for a restore, which records nothing.
    /// </summary>
    public string? RecordingProblem { get; init; }

    /// <summary>
    /// For a verification on demand (<see cref="WaldenArchive.VerifyAsync(string, CancellationToken)"/>): the older bases
    /// whose chain is broken (a segment damaged or missing), each naming the segment and the transactions no restore to a
    /// moment can reach any more; empty when every chain is whole. The latest state (<see cref="Complete"/>) is not affected.
    /// </summary>
    public IReadOnlyList<string> HistoryProblems { get; init; } = [];
}

/// <summary>One base snapshot of an archive and the segments after it.</summary>
/// <param name="BaseId">Its id (the folder name).</param>
/// <param name="Txid">The transaction it includes up to.</param>
/// <param name="Time">When it was taken.</param>
/// <param name="StoredBytes">Its compressed size.</param>
/// <param name="DatabaseBytes">The size of the database it holds.</param>
/// <param name="Segments">How many segments follow it.</param>
/// <param name="SegmentBytes">Their total size.</param>
/// <param name="LastTxid">The last transaction its segments reach by name, up to the first hole in their names (restore checks their content).</param>
/// <param name="LastTime">When that transaction was committed.</param>
public sealed record WaldenArchiveBaseInfo(long BaseId, long Txid, DateTimeOffset Time, long StoredBytes, long DatabaseBytes,
    int Segments, long SegmentBytes, long LastTxid, DateTimeOffset LastTime)
{
    /// <summary>Why its header could not be read, or null.</summary>
    public string? Problem { get; init; }
}

/// <summary>The outcome of the last verification (restore drill or <c>walden archive verify</c>).</summary>
/// <param name="At">When it ran.</param>
/// <param name="Ok">True when the latest state restored completely and passed integrity_check.</param>
/// <param name="BaseId">The base it restored from.</param>
/// <param name="Txid">The last transaction it reached.</param>
/// <param name="Problem">What failed, naming the segment; null when ok.</param>
public sealed record WaldenArchiveVerification(DateTimeOffset At, bool Ok, long BaseId, long Txid, string? Problem)
{
    /// <summary>
    /// The furthest transaction any verification of this archive restored (this one or one before it, carried from record
    /// to record), or null when none succeeded. An archive whose latest state now ends before it has lost transactions it
    /// once held (a segment deleted, a copy made in part): restore and verify of the latest then say so and are not complete.
    /// </summary>
    public long? VerifiedThroughTxid { get; init; }

    /// <summary>When the verification that reached <see cref="VerifiedThroughTxid"/> ran, or null.</summary>
    public DateTimeOffset? VerifiedThroughAt { get; init; }
}

/// <summary>
/// An append log file of a Sync archive in a folder (<c>sync-0.wlog</c>, <c>sync-1.wlog</c>) holding records not yet sealed
/// into a segment: acknowledged transactions that every restore reads from there.
/// </summary>
/// <param name="File">The file's name in the archive folder.</param>
/// <param name="Records">Its valid records (one per Sync batch).</param>
/// <param name="Bytes">Their size in bytes.</param>
/// <param name="FirstTxid">The first transaction they hold (0 when none).</param>
/// <param name="LastTxid">The last transaction they hold (0 when none).</param>
/// <param name="BaseIds">The bases the records follow.</param>
public sealed record WaldenArchiveLogInfo(string File, int Records, long Bytes, long FirstTxid, long LastTxid, IReadOnlyList<long> BaseIds)
{
    /// <summary>A damaged record, or a last record cut short by a crash (never acknowledged), found in it; null when none.</summary>
    public string? Problem { get; init; }
}

/// <summary>The content of an archive.</summary>
/// <param name="Destination">The archive's location.</param>
/// <param name="Bases">Its base snapshots, oldest first.</param>
/// <param name="LastVerification">The last verification recorded in it, or null.</param>
public sealed record WaldenArchiveStatus(string Destination, IReadOnlyList<WaldenArchiveBaseInfo> Bases, WaldenArchiveVerification? LastVerification)
{
    /// <summary>
    /// The append log files holding records not yet sealed into a segment (a Sync archive in a folder; empty otherwise).
    /// Their records are also counted in their base's <see cref="WaldenArchiveBaseInfo.Segments"/>.
    /// </summary>
    public IReadOnlyList<WaldenArchiveLogInfo> Logs { get; init; } = [];

    /// <summary>
    /// Why a restore of this archive is refused although it lists usable bases (bases of two archives in one folder), or null.
    /// </summary>
    public string? Problem { get; init; }

    /// <summary>
    /// The lineage ids in this archive (objects <c>lineage-&lt;id&gt;</c>): normally one, the database it belongs to (the same
    /// id is in that database's <c>&lt;db&gt;-archive-staging/lineage</c>); none for an archive begun before lineages; several
    /// when two databases claimed it at once (then neither archives into it).
    /// </summary>
    public IReadOnlyList<string> Lineages { get; init; } = [];

    /// <summary>The earliest moment a restore can reach (the oldest base), or null for an empty archive.</summary>
    public DateTimeOffset? FirstRestorable => Bases.Where(b => b.Problem is null).Select(b => (DateTimeOffset?)b.Time).Min();

    /// <summary>
    /// The latest moment: the last commit of the chain that reaches furthest (the one a restore of the latest takes; a
    /// newer base can end before an older base's chain, e.g. a side base left by a crash before the switch to it), or null.
    /// </summary>
    public DateTimeOffset? LastRestorable => Furthest?.LastTime;

    /// <summary>The last transaction id a restore can reach, or null.</summary>
    public long? LastTxid => Furthest?.LastTxid;

    /// <summary>
    /// The windows no restore by time can reach (<c>--at</c> inside one is refused, naming its two ends): each is the time
    /// between the last transaction archived before an open and the transaction that open shipped with what changed while
    /// the archive was not watching (commits not yet archived when it stopped or crashed, another program's writes while it
    /// was closed), whose times are not known. Both ends restore. Oldest first.
    /// </summary>
    public IReadOnlyList<WaldenArchiveUnknownWindow> UnknownWindows { get; init; } = [];

    private WaldenArchiveBaseInfo? Furthest => Bases.Where(b => b.Problem is null).OrderBy(b => b.LastTxid).ThenBy(b => b.BaseId).LastOrDefault();
}

/// <summary>A window of an archive whose moments cannot be restored by time (<see cref="WaldenArchiveStatus.UnknownWindows"/>).</summary>
/// <param name="Txid">The last transaction before the window; transaction <c>Txid + 1</c> ends it.</param>
/// <param name="After">When <paramref name="Txid"/> was committed: the window's start, restorable.</param>
/// <param name="At">When the open that shipped <c>Txid + 1</c> ran: the window's end, restorable.</param>
public sealed record WaldenArchiveUnknownWindow(long Txid, DateTimeOffset After, DateTimeOffset At);
