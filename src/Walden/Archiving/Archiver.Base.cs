using Microsoft.Data.Sqlite;
using Walden.Configuration;
using Walden.Diagnostics;

namespace Walden.Archiving;

/// <summary>
/// Base snapshots. The writer thread only pins the snapshot, between two batches: a reader connection of the archive's
/// own begins a read transaction (<see cref="Backup.BackupSource"/>, as a backup does), which sees exactly the commits
/// taken so far. The copy (SQLite's online backup, reading from that transaction) and its encoding run on a thread of
/// their own, so in Async mode writes go on while a large database is copied; the commits after the snapshot are taken
/// as usual and wait, with the base, until it is ready, and the shipping loop, which waits for a copy in flight, ships
/// the base first. While the copy runs, its read transaction keeps checkpoints from resetting the WAL (the WAL grows
/// for that long; the checkpointer's rules for a long read apply). In Sync mode the writer waits for the copy as
/// before: no write is acknowledged before its base is stored.
/// </summary>
internal sealed partial class Archiver
{
    private volatile Task? _baseCopy; // set by the writer: the copy in flight, if any (shipping waits for it)

    /// <summary>Writer thread: whether a base copy is still running (a new base waits for it; commits meanwhile are dropped for it).</summary>
    private bool BaseCopyRunning => _baseCopy is { IsCompleted: false };

    /// <summary>
    /// Writer thread, between two batches: pins a snapshot of everything committed so far as the next base and starts
    /// copying it. Async mode returns at once; Sync mode waits for the copy and throws what it threw.
    /// </summary>
    private void StartBase(SqliteConnection writer, string reason)
    {
        DropUnconfirmed(); // every commit so far is in this base
        _pageSize = (int)ConnectionFactory.Scalar<long>(writer, "PRAGMA page_size");
        _wal.Synchronize(); // the hook's position: every commit up to here is in the snapshot, none after
        // Read before the snapshot is pinned: a commit by another process in between is in the base and also moves
        // data_version, so the next batch takes one base too many, never a gap.
        var dataVersion = ConnectionFactory.Scalar<long>(writer, "PRAGMA data_version");
        var snapshot = PinSnapshot();
        if (Interlocked.Read(ref _floorTxid) is var floorTxid && floorTxid > _txid)
        {
            Interlocked.Exchange(ref _txid, floorTxid); // a destination reached after the open holds more (NumberAfter)
        }

        var baseId = NextBaseId();
        var next = new BaseState(baseId, _txid + 1, Path.Combine(_stagingFolder, $"{baseId}.wbase"), _pageSize, Micros(_time.GetUtcNow()));
        _dataVersion = dataVersion;
        _lastBaseId = baseId;
        Interlocked.Exchange(ref _txid, next.Txid);
        _runFirstTxid = Math.Min(_runFirstTxid, next.Txid);
        BaseState? previous;
        lock (_gate)
        {
            _runBases.Add(baseId); // before anything of it is shipped: CheckOtherCopies never takes it for another's
            if (_sideBase is { } side)
            {
                side.Superseded = true; // this base holds everything the side base would have
                side.TryDeleteStaged(_destinations);
                _sideBase = null;
            }

            previous = _base;
            _base = next;
            _sealedChain = [];
            _pending.Clear();
            _pendingBytes = 0;
            _needBase = false;
        }

        if (previous is not null)
        {
            previous.Superseded = true;
            previous.TryDeleteStaged(_destinations);
        }

        if (_options.Mode == WaldenArchiveMode.Sync)
        {
            CopyBase(next, snapshot, reason, rethrow: true);
        }
        else
        {
            _baseCopy = OffThread(() => CopyBase(next, snapshot, reason, rethrow: false));
        }
    }

    /// <summary>A base id: after every id this run took or a destination holds, and at least the time in Unix seconds.</summary>
    private long NextBaseId() => Math.Max(Math.Max(_lastBaseId, Interlocked.Read(ref _floorBaseId)) + 1, _time.GetUtcNow().ToUnixTimeSeconds());

    /// <summary>Runs <paramref name="work"/> on a thread of its own (a base's copy or store: long, blocking I/O).</summary>
    private static Task OffThread(Action work) =>
        Task.Factory.StartNew(work, CancellationToken.None, TaskCreationOptions.LongRunning | TaskCreationOptions.DenyChildAttach, TaskScheduler.Default);

    /// <summary>A reader connection (as the pool's, and the backups' source) in a read transaction that sees every commit so far.</summary>
    private Backup.BackupSource PinSnapshot()
    {
        var snapshot = Backup.BackupSource.FromFactory(_databasePath, Connections);
        try
        {
            snapshot.BeginSnapshot();
            return snapshot;
        }
        catch
        {
            snapshot.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Backs the snapshot up into the staging folder, encodes it, and makes it the ready base. A failure asks for a new base
    /// (the next batch pins one) and is thrown only with <paramref name="rethrow"/> (Sync: the batch fails).
    /// </summary>
    private void CopyBase(BaseState next, Backup.BackupSource snapshot, string reason, bool rethrow, bool side = false)
    {
        var copy = Path.Combine(_stagingFolder, $"{next.Id}.db");
        try
        {
            Faults?.BeforeBaseCopy?.Invoke();
            using (var destination = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = copy, Pooling = false }.ToString()))
            {
                destination.Open();
                snapshot.Connection.BackupDatabase(destination); // reads in the snapshot's open transaction
            }

            // The backup API commits the copy as a write of its own, which rewrites page 1's change counter (bytes 24-27),
            // schema cookie (40-43), version-valid-for (92-95) and SQLite version number (96-99): the restore of the base
            // would not be byte-identical to the database at its transaction. Page 1 as the snapshot sees it is put back.
            var pageOne = SnapshotPageOne(snapshot.Connection, next.PageSize);
            if (pageOne is not null)
            {
                WritePageOne(copy, pageOne);
            }

            snapshot.Dispose(); // ends the read transaction: checkpoints may reset the WAL again
            Faults?.AfterBaseSnapshotReleased?.Invoke();
            next.Pages = MapOfCopy(copy, next.PageSize);
            byte[] chain;
            using (var output = new FileStream(next.Staged, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read, 1 << 16))
            {
                chain = ArchiveFormat.EncodeBase(copy, output, next.Id, next.Txid, next.TimeMicros, next.PageSize,
                    ArchiveLineage.LocalOrNull(_stagingFolder));
            }

            lock (_gate)
            {
                next.Chain = chain;
                if (_base == next)
                {
                    _sealedChain = chain;
                }
            }

            if (next.Superseded)
            {
                next.TryDeleteStaged(_destinations);
            }

            LogMessages.ArchiveBaseTaken(_logger, _name, next.Id, next.Txid, reason);
        }
#pragma warning disable CA1031 // Off the writer thread nothing may escape: the archive answers with a new base.
        catch (Exception ex) when (!rethrow || ex is SqliteException or IOException or InvalidDataException or UnauthorizedAccessException)
#pragma warning restore CA1031
        {
            lock (_gate)
            {
                next.Problem = ex.Message;
                if (side)
                {
                    next.Superseded = true; // the chain goes on as it is; a side base is asked for again with the next ship
                    if (_sideBase == next)
                    {
                        _sideBase = null;
                    }
                }
            }

            if (!side)
            {
                NeedBase($"the base snapshot failed: {ex.Message}");
            }
            if (rethrow)
            {
                throw;
            }
        }
        finally
        {
            snapshot.Dispose();
            File.Delete(copy);
        }
    }

    /// <summary>
    /// Page 1 as the snapshot's read transaction sees it (a page 1 still in the <c>-wal</c> included), through SQLite's
    /// <c>sqlite_dbpage</c>; null on a stock SQLite, which has no such table (its bases keep the backup API's header, the
    /// same content but not the same bytes).
    /// </summary>
    private static byte[]? SnapshotPageOne(SqliteConnection snapshot, int pageSize)
    {
        if (SQLitePCL.raw.sqlite3_compileoption_used("ENABLE_DBPAGE_VTAB") == 0)
        {
            return null;
        }

        using var command = snapshot.CreateCommand();
        command.CommandText = "SELECT data FROM sqlite_dbpage WHERE pgno = 1";
        using var reader = command.ExecuteReader();
        // GetFieldValue, not GetBytes: GetBytes opens an incremental blob handle, which a virtual table has not.
        var page = reader.Read() ? reader.GetFieldValue<byte[]>(0) : null;
        if (page is null || page.Length != pageSize)
        {
            throw new InvalidDataException($"page 1 of the snapshot read as {page?.Length ?? 0} bytes, not {pageSize}");
        }

        return page;
    }

    /// <summary>
    /// Writes <paramref name="pageOne"/> over page 1 of a base's copy. The copy is Walden's own scratch file in the staging
    /// folder, and its SQLite connection is closed: nobody else has it open, so it is written outside SQLite.
    /// </summary>
    private static void WritePageOne(string copy, byte[] pageOne)
    {
        using var file = new FileStream(copy, FileMode.Open, FileAccess.Write, FileShare.None);
        file.Write(pageOne);
    }

    /// <summary>Waits for a base copy in flight (shipping, close); a failure of it has asked for a new base already.</summary>
    private void WaitForBaseCopy() => _baseCopy?.Wait();

    /// <summary>Shipping: waits for a base copy in flight that the chain waits for; a side base's copy is not waited for.</summary>
    private void WaitForChainBaseCopy()
    {
        var copy = _baseCopy;
        BaseState? side;
        lock (_gate)
        {
            side = _sideBase;
        }

        if (copy is not null && copy != side?.Copy)
        {
            copy.Wait();
        }
    }

    /// <summary>
    /// Async mode, writer thread between two batches, when the chain after the current base grew past NewBaseAfterBytes:
    /// pins a snapshot of the state after the last transaction taken (<c>T</c>) as a side base and copies it like any base,
    /// but the chain is not stopped for it. Records after <c>T</c> go on being shipped after the current base, so the lag
    /// stays what it was while a large database is copied (before, every commit after the new snapshot waited for the
    /// copy: with a 66 MB database, writes acknowledged more than 1 s before a kill were not archived, seen in
    /// `walden torture --archive async` cycle 94 of seed 1695791445). Once every destination stores the side base, it
    /// becomes the current base and the records after <c>T</c> are shipped again after it (<see cref="SwitchToSideBase"/>).
    /// Nothing here can leave a gap: until the switch the old chain is complete, after it the new one is.
    /// </summary>
    private void StartSideBase(SqliteConnection writer)
    {
        _wantSideBase = false;
        lock (_gate)
        {
            if (_sideBase is not null)
            {
                return;
            }
        }

        var dataVersion = ConnectionFactory.Scalar<long>(writer, "PRAGMA data_version");
        if (dataVersion != _dataVersion)
        {
            return; // another process committed: the next ConfirmTaken asks for a base that stops the chain
        }

        var snapshot = PinSnapshot();
        var baseId = NextBaseId();
        _lastBaseId = baseId;
        var side = new BaseState(baseId, _txid, Path.Combine(_stagingFolder, $"{baseId}.wbase"), _pageSize, Micros(_time.GetUtcNow()));
        lock (_gate)
        {
            _runBases.Add(baseId);
            _sideBase = side;
        }

        _baseCopy = side.Copy = OffThread(() => CopyBase(side, snapshot, "the chain after the current base grew past NewBaseAfterBytes", rethrow: false, side: true));
    }

    /// <summary>
    /// Shipping thread: once a side base is copied, stores it in every destination on a thread of its own (a large base's
    /// Put must not hold up the records shipped meanwhile), and once that is done switches to it. A destination that fails
    /// is tried again at a later round; until then the chain goes on after the current base.
    /// </summary>
    private void ShipSideBase()
    {
        BaseState? side;
        BaseState? current;
        lock (_gate)
        {
            side = _sideBase;
            current = _base;
        }

        if (side is not { Chain: not null } || side.Superseded)
        {
            return;
        }

        if (side.Store is { IsCompleted: true })
        {
            side.Store = null;
            bool everywhere;
            lock (_gate)
            {
                everywhere = _destinations.All(side.StoredIn.Contains);
            }

            if (everywhere)
            {
                SwitchToSideBase(side);
                return;
            }
        }

        if (side.Store is null && !TakenBeforeRenumbering(side) && _destinations.All(d => d.Claimed))
        {
            if (current is not null)
            {
                NoteSideBase(current, side.Id); // before any store: an open after a crash before the switch continues beside it
            }

            side.Store = OffThread(() => StoreSideBase(side));
        }
    }

    /// <summary>Off the shipping thread: puts the side base in each destination that does not have it yet.</summary>
    private void StoreSideBase(BaseState side)
    {
        foreach (var destination in _destinations)
        {
            lock (_gate)
            {
                if (side.StoredIn.Contains(destination) || side.Superseded)
                {
                    continue;
                }
            }

            try
            {
                using (var staged = new FileStream(side.Staged, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1 << 16))
                {
                    PutOnce(destination, ArchiveFormat.BaseName(side.Id), staged);
                    _basesChecked?.Record(destination.Destination.Name, side.Id, staged.Length, _time.GetUtcNow());
                }

                lock (_gate)
                {
                    side.StoredIn.Add(destination);
                }
            }
#pragma warning disable CA1031 // A destination is the user's code (or a disk): it is tried again at a later round.
            catch (Exception)
#pragma warning restore CA1031
            {
            }
        }
    }

    /// <summary>
    /// Every destination stores the side base: it becomes the current base, and the records after its transaction (kept,
    /// not trimmed, meanwhile) are chained again after it and shipped again into its folder. Their lag is not counted
    /// again: they were archived after the old base already.
    /// </summary>
    private void SwitchToSideBase(BaseState side)
    {
        lock (_gate)
        {
            if (_sideBase != side || side.Superseded)
            {
                return;
            }

            var again = new List<ArchiveRecord>();
            foreach (var record in _pending.Where(r => r.Txid > side.Txid))
            {
                again.Add(new ArchiveRecord(record.Txid, record.TimeMicros, record.DatabasePages, record.Pages, side.PageSize)
                {
                    Chunk = record.Chunk,
                    Reshipped = true,
                    CatchUp = record.CatchUp,
                });
            }

            var previous = _base;
            _base = side;
            _sideBase = null;
            _wantSideBase = false; // asked for by ships of the older chain meanwhile
            _sealedChain = side.Chain!;
            _pending.Clear();
            _pending.AddRange(again);
            _pendingBytes = again.Sum(r => (long)r.Bytes);
            foreach (var destination in _destinations)
            {
                destination.AtBase(side.Id, side.Txid, side.Chain!);
            }

            if (previous is not null)
            {
                previous.Superseded = true;
                previous.TryDeleteStaged(_destinations);
            }

            side.TryDeleteStaged(_destinations);
        }

        UpdateMap(side, []); // the map of the side base at once: until it is saved, an open after a crash takes a base
        LogMessages.ArchiveBaseTaken(_logger, _name, side.Id, side.Txid, "the chain after the previous base grew past NewBaseAfterBytes; now stored everywhere");
    }

    /// <summary>A base: pinned by the writer, ready once copied and encoded (<see cref="Chain"/>), staged until every destination has it.</summary>
    private sealed class BaseState(long id, long txid, string staged, int pageSize, long timeMicros)
    {
        public long Id { get; } = id;

        public long Txid { get; } = txid;

        /// <summary>The chain value of the encoded base; null while the copy runs or after it failed (guarded by the archive's gate).</summary>
        public byte[]? Chain { get; set; }

        /// <summary>Why the copy failed, or null.</summary>
        public string? Problem { get; set; }

        public string Staged { get; } = staged;

        public int PageSize { get; } = pageSize;

        /// <summary>When the snapshot was pinned (microseconds since the Unix epoch): the base's moment for point-in-time restore.</summary>
        public long TimeMicros { get; } = timeMicros;

        public bool Superseded { get; set; }

        /// <summary>A side base (<see cref="StartSideBase"/>): the destinations that store it so far (under the archive's gate).</summary>
        public HashSet<DestinationState> StoredIn { get; } = [];

        /// <summary>A side base: its copy (shipping never waits for it, unlike a base that stops the chain).</summary>
        public Task? Copy { get; set; }

        /// <summary>A side base: the store in flight, if any (shipping thread).</summary>
        public Task? Store { get; set; }

        /// <summary>The digest of each page of the encoded base (for the page map once every destination holds it); null for a continued chain.</summary>
        public PageMap? Pages { get; set; }

        public void TryDeleteStaged(DestinationState[] destinations)
        {
            if (Superseded || destinations.All(d => d.BaseId == Id))
            {
                try
                {
                    File.Delete(Staged);
                }
                catch (IOException)
                {
                }
            }
        }
    }
}
