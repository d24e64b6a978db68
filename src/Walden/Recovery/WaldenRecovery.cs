using Walden.Files;
using Walden.Configuration;

namespace Walden.Recovery;

/// <summary>
/// Recovers a damaged SQLite database (any program's) with SQLite's recover extension, then does what
/// people used to do by hand: gives orphaned rows back to their tables when that is certain, recreates
/// tables from a known schema when the file's own schema page is gone, tries every legal page size when
/// the header's is unreadable, rebuilds full-text indexes, runs ANALYZE when the original had statistics and checks the result.
/// Refuses to run while any process (this one included) has the database open.
/// </summary>
public static class WaldenRecovery
{
    /// <summary>
    /// Writes the recovered database to <paramref name="outputPath"/> (a new file) and leaves the damaged
    /// input untouched. The report says what came back; <see cref="WaldenRecoveryReport.Usable"/> is true
    /// when the output passes integrity_check, even if some data could not be recovered.
    /// </summary>
    /// <exception cref="WaldenDatabaseInUseException">Another process has the input open; the message names the lock found.</exception>
    /// <exception cref="WaldenConfigurationException">A path is wrong (missing input, existing output, missing folder).</exception>
    /// <exception cref="WaldenDiskFullException">The disk of the output is full; the partial output was removed.</exception>
    /// <exception cref="WaldenException">A read or write failed with an I/O error (<see cref="WaldenException.SqliteErrorCode"/> 10,
    /// the extended code says which operation): recovery stops rather than take an unreadable page for damage, and the partial output
    /// was removed.</exception>
    public static Task<WaldenRecoveryReport> RecoverToAsync(string damagedPath, string outputPath, WaldenRecoveryOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(damagedPath);
        ArgumentException.ThrowIfNullOrWhiteSpace(outputPath);
        options = (options ?? new WaldenRecoveryOptions()).Clone();
        return Task.Run(() => RecoverTo(damagedPath, outputPath, options), cancellationToken);
    }

    /// <summary>
    /// Recovers the database in place: the recovered file replaces it in one atomic rename, and the
    /// damaged original with its -wal and -shm is kept in <c>walden-quarantine/</c> beside it, never deleted.
    /// Nothing is swapped when the recovered file does not pass integrity_check.
    /// </summary>
    /// <exception cref="WaldenDatabaseInUseException">Another process has the database open; the message names the lock found.</exception>
    /// <exception cref="WaldenException">The disk is full or failed with an I/O error (<see cref="WaldenException.SqliteErrorCode"/>
    /// 13 or 10) before the swap: the original is left in place, untouched. Also when the swap happened but its folder could not be synced
    /// (the message says so).</exception>
    public static Task<WaldenRecoveryReport> RecoverInPlaceAsync(string path, WaldenRecoveryOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        options = (options ?? new WaldenRecoveryOptions()).Clone();
        return Task.Run(() => RecoverInPlace(path, options), cancellationToken);
    }

    internal static WaldenRecoveryReport RecoverTo(string damagedPath, string outputPath, WaldenRecoveryOptions options)
    {
        Native.SqliteLibrary.RequireWaldenBuild("Recovery");
        var input = CheckInput(damagedPath);
        var output = Path.GetFullPath(outputPath);
        if (OutputPath.Problem(output, "recovered.db") is { } wrongOutput)
        {
            throw new WaldenConfigurationException(wrongOutput);
        }

        if (File.Exists(output) || Directory.Exists(output))
        {
            throw new WaldenConfigurationException($"The output '{output}' already exists. Recovery writes a new file; choose a path that does not exist yet.");
        }

        if (!Directory.Exists(Path.GetDirectoryName(output)))
        {
            throw new WaldenConfigurationException($"The folder of the output '{output}' does not exist. Create it first.");
        }

        LockProbe.EnsureNotInUse(input, "Recovery");
        if (OpenErrors.FolderNotWritable(Path.GetDirectoryName(output)!, $"Recovering '{input}'") is { } readOnly)
        {
            throw new WaldenConfigurationException(readOnly);
        }

        var closedWal = ForeignFile.IsClosedWal(input);
        var walBreak = Integrity.WalChainBreak.Find(input);
        RemoveAbandonedOutputs(Path.GetDirectoryName(output)!);
        var partial = FreePath(output + ".walden-partial");
        using var owner = ClaimOutput(input, partial, $"Recovering '{input}' into '{output}'", "the input is untouched");
        try
        {
            WaldenRecoveryReport report;
            try
            {
                report = WithWalBreak(RecoveryInput.Run(input, partial, source => Produce(source, partial, options)), walBreak,
                    "the input, with its -wal, is left as it was");
            }
            finally
            {
                // The input is left as it was found, also when the recovery failed (a full temporary folder, a disk error):
                // no empty -wal and -shm beside it (SQLite removes them as the last connection; see RemoveReadLeftovers).
                if (closedWal)
                {
                    ForeignFile.RemoveReadLeftovers(input);
                }
            }

            FileModes.Apply(partial, FileModes.Of(input)); // the input's permission bits, never SQLite's default 0644 for a new file
            File.Move(partial, output);
            return report with { OutputPath = output };
        }
        catch
        {
            DeleteOwnOutput(partial);
            throw;
        }
    }

    /// <summary>
    /// Says in the report what SQLite ignored in a damaged -wal (<see cref="Integrity.WalChainBreak"/>): the recovery reads the
    /// database as SQLite does, so the committed transactions past the break are not in the result, which is then incomplete.
    /// </summary>
    private static WaldenRecoveryReport WithWalBreak(WaldenRecoveryReport report, Integrity.WalChainBreak? walBreak, string original) =>
        walBreak is null ? report : report with
        {
            WalCommitsIgnored = walBreak.CommitsPast,
            Notes =
            [
                $"Incomplete: {walBreak.Facts}. They are not in the result and cannot be applied safely (a transaction after the damaged " +
                $"frame may depend on its page); {original}, so they are not lost.",
                .. report.Notes,
            ],
        };

    internal static WaldenRecoveryReport RecoverInPlace(string path, WaldenRecoveryOptions options)
    {
        Native.SqliteLibrary.RequireWaldenBuild("In-place recovery");
        // SQLite follows a symbolic link and keeps the companions beside its target: the target is what is swapped, in its own
        // folder, and kept in quarantine (replacing the link would leave the damaged file in use, and quarantine only the link).
        var input = CheckInput(path);
        input = OpenErrors.RealPath(input) ?? input;
        LockProbe.EnsureNotInUse(input, "In-place recovery");
        Quarantine.EnsureSingleName(input);
        if ((Mounts.WhyUnwritable(Path.GetDirectoryName(input)!) ?? Mounts.WhyUnwritable(input)) is { } unwritable)
        {
            // Not a permission of this user: asked before the first file is created, so the error names the cause, not that file.
            throw new WaldenConfigurationException(
                $"In-place recovery of '{input}' writes the recovered database beside it and swaps it in, and nothing can be changed " +
                $"there: {unwritable} Nothing was changed. To recover it without changing it, write to a new file on a writable disk " +
                "('walden recover <db> --output <new.db>').");
        }

        var closedWal = ForeignFile.IsClosedWal(input);
        var walBreak = Integrity.WalChainBreak.Find(input);
        var before = DatabaseFiles.For(input).Fingerprint();
        RemoveAbandonedOutputs(Path.GetDirectoryName(input)!);
        var recovered = FreePath(Path.Combine(Path.GetDirectoryName(input)!, $".{Path.GetFileName(input)}.walden-recovered"));
        using var owner = ClaimBeside(input, recovered);
        WaldenRecoveryReport report;
        try
        {
            report = WithWalBreak(RecoveryInput.Run(input, recovered, source => Produce(source, recovered, options)), walBreak,
                "the original, with its -wal, is kept in quarantine");
        }
        catch
        {
            DeleteOwnOutput(recovered);
            throw;
        }
        finally
        {
            if (closedWal)
            {
                ForeignFile.RemoveReadLeftovers(input); // the original is kept as it was found, without empty companions, failed or not
            }
        }

        if (!report.Usable)
        {
            DeleteOwnOutput(recovered); // our own output, not the original: the original was not touched
            var why = report.WhyNotUsable ?? (report.MissingObjects.Count > 0
                ? $"the recovered database lacks {string.Join("; ", report.MissingObjects)} of the original"
                : $"the recovered database does not pass integrity_check ({report.IntegrityCheck})");
            throw new WaldenException(
                $"Recovery of '{input}' was not swapped in: {why}. The original was left in place, untouched. " +
                "Try 'walden recover <db> --output <new.db>' to inspect what can be recovered.");
        }

        if (report.ObjectsToRebuild.Count > 0)
        {
            DeleteOwnOutput(recovered); // our own output, not the original: the original was not touched
            throw new WaldenException(
                $"Recovery of '{input}' was not swapped in: the recovered database would hold {report.ObjectsToRebuild.Count} object(s) computed " +
                $"with stand-ins for the application's own collations or functions, wrong for the application until rebuilt: " +
                $"{string.Join("; ", report.ObjectsToRebuild)}. The original was left in place, untouched. Recover to a new file " +
                "('walden recover <db> --output <new.db>'), open it in the application with its collations and functions registered, run the " +
                "statements named, then put it in place; or, from code, set WaldenRecoveryOptions.ConfigureConnection so that Walden rebuilds them.");
        }

        if (options.RefuseSwap?.Invoke(report) is { } refusal)
        {
            var kept = RecoveryAtOpen.Keep(input, recovered, options.TimeProvider);
            throw new WaldenRecoveryIncompleteException(refusal, input, kept, report with { OutputPath = kept });
        }

        WaldenQuarantine? quarantine;
        try
        {
            FileModes.Apply(recovered, FileModes.Of(input)); // the file swapped in keeps the original's permission bits
            FileModes.KeepOwner(recovered, input);           // and its owner, when run as root for a service's database
            var reason = $"Recovered in place by Walden: {report.RowsRecovered:N0} rows recovered, " +
                         $"{report.LostAndFoundRows:N0} in {report.LostAndFoundTable}.";
            quarantine = Quarantine.Swap(input, recovered, reason, options.TimeProvider, before);
        }
        catch
        {
            DeleteOwnOutput(recovered); // not swapped in: the original is untouched
            throw;
        }

        // The notes of the private copy said the reading changed none of the user's files, true of the reading; after the swap
        // the original is in quarantine, and a report that ended "your files were not changed" would not be.
        return report with
        {
            OutputPath = input,
            Quarantine = quarantine,
            Notes = [.. report.Notes.Select(note => note.Replace(ForeignFile.FilesUnchanged,
                "reading it changed nothing (the original, as it was, then went to quarantine)", StringComparison.Ordinal))],
        };
    }

    /// <summary>
    /// Claims the recovered copy's name beside the input: the first file in-place recovery writes. A folder this user may not
    /// write is named as the cause, with nothing changed, rather than the internal owner file that could not be created.
    /// </summary>
    /// <exception cref="WaldenConfigurationException">The input's folder cannot be written by this user.</exception>
    private static OwnerLock ClaimBeside(string input, string recovered)
    {
        try
        {
            return OwnerLock.Claim(recovered);
        }
        catch (IOException ex) when (Errors.DiskSpace.IsFull(ex))
        {
            throw OwnerFull(input, recovered, $"In-place recovery of '{input}'", "the database is untouched and still in use as it was", ex);
        }
        catch (UnauthorizedAccessException ex)
        {
            var folder = Path.GetDirectoryName(input)!;
            throw new WaldenConfigurationException(
                $"In-place recovery of '{input}' writes the recovered database beside it first, and this user may not create files in " +
                $"'{folder}' (permission denied). Nothing was changed. Run it as a user who may write that folder, or recover to a new file " +
                "('walden recover <db> --output <new.db>', WaldenRecovery.RecoverAsync) and put it in place when no program uses the database.", ex);
        }
    }

    /// <summary>Claims the output's base name, a full disk said as such (what is needed, where, and that nothing changed).</summary>
    private static OwnerLock ClaimOutput(string input, string output, string doing, string untouched)
    {
        try
        {
            return OwnerLock.Claim(output);
        }
        catch (IOException ex) when (Errors.DiskSpace.IsFull(ex))
        {
            throw OwnerFull(input, output, doing, untouched, ex);
        }
    }

    /// <summary>
    /// The error for a disk too full for even the owner file a recovery claims first (its own, 0 bytes, removed again): the
    /// message names the folder and the room the recovered database needs, not that internal file.
    /// </summary>
    private static WaldenDiskFullException OwnerFull(string input, string output, string doing, string untouched, IOException inner)
    {
        var folder = Path.GetDirectoryName(output)!;
        return new WaldenDiskFullException(
            $"{doing} failed before it started: the disk holding '{folder}' is full ({Mounts.DescribeFree(folder)}), and the recovered " +
            $"database needs up to about {DatabaseFiles.SizeOf(input) ?? 0:N0} bytes there (the size of '{Path.GetFileName(input)}'). Nothing " +
            $"was created or changed: {untouched}. Free space on '{Mounts.MountOf(folder)}', or recover to another disk with " +
            "'walden recover <db> --output <new.db>', and try again.",
            Errors.SqliteErrors.Full, Errors.SqliteErrors.Full, inner);
    }

    /// <summary>Removes a file this recovery wrote itself (never the input) and its journal.</summary>
    private static void DeleteOwnOutput(string path)
    {
        File.Delete(path);
        File.Delete(path + "-journal");
    }

    /// <summary><paramref name="path"/>, or <c>path-1</c>, <c>-2</c>... when a file of the user's (or its journal) already has that name.</summary>
    private static string FreePath(string path)
    {
        var candidate = path;
        for (var i = 1; File.Exists(candidate) || Directory.Exists(candidate) || File.Exists(candidate + "-journal") || File.Exists(candidate + "-wal"); i++)
        {
            candidate = $"{path}-{i}";
        }

        return candidate;
    }

    private static string CheckInput(string path)
    {
        var input = Path.GetFullPath(path);
        ForeignFile.EnsureExists(input);
        // Nothing to recover from a file with no page in it (empty, cut inside its header) or from another kind of file.
        if (Integrity.IntegrityChecker.Unreadable(input) is { } unreadable)
        {
            throw new WaldenConfigurationException(unreadable.Empty
                ? unreadable.Message + " There is nothing to recover; restore it from a backup if it should hold data."
                : unreadable.Message);
        }

        return input;
    }

    private static WaldenRecoveryReport Produce(string input, string output, WaldenRecoveryOptions options)
    {
        var clock = options.TimeProvider;
        var started = clock.GetTimestamp();
        var header = InputHeader.Read(input); // before any SQLite connection on the input (see InputHeader)
        var hasWal = DatabaseFiles.SizeOf(input + "-wal") is > 0;
        var database = InputDatabase.Read(input, hasWal);
        var known = KnownSchema.Load(options);
        // A schema SQLite refuses to load ("malformed database schema"): the rows that still run are the schema, the others damaged.
        var damaged = new List<DamagedObject>();
        if (header.MagicIntact && database.Schema is null && DamagedSchema.Read(input, options.StandInsEnabled) is { } split)
        {
            damaged = split.Damaged;
            database = database with { Schema = split.Sound };
        }

        var damagedTables = damaged.Where(d => d.Entry.Type == "table" && d.Entry.RootPage > 0).ToList();
        var schemaSql = (database.Schema ?? []).Concat(known?.Objects ?? []).Select(o => o.Sql);
        if (database.Schema is null && !header.MagicIntact && options.StandInsEnabled)
        {
            // SQLite refuses a file without its magic, but its schema page is often intact: the application's collations and
            // functions it names need stand-ins here too, or the extension drops every table using them without a word.
            schemaSql = schemaSql.Concat(SchemaOfRepairedCopy(input, header.PageSize));
        }

        var context = new RecoveryContext(
            options.StandInsEnabled ? StandIns.Discover(schemaSql) : new StandIns(),
            RecoveryContext.FreeLostAndFoundName(database.Names.Concat(known?.Objects.Select(o => o.Name) ?? [])))
        {
            Statistics = RecoveredStatistics.Of(database.Schema ?? known?.Objects),
            Tables = RefusedRows.TablesOf(database.Schema),
            DamagedRoots = damagedTables.Where(d => DamagedSchema.KnownStatement(known, d) is null).Select(d => d.Entry.RootPage).ToHashSet(),
        };
        var notes = new List<string>(known?.Notes ?? []);
        if (!header.MagicIntact)
        {
            notes.Add("The file header is damaged (the 'SQLite format 3' magic string is gone).");
        }

        if (context.LostAndFound != RecoveryContext.PreferredLostAndFound)
        {
            notes.Add($"The database has its own object named {RecoveryContext.PreferredLostAndFound}: rows that cannot be given back to a table go to {context.LostAndFound} instead.");
        }

        // Freed pages hold deleted rows; only when the header is intact does the extension know which pages those are.
        // With a -wal, page 1 and the freelist are read through SQLite (the -wal's copies are the current ones).
        var freelistKnown = hasWal ? database.WalFreelistIntact : header.FreelistIntact(input);
        if (header.MagicIntact && !freelistKnown)
        {
            notes.Add("The freelist is damaged or unknown: orphaned pages are attributed by root page only, never by shape, since they could be freed pages holding deleted rows.");
        }

        var pageSize = header.PageSize;
        var retried = false;
        AttemptResult best;
        var setApart = false;
        if (header.MagicIntact && header.PageSize != 0 && damagedTables.Count > 0)
        {
            (best, setApart) = AttemptWithDamagedTablesSetApart(input, output, known, freelistKnown, notes, context, damagedTables);
            pageSize = best.PageSize;
        }
        else if (header.MagicIntact && header.PageSize != 0)
        {
            best = Attempt(input, output, known, freelistKnown, notes, context);
            pageSize = best.PageSize;
        }
        else
        {
            retried = true;
            notes.Add(header.PageSize == 0
                ? $"The header's page size field ({header.PageSizeField}) is not a legal page size: the header was repaired on copies of the file, once with each legal page size."
                : "The header was repaired on copies of the file, once with each legal page size.");
            (best, pageSize) = TryEveryPageSize(input, output, header.PageSize, known, notes, context);
        }

        if (best.LostAndFound > 0)
        {
            RecoveredSequence.Keep(best.OutputPath, context, notes); // before lost_and_found may be dropped below
        }

        if (!options.KeepLostAndFound && best.LostAndFound > 0)
        {
            notes.Add($"{best.LostAndFound:N0} rows could not be attributed to a table; KeepLostAndFound is false, so they were left out of the output.");
            DropLostAndFound(best.OutputPath, context);
        }

        else if (best.LostAndFound > 0)
        {
            notes.Add($"{best.LostAndFound:N0} rows could not be given back to a table with confidence; they are in the {context.LostAndFound} table (rootpgno, pgno, nfield, id, c0, c1, ...).");
        }

        notes.AddRange(best.Uncounted);
        // With page 1's body damaged SQLite cannot report the settings, but an intact 100-byte header still holds them.
        RecoveredSettings.Keep(best.OutputPath, database.Settings ?? header.Settings, notes);
        var integrity = best.IntegrityCheck;
        var dependents = StandInDependents.Find(best.OutputPath, context.StandIns);
        if (options.ConfigureConnection is { } configure && dependents.Count > 0)
        {
            (dependents, var checkedWithApplication) = StandInDependents.Rebuild(best.OutputPath, configure, dependents, context, notes);
            integrity = checkedWithApplication ?? integrity;
        }

        var toRebuild = dependents.Select(d => d.Describe()).ToList();
        foreach (var line in toRebuild)
        {
            notes.Add($"To rebuild: {line}.");
        }

        var missing = RecoveredSettings.MissingObjects(input, best.OutputPath, database.Schema, context);
        if (damaged.Count > 0)
        {
            notes.AddRange(DamagedSchema.Describe(damaged, best.OutputPath, known, setApart, context.LostAndFound, missing));
        }

        foreach (var line in missing)
        {
            notes.Add($"Not recovered: {line}.");
        }

        var standIns = RecoveredSettings.DescribeStandIns(context.StandIns, database.Schema ?? known?.Objects ?? []);
        notes.AddRange(standIns);
        // Pages still in the -wal are pages of the database: SQLite's page count reads through it, the file's length does not.
        var inputPages = hasWal && database.PageCount is { } walPages ? walPages : pageSize == 0 ? 0 : (header.FileLength + pageSize - 1) / pageSize;
        var unreadable = RecoveredDatabase.CountUnreadablePages(input, inputPages, context.StandIns);
        // Nothing came back from a file with damaged pages: an empty database is not what the user had, whatever its check says
        // (a header repaired with the wrong text encoding, pages SQLite cannot read at all). It is never called usable or swapped in.
        var nothing = best.RowsInTables == 0 && best.LostAndFound == 0 && unreadable > 0
            ? $"nothing was recovered: 0 rows from {inputPages:N0} page(s), {unreadable:N0} of them unreadable"
            : null;
        if (nothing is not null)
        {
            notes.Add($"Not usable: {nothing}. The recovered file is empty; it is not the database that was damaged.");
        }

        return new WaldenRecoveryReport(
            input,
            output,
            integrity == "ok" && missing.Count == 0 && nothing is null,
            best.Tables,
            options.KeepLostAndFound ? best.LostAndFound : 0,
            best.Reattributed,
            best.Rebuilt,
            inputPages,
            unreadable,
            pageSize,
            retried,
            best.FullText,
            integrity,
            clock.GetElapsedTime(started),
            null,
            notes)
        {
            LostAndFoundTable = context.LostAndFound,
            MissingObjects = missing,
            StandIns = standIns,
            ObjectsToRebuild = toRebuild,
            TablesNotReadable = best.Uncounted,
            WhyNotUsable = nothing,
        };
    }

    private static AttemptResult Attempt(string input, string output, KnownSchema? known, bool freelistKnown, List<string> notes, RecoveryContext context)
    {
        RecoverExtension.Run(input, output, context);
        return RecoveredDatabase.Finish(input, output, known, freelistKnown, notes, context);
    }

    /// <summary>
    /// Recovers a copy of the input on which each damaged table has the known schema's statement or no schema row (see
    /// <see cref="DamagedSchema.PrepareCopy"/>), in a work folder of its own like <see cref="TryEveryPageSize"/>'s. Returns whether
    /// the copy could be made so; when not, the input itself is recovered.
    /// </summary>
    private static (AttemptResult Best, bool SetApart) AttemptWithDamagedTablesSetApart(string input, string output, KnownSchema? known,
        bool freelistKnown, List<string> notes, RecoveryContext context, List<DamagedObject> tables)
    {
        OwnerLock.RemoveAbandoned(Path.GetTempPath(), WorkPrefix + "*" + OwnerLock.Suffix, Directory.Exists);
        var (work, claimed) = NewWorkFolder();
        using var owner = claimed;
        try
        {
            var copy = DamagedSchema.PrepareCopy(input, work.FullName, tables, known);
            if (copy is null)
            {
                notes.Add("The schema rows of the damaged tables could not be set aside on a copy: their pages were read as the schema's.");
            }

            return (Attempt(copy ?? input, output, known, freelistKnown, notes, context), copy is not null);
        }
        finally
        {
            work.Delete(recursive: true); // a copy of our own; the original is untouched
        }
    }

    /// <summary>
    /// Tries every legal page size on patched copies, in a work folder of its own in the temp folder. The temporary
    /// space is bounded: one copy of the input (database and -wal) at a time, the best output so far and the current
    /// attempt's output, so at most about three times the input's size at once. The folder is owned (see
    /// <see cref="OwnerLock"/>): one left by a killed recovery is removed by the next.
    /// </summary>
    private static (AttemptResult Best, int PageSize) TryEveryPageSize(string input, string output, int headerPageSize, KnownSchema? known,
        List<string> notes, RecoveryContext context)
    {
        OwnerLock.RemoveAbandoned(Path.GetTempPath(), WorkPrefix + "*" + OwnerLock.Suffix, Directory.Exists);
        var (work, claimed) = NewWorkFolder();
        using var owner = claimed;
        try
        {
            AttemptResult? best = null;
            var bestSize = 0;
            var bestEncoding = "UTF-8";
            WaldenException? failedAttempt = null;
            var bestNotes = new List<string>();
            // The header's own size first, so that it wins ties (the extension often detects the size itself).
            var sizes = Enumerable.Range(9, 8).Select(bits => 1 << bits).OrderBy(size => size == headerPageSize ? 0 : 1);
            try
            {
                // The text encoding is in the header too: a zeroed one says none, and a UTF-16 file read as UTF-8 gives back nothing.
                var encodings = InputHeader.EncodingsOf(input);
                foreach (var (size, encoding) in sizes.SelectMany(size => encodings.Select(encoding => (size, encoding))))
                {
                    // Patch a copy, never the original. The input is not in use (checked before), so copying it is safe.
                    var copy = Path.Combine(work.FullName, $"input-{size}.db");
                    DatabaseFiles.CopyRaw(input, copy, "Copying the damaged file to repair its header");
                    var wal = File.Exists(input + "-wal");
                    if (wal)
                    {
                        DatabaseFiles.CopyRaw(input + "-wal", copy + "-wal", "Copying the damaged file's -wal to repair its header");
                    }

                    InputHeader.PatchCopy(copy, size, wal, encoding);
                    var attemptNotes = new List<string>();
                    AttemptResult result;
                    var attemptOutput = Path.Combine(work.FullName, $"output-{size}-{encoding}.db");
                    try
                    {
                        result = Attempt(copy, attemptOutput, known, freelistKnown: false, attemptNotes, context);
                    }
                    catch (WaldenException failed) when (Errors.SqliteErrors.IsCorrupt(failed.SqliteErrorCode ?? 0))
                    {
                        // A wrong page size can make the extension give up on the copy ("database disk image is malformed", a file
                        // shorter than one page of that size): that size is not the file's, and the others are still tried.
                        failedAttempt = failed;
                        DeleteWorkDatabase(attemptOutput);
                        continue;
                    }
                    finally
                    {
                        DeleteWorkDatabase(copy); // one copy of the input at a time
                    }

                    TestPause.At("recover-work");
                    if (best is null || Better(result, best))
                    {
                        if (best is not null)
                        {
                            DeleteWorkDatabase(best.OutputPath);
                        }

                        best = result;
                        bestSize = size;
                        bestEncoding = encoding;
                        bestNotes = attemptNotes;
                    }
                    else
                    {
                        DeleteWorkDatabase(result.OutputPath); // only the best output so far is kept
                    }
                }
            }
            catch (Exception ex) when (Errors.DiskSpace.IsFull(ex) && Errors.DiskSpace.TempFolderFullIn(ex) is null)
            {
                // Every file of these attempts lives in the work folder, in the temporary folder: that disk is the full one.
                throw Errors.DiskSpace.TempFolderFull($"Recovering '{input}'", Path.GetDirectoryName(work.FullName) ?? work.FullName,
                    "the work folder where every legal page size is tried on patched copies (up to about three times the database's size)",
                    "Nothing was left half-written: the work folder was removed, and the damaged original is untouched.", ex);
            }

            if (best is null)
            {
                throw failedAttempt!; // every page size made the extension give up: the last reason is the one to show
            }

            File.Move(best.OutputPath, output);
            notes.Add(best.PageSize == bestSize
                ? $"Page size {best.PageSize} gave the most rows."
                : $"Recovered with page size {best.PageSize}, which SQLite's recover extension detected from the pages themselves (the patched header size did not change the result).");
            if (bestEncoding != "UTF-8")
            {
                notes.Add($"The text encoding was repaired too: {bestEncoding} (the header's encoding field was lost; that encoding gave back the most rows).");
            }

            notes.AddRange(bestNotes);
            return (best with { OutputPath = output }, best.PageSize);
        }
        finally
        {
            work.Delete(recursive: true); // copies and attempts of our own; the original is untouched
        }
    }

    internal const string WorkPrefix = "walden-recover-";

    /// <summary>
    /// A private work folder (0700) in the temporary folder and its owner lock, claimed before the folder exists so a killed
    /// run never leaves an unowned one (<see cref="OwnerLock.RemoveAbandoned"/> removes it later).
    /// </summary>
    private static (DirectoryInfo Folder, OwnerLock Owner) NewWorkFolder()
    {
        var workPath = Path.Combine(Path.GetTempPath(), WorkPrefix + Guid.NewGuid().ToString("N"));
        var owner = OwnerLock.Claim(workPath);
        try
        {
            return (OperatingSystem.IsWindows()
                ? Directory.CreateDirectory(workPath)
                : Directory.CreateDirectory(workPath, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute), owner);
        }
        catch
        {
            owner.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The schema's SQL as SQLite reads it from a copy of the input whose header was repaired (the header's page size first, then
    /// each legal one), in a work folder of its own like <see cref="TryEveryPageSize"/>'s; empty when no page size reads it.
    /// </summary>
    private static List<string> SchemaOfRepairedCopy(string input, int headerPageSize)
    {
        var (work, claimed) = NewWorkFolder();
        using var owner = claimed;
        try
        {
            var copy = Path.Combine(work.FullName, "schema.db");
            var encoding = InputHeader.EncodingsOf(input)[0];
            DatabaseFiles.CopyRaw(input, copy, "Copying the damaged file to read its schema");
            var sizes = Enumerable.Range(9, 8).Select(bits => 1 << bits).OrderBy(size => size == headerPageSize ? 0 : 1);
            foreach (var size in sizes)
            {
                InputHeader.PatchCopy(copy, size, wal: false, encoding);
                if (InputDatabase.Read(copy, hasWal: false).Schema is { Count: > 0 } schema)
                {
                    return [.. schema.Select(o => o.Sql)];
                }
            }

            return [];
        }
        finally
        {
            work.Delete(recursive: true); // a copy of our own; the original is untouched
        }
    }

    /// <summary>Removes outputs a killed recovery left in <paramref name="folder"/> (never an input: only Walden's own names).</summary>
    private static void RemoveAbandonedOutputs(string folder)
    {
        static bool IsOutput(string path) =>
            new[] { ".walden-partial", ".walden-partial-journal", ".walden-recovered", ".walden-recovered-journal" }
                .Any(suffix => path.EndsWith(suffix, StringComparison.Ordinal));

        OwnerLock.RemoveAbandoned(folder, "*.walden-partial" + OwnerLock.Suffix, IsOutput);
        OwnerLock.RemoveAbandoned(folder, "*.walden-recovered" + OwnerLock.Suffix, IsOutput);
    }

    /// <summary>Deletes a database of the work folder (Walden's own copy or output) with its companions.</summary>
    private static void DeleteWorkDatabase(string path)
    {
        foreach (var file in DatabaseFiles.For(path).Companions.Prepend(path))
        {
            File.Delete(file);
        }
    }

    private static bool Better(AttemptResult candidate, AttemptResult best) =>
        (candidate.IntegrityCheck == "ok") != (best.IntegrityCheck == "ok")
            ? candidate.IntegrityCheck == "ok"
            : candidate.RowsInTables != best.RowsInTables ? candidate.RowsInTables > best.RowsInTables : candidate.LostAndFound > best.LostAndFound;

    private static void DropLostAndFound(string path, RecoveryContext context)
    {
        var builder = new Microsoft.Data.Sqlite.SqliteConnectionStringBuilder { DataSource = path, Pooling = false };
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection(builder.ToString());
        connection.Open();
        ConnectionFactory.Execute(connection, $"DROP TABLE IF EXISTS {context.LostAndFoundSql}");
    }
}
