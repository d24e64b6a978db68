using System.Globalization;
using System.Security.Cryptography;
using Microsoft.Data.Sqlite;
using Walden.Configuration;
using Walden.Diagnostics;

namespace Walden.Archiving;

/// <summary>
/// Continuing at open. A base snapshot at every open made the Async bound hold only once the whole database was copied,
/// compressed and stored: with a 30-50 MB file the writes of the first second after an open (a restart, a crash) were
/// archived 1-2 s late, and the time grows with the file. The open therefore continues the chain the destinations hold
/// when it can prove where it ends: the page map of the earlier run (<see cref="PageMap"/>) names a base, a transaction
/// and its chain value; every destination must end at exactly that transaction of that base, with that chain value, and
/// with no hole in the names before it (or at the end of a round stored after it that the pages in flight name, see
/// <see cref="AheadOfMap"/>; the base object is checked whole). Then the open reads every page of the database (SQLite's <c>sqlite_dbpage</c>, in
/// one read transaction of the writer connection) and ships the pages whose digest differs from the map as one
/// transaction, timed at the open: the commits acknowledged but not yet shipped when the earlier run stopped (a crash),
/// and anything another program wrote to the file in between. What a restore returns is the file as it is at the open,
/// byte for byte, whatever happened to it meanwhile, since the comparison is by content. Otherwise, or when more than half
/// of the pages (or more than <see cref="MaxContinuationBytes"/>) differ, the open takes a base as before, and says why in
/// the log. A point in time between the earlier run's last shipped transaction and the open is restored as the former.
/// Two copies of one database (a cloned disk) that both continue the same chain are told apart by a claim object
/// (<c>&lt;base&gt;/resume-&lt;txid&gt;</c>, written once): the second finds it taken and takes a base, which the
/// first then sees as another copy's (<see cref="CheckOtherCopies"/>).
/// </summary>
internal sealed partial class Archiver
{
    /// <summary>Beyond this many changed bytes at open, a base snapshot is taken instead of one large transaction.</summary>
    internal const long MaxContinuationBytes = 64L << 20;

    private readonly object _mapGate = new();
    private readonly byte[] _run = RandomNumberGenerator.GetBytes(16); // this open's id, in the page map and its resume claims
    private long _runFirstTxid = long.MaxValue; // the transaction this run started after (its base's, or the one it continued)
    private PageMap? _map; // guarded by _mapGate: every destination holds this, page by page (null: unknown)
    private PagesInFlight? _inFlight; // guarded by _mapGate: what the rounds handed to destinations after the map's transaction write

    private string MapPath => Path.Combine(_stagingFolder, PageMap.FileName);

    private string InFlightPath => Path.Combine(_stagingFolder, PagesInFlight.FileName);

    /// <summary>The transaction the page map (in memory) describes, or -1 when there is none (tests).</summary>
    internal long MapTxid
    {
        get
        {
            lock (_mapGate)
            {
                return _map?.Txid ?? -1;
            }
        }
    }

    /// <summary>Pages the open found changed since the chain it continued, or -1 when it took a base (tests).</summary>
    internal int ContinuedPages { get; private set; } = -1;

    // The side bases earlier runs stored beside the chain of the base this open continued (PagesInFlight.SideBaseIds).
    private (long BaseId, List<long> Ids) _sideBasesBeside = (0, []);

    // When each destination's newest base was last known whole (loaded at open): the open reads a base whole only when it is not.
    private BasesChecked? _basesChecked;

    /// <summary>Open, writer connection: continues the destinations' chain, or returns false with the reason (a base is due).</summary>
    private bool TryContinue(SqliteConnection writer, out string why)
    {
        var map = PageMap.TryLoad(MapPath, out why);
        if (map is null)
        {
            return false;
        }

        var pageSize = (int)ConnectionFactory.Scalar<long>(writer, "PRAGMA page_size");
        if (pageSize != map.PageSize)
        {
            why = $"the page size changed ({map.PageSize} to {pageSize} bytes)";
            return false;
        }

        // Where every destination ends: all at one transaction of the map's base, with one chain value: the map's, or the end
        // of a round stored after it that the pages in flight name (a crash between that store and the map's save).
        var inFlight = PagesInFlight.TryLoad(InFlightPath, out var inFlightWhy);
        if (inFlight is not null && inFlight.BaseId != map.BaseId)
        {
            (inFlight, inFlightWhy) = (null, "the pages in flight are of another base");
        }

        var ends = new ChainEnd[_destinations.Length];
        for (var i = 0; i < _destinations.Length; i++)
        {
            if (EndOf(_destinations[i], map, inFlight?.SideBaseIds ?? [], _basesChecked!, _time.GetUtcNow(), _options.DrillInterval, out why) is not { } end)
            {
                return false;
            }

            ends[i] = end;
            if (end.Txid != ends[0].Txid || !end.Chain.AsSpan().SequenceEqual(ends[0].Chain))
            {
                why = $"the destinations end at different transactions ({ends[0].Txid} and {end.Txid})";
                return false;
            }
        }

        // Destinations ahead of the map hold rounds stored just before the last run stopped, before it saved the map: the
        // pages those rounds wrote (PagesInFlight, saved before each store) are shipped again as they are now. (Reading the
        // rounds back from the destinations instead was tried and lost writes under `walden torture --archive async`, seed
        // 1842340938, cycle 43, for a reason not found; it is in the history of this file, commit 97dc3f6 and after.)
        if (ends[0].Txid != map.Txid && !AheadOfMap(map, ends[0], inFlight, inFlightWhy, out why))
        {
            return false;
        }

        // Transaction ids grow across bases, and a restore of the latest takes the chain that reaches furthest: continuing a
        // base whose chain ends before another base's (a crash while the records kept for a side base were shipped again
        // after it) would number new transactions over that chain's and restore its older state as the latest.
        if (Interlocked.Read(ref _txid) > ends[0].Txid)
        {
            why = $"another base's chain in the destinations reaches transaction {Interlocked.Read(ref _txid)}, past the page map's base's {ends[0].Txid}";
            return false;
        }

        if (!ends[0].Chain.AsSpan().SequenceEqual(map.Chain))
        {
            why = $"transaction {map.Txid} in the destinations is not the one the page map follows";
            return false;
        }

        var lastTime = ends.Max(e => e.Time);
        var chainBytes = ends.Select(e => e.ChainBytes).ToArray();

        _wal.Synchronize(); // every commit so far is read below; the hook takes the ones after
        var dataVersion = ConnectionFactory.Scalar<long>(writer, "PRAGMA data_version");
        List<(uint Page, ReadOnlyMemory<byte> Data)> changed;
        uint databasePages;
        try
        {
            (changed, databasePages) = ChangedPages(writer, map, pageSize);
        }
        catch (Exception ex) when (ex is SqliteException or InvalidDataException)
        {
            why = $"the database's pages could not be read to compare them ({ex.Message})";
            return false;
        }

        var bytes = (long)changed.Count * pageSize;
        if (bytes > MaxContinuationBytes || changed.Count > Math.Max(1u, databasePages) / 2)
        {
            why = string.Create(CultureInfo.InvariantCulture, $"{changed.Count:N0} of {databasePages:N0} pages changed since transaction {map.Txid}");
            return false;
        }

        var time = Math.Max(Micros(_time.GetUtcNow()), lastTime + 1);
        if (!ClaimResume(map, ends, changed.Count, lastTime, time, out why))
        {
            return false;
        }

        var base_ = new BaseState(map.BaseId, map.Txid, Path.Combine(_stagingFolder, $"{map.BaseId}.continued"), pageSize, lastTime)
        {
            Chain = map.Chain,
        };
        _pageSize = pageSize;
        _dataVersion = dataVersion;
        _txid = map.Txid;
        ArchiveRecord? record = null;
        if (changed.Count > 0 || databasePages != map.Count)
        {
            record = new ArchiveRecord(map.Txid + 1, time, databasePages, changed, pageSize) { CatchUp = true };
            _txid = record.Txid;
        }

        lock (_gate)
        {
            _runBases.Add(map.BaseId); // this run's first base for CheckOtherCopies: a newer one it did not take is another copy's
            // The earlier runs' side bases left beside the chain (EndOf): not another copy's, and noted again in every later
            // file of this base (InFlightAfterMap), so an open after this run's own crash still knows them.
            _sideBasesBeside = (map.BaseId, [.. inFlight?.SideBaseIds ?? []]);
            _runBases.UnionWith(_sideBasesBeside.Ids);

            _base = base_;
            _sealedChain = map.Chain;
            _pending.Clear();
            _pendingBytes = 0;
            if (record is not null)
            {
                _pending.Add(record);
                _pendingBytes = record.Bytes;
            }

            _needBase = false;
            for (var i = 0; i < _destinations.Length; i++)
            {
                _destinations[i].Continued(map.BaseId, map.Txid, map.Chain, chainBytes[i]);
            }
        }

        lock (_mapGate)
        {
            _map = map;
            _map.Run = _run; // saved now: the claim just written is this run's, which the next open's checks expect
            SaveMap();
        }

        _runFirstTxid = map.Txid;
        ContinuedPages = changed.Count;
        LogMessages.ArchiveContinued(_logger, _name, map.BaseId, map.Txid, changed.Count, _txid);
        return true;
    }

    /// <summary>
    /// The destinations end at <paramref name="end"/>, after the map's transaction, at the end of a round the pages in
    /// flight name: the map then describes the state at that end with every page those rounds wrote (and page 1, so that
    /// the open always ships a transaction, with the database's size) marked <see cref="PageMap.Unknown"/>, which the open
    /// ships as it is now. False (with why) otherwise.
    /// </summary>
    private static bool AheadOfMap(PageMap map, ChainEnd end, PagesInFlight? inFlight, string inFlightWhy, out string why)
    {
        why = inFlightWhy;
        if (inFlight is null || inFlight.BaseId != map.BaseId || inFlight.From != map.Txid || !inFlight.FromChain.AsSpan().SequenceEqual(map.Chain)
            || !inFlight.Ends.TryGetValue(end.Txid, out var chain) || !chain.AsSpan().SequenceEqual(end.Chain))
        {
            why = $"the destinations end at transaction {end.Txid}, after the page map's {map.Txid}, " +
                (inFlight is null ? $"and {why}" : "and the pages in flight do not name that end");
            return false;
        }

        foreach (var page in inFlight.Pages.Append(1u))
        {
            map.Set(page, PageMap.Unknown);
        }

        // Pages a round cut off (a shrink) are gone at the end without being written: another program can bring them back
        // as the map knows them, and a restore would have zeros there (ArchiveInFlightBreakerTests).
        for (var page = inFlight.MinPages + 1; page <= map.Count; page++)
        {
            map.Set(page, PageMap.Unknown);
        }

        map.At(map.BaseId, end.Txid, end.Chain);
        return true;
    }

    /// <summary>
    /// Before a destination stores <paramref name="slices"/> of <paramref name="current"/>'s chain: adds their ends, and
    /// the pages of every transaction up to the last, to the pages in flight after the map's transaction, and saves them.
    /// Nothing is saved when the map is not of that base, or a transaction after the map's is no longer held (the file on
    /// disk then does not name the new ends, and an open finding the destinations there takes a base).
    /// </summary>
    private void NoteInFlight(BaseState current, List<List<ArchiveRecord>> slices)
    {
        if (slices.Count == 0)
        {
            return;
        }

        lock (_mapGate)
        {
            if (_map is null || _map.BaseId != current.Id || slices[^1][^1].Txid <= _map.Txid)
            {
                return;
            }

            var inFlight = InFlightAfterMap(_map);
            var upTo = slices[^1][^1].Txid;
            if (upTo > inFlight.Covered)
            {
                var next = inFlight.Covered + 1;
                lock (_gate)
                {
                    foreach (var record in _pending)
                    {
                        if (record.Txid < next)
                        {
                            continue;
                        }

                        if (record.Txid != next || record.Txid > upTo)
                        {
                            break;
                        }

                        foreach (var (page, _) in record.Pages)
                        {
                            inFlight.Pages.Add(page);
                        }

                        inFlight.MinPages = Math.Min(inFlight.MinPages, record.DatabasePages);

                        next++;
                    }
                }

                if (next != upTo + 1)
                {
                    _inFlight = null;
                    return;
                }

                inFlight.Covered = upTo;
            }

            foreach (var slice in slices)
            {
                if (slice[^1].Txid > inFlight.From)
                {
                    inFlight.AddEnd(slice[^1].Txid, slice[^1].Chain!);
                }
            }

            if (inFlight.Pages.Count > Math.Max(1u, _map.Count) / 2)
            {
                // More than half the pages: an open would take a base for them anyway (TryContinue), so the file (which a
                // destination down for long would grow with every round) is no longer rewritten; the one on disk names
                // none of these ends, and an open finding the destinations there takes a base.
                return;
            }

            SaveInFlight();
        }
    }

    /// <summary>
    /// Before a side base of the map's base is stored: notes its id in the pages in flight, so that an open after a crash
    /// between its store and the switch to it continues the older chain beside it (<see cref="EndOf"/>) instead of taking
    /// a base. Nothing is noted without a map of that base (the open would take a base anyway).
    /// </summary>
    private void NoteSideBase(BaseState current, long sideBaseId)
    {
        lock (_mapGate)
        {
            if (_map is null || _map.BaseId != current.Id)
            {
                return;
            }

            InFlightAfterMap(_map).NoteSideBase(sideBaseId);
            SaveInFlight();
        }
    }

    /// <summary>Under _mapGate: the pages in flight after the map's transaction, begun anew when the map has moved (a side base noted for the same base is kept).</summary>
    private PagesInFlight InFlightAfterMap(PageMap map)
    {
        if (_inFlight is null || _inFlight.BaseId != map.BaseId || _inFlight.From != map.Txid)
        {
            var sideBases = _inFlight?.BaseId == map.BaseId ? _inFlight.SideBaseIds
                : _sideBasesBeside.BaseId == map.BaseId ? _sideBasesBeside.Ids : [];
            _inFlight = new PagesInFlight(map.BaseId, map.Txid, map.Chain) { MinPages = map.Count };
            foreach (var id in sideBases)
            {
                _inFlight.NoteSideBase(id);
            }
        }

        return _inFlight;
    }

    /// <summary>Under _mapGate: saves the pages in flight; on failure forgets them (the file on disk then does not name the new ends or side base, and an open finding the destinations there takes a base).</summary>
    private void SaveInFlight()
    {
        try
        {
            _inFlight!.Save(InFlightPath);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            _inFlight = null;
        }
    }

    /// <summary>Where a destination's archive ends: its last transaction, the chain value and moment after it, and the catalog read.</summary>
    private sealed record ChainEnd(long Txid, byte[] Chain, long Time, long ChainBytes, ArchiveCatalog Catalog);

    /// <summary>
    /// Where the destination's archive ends, when it was reached at open, holds this lineage, its newest base is the map's
    /// (or, beside it, only side bases of <paramref name="sideBaseIds"/> with nothing after them: earlier runs stored them
    /// and stopped before switching to them), and the transactions after the map's base are named without a hole, none before
    /// the map's; null (with why) otherwise. A side base left so is older than the chain's end, so a restore of the latest
    /// (the chain that reaches furthest) never takes it, and a restore at its moment gets the same state from either.
    /// </summary>
    private static ChainEnd? EndOf(DestinationState destination, PageMap map, IReadOnlyCollection<long> sideBaseIds, BasesChecked basesChecked,
        DateTimeOffset now, TimeSpan? drillInterval, out string why)
    {
        var name = destination.Destination.Name;
        if (!destination.Claimed || !destination.Numbered || destination.Refused is not null || destination.FailingSince is not null)
        {
            why = $"the destination '{name}' was not reached at open";
            return null;
        }

        try
        {
            var catalog = ArchiveCatalog.Read(destination.Destination);
            var mine = catalog.Bases.FirstOrDefault(b => b.BaseId == map.BaseId);
            var newer = catalog.Bases.Where(b => b.BaseId > map.BaseId).ToList();
            if (mine is null || newer.Any(b => !sideBaseIds.Contains(b.BaseId) || catalog.Restorable(b.BaseId).Any()))
            {
                why = $"the destination '{name}' holds base {(mine is null ? 0 : newer.Count > 0 ? newer.Max(b => b.BaseId) : map.BaseId)}, not the page map's base {map.BaseId}";
                return null;
            }

            // Read whole and checked (its SHA-256, not decompressed) unless known whole within the drill interval (BasesChecked):
            // a base damaged inside leaves nothing to restore the chain from, and before continuing existed every open took a
            // new one (ArchiveInFlightBreakerTests). Damage found later is the drill's to heal.
            DecodedBase header;
            var length = catalog.Lengths.GetValueOrDefault(mine.Name, -1);
            var knownWhole = basesChecked.KnownWhole(name, map.BaseId, length, now, drillInterval);
            using (var stream = destination.Destination.OpenRead(mine.Name))
            {
                header = knownWhole ? ArchiveFormat.DecodeBase(stream, databasePath: null) : ArchiveFormat.CheckBaseObject(stream);
            }

            if (!knownWhole && length >= 0)
            {
                basesChecked.Record(name, map.BaseId, length, now);
            }

            var names = catalog.Restorable(map.BaseId).OrderBy(n => n.First).ToList();
            var reached = header.Txid;
            long chainBytes = 0;
            foreach (var segment in names)
            {
                if (segment.First > reached + 1)
                {
                    why = $"the destination '{name}' has no transaction {reached + 1} of base {map.BaseId}";
                    return null;
                }

                reached = Math.Max(reached, segment.Last);
                chainBytes += catalog.Lengths.GetValueOrDefault(segment.Name);
            }

            if (reached < map.Txid)
            {
                why = $"the destination '{name}' ends at transaction {reached}, before the page map's {map.Txid}";
                return null;
            }

            if (reached == header.Txid)
            {
                why = string.Empty;
                return new ChainEnd(reached, header.Chain, header.TimeMicros, chainBytes, catalog);
            }

            byte[]? chain = null;
            long time = 0;
            foreach (var last in names.Where(n => n.Last == reached))
            {
                // Read whole and checked (its SHA-256): a last segment damaged inside would end every later restore there.
                using var buffer = new MemoryStream();
                using (var stream = catalog.Open(destination.Destination, last))
                {
                    stream.CopyTo(buffer);
                }

                var segment = ArchiveFormat.OpenSegment(buffer.ToArray());
                if (chain is not null && !segment.LastChain.AsSpan().SequenceEqual(chain))
                {
                    why = $"the destination '{name}' holds two different transactions {reached} ({last.Name})";
                    return null;
                }

                chain = segment.LastChain;
                time = Math.Max(time, segment.LastTimeMicros);
                if (segment.LastTxid != reached)
                {
                    why = $"{last.Name} in '{name}' does not end at transaction {reached}";
                    return null;
                }
            }

            why = string.Empty;
            return new ChainEnd(reached, chain!, time, chainBytes, catalog);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidDataException)
        {
            why = $"the destination '{name}' could not be read at open: {ex.Message}";
            return null;
        }
    }

    /// <summary>Every page of the database whose digest differs from the map's, read in one read transaction.</summary>
    private static (List<(uint Page, ReadOnlyMemory<byte> Data)> Changed, uint DatabasePages) ChangedPages(SqliteConnection writer, PageMap map, int pageSize)
    {
        var changed = new List<(uint, ReadOnlyMemory<byte>)>();
        uint databasePages = 0;
        using var transaction = writer.BeginTransaction(deferred: true);
        using (var command = writer.CreateCommand())
        {
            command.Transaction = transaction;
            command.CommandText = "SELECT pgno, data FROM sqlite_dbpage('main')";
            using var reader = command.ExecuteReader();
            while (reader.Read())
            {
                var page = (uint)reader.GetInt64(0);
                databasePages = Math.Max(databasePages, page);
                // GetFieldValue, not GetBytes: GetBytes opens an incremental blob handle, which a virtual table has not.
                var image = reader.GetFieldValue<byte[]>(1);
                if (image.Length != pageSize)
                {
                    throw new InvalidDataException($"page {page} read as {image.Length} bytes, not {pageSize}");
                }

                if (PageMap.DigestOf(image) != map.Digest(page) || page > map.Count)
                {
                    changed.Add((page, image));
                }
            }
        }

        transaction.Commit();
        return (changed, databasePages);
    }

    /// <summary>
    /// Writes the next resume claim for the map's transaction once in every destination (<c>resume-&lt;txid&gt;</c>, then
    /// <c>-2</c>, <c>-3</c>... for opens that continue from the same transaction with no write between them); false when
    /// the last claim there is not the map's run (another copy continued from it) or another copy takes the name first.
    /// Its body says what a restore by time needs: whether pages changed, and the window whose state is therefore unknown
    /// (<see cref="RestorableSpans.Unknown"/>).
    /// </summary>
    private bool ClaimResume(PageMap map, ChainEnd[] ends, int changed, long after, long at, out string why)
    {
        var body = System.Text.Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture,
            $"run {Convert.ToHexStringLower(_run)}\ndatabase {_databasePath}\ntxid {map.Txid}\nchanged {changed}\nafter {after}\nat {at}\n"));
        for (var i = 0; i < _destinations.Length; i++)
        {
            var destination = _destinations[i].Destination;
            var claims = ends[i].Catalog.Resumes.Where(r => r.Value.BaseId == map.BaseId && r.Value.Txid == map.Txid).OrderBy(r => r.Value.Index).ToList();
            if (claims.Count > 0 && !ClaimedBy(destination, claims[^1].Key, map.Run))
            {
                why = $"'{claims[^1].Key}' in '{destination.Name}' was written by another run than the one that left the page map: " +
                    "another copy of this database continued the same chain";
                return false;
            }

            var name = ArchiveFormat.ResumeName(map.BaseId, map.Txid, claims.Count == 0 ? 1 : claims[^1].Value.Index + 1);
            try
            {
                using var content = new MemoryStream(body, writable: false);
                destination.Put(name, content);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                why = $"'{name}' could not be written in '{destination.Name}' ({ex.Message}): another copy of this " +
                    "database may have continued the same chain";
                return false;
            }
        }

        why = string.Empty;
        return true;
    }

    /// <summary>The resume claim <paramref name="name"/> names <paramref name="run"/> (false when it cannot be read).</summary>
    private static bool ClaimedBy(IWaldenArchiveDestination destination, string name, byte[] run) =>
        RunOf(destination, name) is { } claimed && claimed.AsSpan().SequenceEqual(run);

    /// <summary>The run a resume claim names, or null when it cannot be read.</summary>
    private static byte[]? RunOf(IWaldenArchiveDestination destination, string name)
    {
        try
        {
            using var reader = new StreamReader(destination.OpenRead(name));
            var line = reader.ReadLine();
            return line is { Length: 36 } && line.StartsWith("run ", StringComparison.Ordinal) ? Convert.FromHexString(line.AsSpan(4)) : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException)
        {
            return null;
        }
    }

    /// <summary>
    /// Maintenance (with the check for other copies' bases): a resume claim in one of this run's bases, at or after the
    /// transaction this run started from, that another run wrote: another copy of the database continues this chain.
    /// </summary>
    private string? ForeignClaim(IWaldenArchiveDestination destination, ArchiveCatalog catalog, IReadOnlySet<long> ours)
    {
        foreach (var claim in catalog.Resumes.Where(r => ours.Contains(r.Value.BaseId) && r.Value.Txid >= _runFirstTxid))
        {
            if (RunOf(destination, claim.Key) is { } run && !run.AsSpan().SequenceEqual(_run))
            {
                return claim.Key;
            }
        }

        return null;
    }

    /// <summary>The window of a resume claim's body that shipped changed pages, or null (none changed, or not a claim's body).</summary>
    internal static ContinuedChain? ParseResumeBody(string body)
    {
        var fields = body.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split(' ', 2)).Where(f => f.Length == 2)
            .GroupBy(f => f[0]).ToDictionary(g => g.Key, g => g.First()[1]);
        long Field(string key) => fields.TryGetValue(key, out var v) && long.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) ? n : -1;
        return Field("changed") is > 0 && Field("txid") is >= 0 and var txid && Field("after") is >= 0 and var after && Field("at") is > 0 and var at
            ? new ContinuedChain(txid, ArchiveRestorer.FromMicros(after), ArchiveRestorer.FromMicros(at))
            : null;
    }

    /// <summary>
    /// After a round every destination stored (<see cref="Trim"/>): the map follows the records they now all hold, and is
    /// saved. A base every destination holds replaces the map with the base's own.
    /// </summary>
    private void UpdateMap(BaseState? heldBase, List<(long Txid, uint DatabasePages, byte[] Chain, (uint Page, UInt128 Digest)[] Pages)> records)
    {
        lock (_mapGate)
        {
            var changed = false;
            if (heldBase is { Chain: { } baseChain } && (_map is null || _map.BaseId != heldBase.Id) && heldBase.Pages is { } pages)
            {
                _map = pages.Copy();
                _map.At(heldBase.Id, heldBase.Txid, baseChain);
                _map.Run = _run;
                changed = true;
            }

            if (_map is null)
            {
                return;
            }

            foreach (var record in records)
            {
                if (record.Txid <= _map.Txid)
                {
                    continue;
                }

                if (record.Txid != _map.Txid + 1 || heldBase is null || heldBase.Id != _map.BaseId)
                {
                    _map = null; // not the next transaction of the map's base: it no longer says what the destinations hold
                    PageMap.Forget(MapPath);
                    return;
                }

                foreach (var (page, digest) in record.Pages)
                {
                    _map.Set(page, digest);
                }

                _map.Resize(record.DatabasePages);
                _map.At(_map.BaseId, record.Txid, record.Chain);
                changed = true;
            }

            if (!changed)
            {
                return;
            }

            SaveMap(); // after every round: a map behind the destinations makes the next open take a base
        }
    }

    /// <summary>Under _mapGate.</summary>
    private void SaveMap()
    {
        try
        {
            _map!.Save(MapPath);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            _map = null; // the next open takes a base
            PageMap.Forget(MapPath);
            LogMessages.ArchiveCaptureLost(_logger, _name, $"the page map could not be saved ({ex.Message}); the next open takes a base");
        }
    }

    /// <summary>The digest of each page of a base's database copy, read back after the backup.</summary>
    private static PageMap MapOfCopy(string copy, int pageSize)
    {
        var map = PageMap.Empty(pageSize);
        using var source = new FileStream(copy, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        var buffer = new byte[pageSize];
        uint page = 0;
        while (source.ReadAtLeast(buffer, pageSize, throwOnEndOfStream: false) == pageSize)
        {
            map.Set(++page, PageMap.DigestOf(buffer));
        }

        map.Resize(page);
        return map;
    }
}
