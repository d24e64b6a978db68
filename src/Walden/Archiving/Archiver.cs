using System.Globalization;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Walden.Configuration;
using Walden.Diagnostics;

namespace Walden.Archiving;

/// <summary>
/// The archive of one open database (<see cref="WaldenOptions.Archive"/>). Capture is physical: inside SQLite's WAL hook,
/// on the writer thread, the frames the commit appended are read back from the <c>-wal</c>, checked (salts, checksum
/// chain) and kept as one transaction record (<see cref="Captured"/>); nothing can reset the WAL before that (see
/// <see cref="CommitSeam"/>). Shipping is per destination: in Sync mode on the writer thread before the batch is
/// acknowledged (<see cref="AfterCommit"/>), in Async mode from a background loop every quarter of MaxLag; compaction,
/// retention and the drill run on a loop of their own, so shipping never waits behind them.
/// A base snapshot is taken at open (unless the chain the destinations hold can be continued: Archiver.Continue.cs) and whenever the stream could have a gap (a commit the hook could not take, a
/// commit by another process, a destination so far behind that its records were dropped) or the chain grew long.
/// Ownership: fields marked "writer" are touched only by whoever holds the writer role, one at a time (the writer thread,
/// or in Async mode a caller committing inline: see GroupCommitWriter.Inline) in the hook, AfterCommit, open and close;
/// <see cref="_gate"/> guards what the shipping loop shares with it.
/// </summary>
internal sealed partial class Archiver : IDisposable
{
    /// <summary>The file in a folder destination that names the database whose archive it holds.</summary>
    internal const string ArchiveOfFile = "archive-of";

    private readonly WaldenArchiveOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly string _name;
    private readonly string _databasePath;
    private readonly string _stagingFolder;
    private readonly WalFrameReader _wal;
    private readonly CaptureArena _arena = new();
    private readonly DestinationState[] _destinations;
    private readonly object _gate = new();
    private readonly object _lineageGate = new();
    private readonly LatencyReservoir _lags = new();

    // Guarded by _gate.
    private readonly List<ArchiveRecord> _pending = [];
    private long _pendingBytes;
    private BaseState? _base;
    private BaseState? _sideBase; // Async: a base being copied and stored while the chain goes on after _base (StartSideBase)
    private byte[] _sealedChain = []; // the chain value after the last sealed pending record (the base's right after a base)
    private readonly SortedSet<long> _runBases = []; // the bases this archiver took since it opened (CheckOtherCopies)
    private string? _drillProblem;
    private DateTimeOffset? _lastDrillAt;
    private volatile bool _needBase;
    private volatile bool _wantSideBase; // set by shipping when the chain grew long (Async), taken by the writer
    private string _needBaseReason = "open";

    // Writer.
    private readonly List<ArchiveRecord> _unconfirmed = []; // taken by the hook, not yet checked against data_version
    private long _txid;
    private long _lastBaseId;
    private long _floorTxid; // shipping sets, the writer reads (NumberAfter): the next base numbers after these
    private long _floorBaseId;
    private volatile string? _renumbering; // why the floor was raised (NumberAfter), for the messages
    private long _dataVersion;
    private int _pageSize;
    private bool _closing;
    private bool _opened;
    private SqliteConnection? _writer;
    private Files.OwnerLock? _owner;

    internal Archiver(WaldenArchiveOptions options, string name, string databasePath, TimeProvider time, ILoggerFactory loggers)
    {
        _options = options;
        _name = name;
        _databasePath = databasePath;
        _time = time;
        _logger = loggers.CreateLogger("Walden.Archiving");
        _stagingFolder = ArchiveLineage.StagingFolder(databasePath);
        _wal = new WalFrameReader();
        _destinations = [.. options.Destinations.Select(d => new DestinationState(d, LogOf(d, options)))];
        foreach (var log in _destinations.Select(d => d.Log).OfType<ArchiveAppendLog>())
        {
            log.Time = time;
            log.SealFailed = failure =>
            {
                ArchiveInstruments.RecordSealFailure(_name);
                LogMessages.ArchiveLogSealFailed(_logger, _name, failure.Log, failure.Reason, failure.Attempts,
                    (failure.NextAttemptAt - _time.GetUtcNow()).TotalSeconds);
            };
            log.SealRecovered = () => LogMessages.ArchiveLogSealRecovered(_logger, _name);
        }
        Seam = new CommitSeam(this);
    }

    internal WaldenArchiveMode Mode => _options.Mode;

    /// <summary>The database's connection factory: a base snapshot is read through a reader connection of its own.</summary>
    internal required ConnectionFactory Connections { get; init; }

    /// <summary>Where the writer, the checkpointer and this archive meet.</summary>
    internal CommitSeam Seam { get; }

    /// <summary>The last transaction id taken (the archive's own numbering, contiguous across bases).</summary>
    internal long LastTxid => Interlocked.Read(ref _txid);

    /// <summary>Reads of the <c>-wal</c> the capture made so far (tests).</summary>
    internal long WalReads => _wal.Reads;

    /// <summary>Lags of shipped transactions (commit to durable in a destination), for the bench's p99.</summary>
    internal LatencyReservoir Lags => _lags;

    /// <summary>
    /// At open, on the writer connection before the writer starts: continues the numbering found in the destinations,
    /// and continues their chain with what changed since (<see cref="TryContinue"/>) or takes the first base snapshot, shipped at once (Sync: here; Async: by the loop once copied), so the archive can be
    /// restored from the first moment and an unreachable destination shows in health at once.
    /// </summary>
    internal void Open(SqliteConnection writer)
    {
        _writer = writer;
        Directory.CreateDirectory(_stagingFolder);
        _owner = ClaimArchive();
        ClaimFolders();
        ClaimLineage();
        _wal.Attach(writer);
        _basesChecked = BasesChecked.Load(_stagingFolder);
        // What the staging folder keeps across runs; everything else in it is an earlier run's leftover.
        HashSet<string> kept = [_owner.Path, Path.Combine(_stagingFolder, ArchiveLineage.LocalFile), MapPath, MapPath + PageMap.JournalSuffix,
            InFlightPath, Path.Combine(_stagingFolder, BasesChecked.FileName)];
        foreach (var stale in Directory.EnumerateFiles(_stagingFolder).Where(f => !kept.Contains(f)))
        {
            File.Delete(stale); // our own staging files from an earlier run: nothing in them is needed any more
        }

        foreach (var destination in _destinations)
        {
            try
            {
                // A log left by an earlier run (a crash, or Sync before) is sealed first; the numbering below counts its
                // records either way (the catalog reads them when the seal could not run).
                if (destination.Destination is WaldenFolderDestination folder)
                {
                    (destination.Log ?? folder.AppendLog).Recover(prepare: destination.Log is not null);
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidDataException)
            {
                destination.Failed(ex, _time.GetUtcNow());
            }

            try
            {
                var (lastBaseId, lastTxid) = Numbering(destination.Destination);
                _lastBaseId = Math.Max(_lastBaseId, lastBaseId);
                _txid = Math.Max(_txid, lastTxid);
                destination.Numbered = true;
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                destination.Failed(ex, _time.GetUtcNow());
            }
        }

        if (!TryContinue(writer, out var why))
        {
            LogMessages.ArchiveNotContinued(_logger, _name, why);
            StartBase(writer, "open");
        }

        if (_options.Mode == WaldenArchiveMode.Sync)
        {
            ShipAll(); // Async: the shipping loop's first round
        }

        TakeOverWalSync(writer);
        var start = _time.GetTimestamp();
        _nextCompactionAt = start + (long)(CompactionInterval.TotalSeconds * _time.TimestampFrequency); // not while the first base ships
        _nextDrillAt = _options.DrillInterval is { } drill ? start + (long)(FirstDrillAfter(drill).TotalSeconds * _time.TimestampFrequency) : long.MaxValue;
        _shipper = _options.Mode == WaldenArchiveMode.Async ? StartLoop(ShippingLoop, "shipping") : StartLoop(SyncStoreLoop, "store");
        _maintainer = StartLoop(MaintenanceLoop, "maintenance");
        _opened = true;
    }

    /// <summary>The highest base id and transaction id a destination holds (names only; 0 for an empty one).</summary>
    /// <exception cref="IOException">The destination cannot be listed now.</exception>
    private static (long BaseId, long Txid) Numbering(IWaldenArchiveDestination destination)
    {
        var catalog = ArchiveCatalog.Read(destination, logBytes: false);
        var names = catalog.Bases.Concat(catalog.Segments.Values.SelectMany(s => s)).Concat(catalog.Logged.Values.Select(l => l.Name)).ToList();
        return (names.Count == 0 ? 0 : names.Max(n => n.BaseId), names.Count == 0 ? 0 : names.Max(n => n.Last));
    }

    /// <summary>
    /// Shipping, under the destination's lock, the first time a destination that could not be read at open is reached:
    /// the bases and transactions were numbered without what it holds, so the current base's id or transaction ids may
    /// repeat its own (a restore by --txid then returned the wrong base's state, and a base id taken in the same second
    /// as an earlier run's could never be stored). Returns null when the numbering already follows what it holds;
    /// otherwise raises the numbering floor, asks for a new base numbered after it, and returns the error that fails this
    /// ship (Sync: the batch is committed but not acknowledged; the next write waits for the new base).
    /// </summary>
    private WaldenArchiveException? NumberAfter(DestinationState destination, BaseState current)
    {
        var (lastBaseId, lastTxid) = Numbering(destination.Destination);
        lock (_gate)
        {
            destination.Numbered = true;
            if (lastBaseId < current.Id && lastTxid < current.Txid)
            {
                return null;
            }

            Interlocked.Exchange(ref _floorBaseId, Math.Max(Interlocked.Read(ref _floorBaseId), lastBaseId));
            Interlocked.Exchange(ref _floorTxid, Math.Max(Interlocked.Read(ref _floorTxid), lastTxid));
            _runBases.Clear(); // numbered anew: the bases taken so far say nothing about another copy (CheckOtherCopies)
        }

        var reason = string.Create(CultureInfo.InvariantCulture,
            $"the destination '{destination.Destination.Name}', first reached after the open, holds base {lastBaseId} and transaction {lastTxid}");
        _renumbering = reason;
        NeedBase(reason + ": a new base numbered after them");
        return BeforeRenumbering(destination);
    }

    /// <summary>
    /// Under the destination's lock, before anything is shipped to it (Ship, and at close): a destination unreachable at
    /// open is claimed (ArchiveLineage) and numbered (NumberAfter) the first time it is reached; after that this costs a flag
    /// check. Returns the error that fails this ship, or null.
    /// </summary>
    /// <exception cref="WaldenArchiveException">The destination holds another database's archive (not transient).</exception>
    /// <exception cref="IOException">The destination cannot be read or written now.</exception>
    private WaldenArchiveException? Reach(DestinationState destination, BaseState current)
    {
        Claim(destination);
        return destination.Numbered ? null : NumberAfter(destination, current);
    }

    /// <summary>A base taken before the numbering floor was raised (NumberAfter) is never shipped: it waits for the new base.</summary>
    private bool TakenBeforeRenumbering(BaseState current) =>
        current.Id <= Interlocked.Read(ref _floorBaseId) || current.Txid <= Interlocked.Read(ref _floorTxid);

    private WaldenArchiveException BeforeRenumbering(DestinationState destination) => new(
        $"The batch was committed to '{_name}' but not archived: {_renumbering}, and this run had numbered its base and " +
        "transactions without them. The archive takes a new base numbered after them with the next write; retry the write.",
        isTransient: true, destination.Destination.Name, innerException: null);

    /// <summary>From the WAL hook (writer thread, after a commit): takes the new frames as one transaction.</summary>
    internal void Captured(int frames)
    {
        if (_needBase)
        {
            return; // the next base snapshot includes this commit
        }

        try
        {
            var (pages, databasePages) = _wal.Take(frames, _arena, out _, out var chunk);
            if (pages.Count == 0)
            {
                return;
            }

            // Only the page images are kept here; encoding and the chain value (a SHA-256 over the record) are done by
            // whoever ships it next (Seal), off the writer thread, in commit order.
            // Held back until AfterCommit has read data_version: a commit of another process before this one, whose frames
            // a WAL reset (its own checkpoint) took away, is missing from these pages, and only then can it be seen.
            var record = new ArchiveRecord(_txid + 1, Micros(_time.GetUtcNow()), databasePages, pages, _pageSize) { Chunk = chunk };
            _unconfirmed.Add(record);
            Interlocked.Exchange(ref _txid, record.Txid);
        }
#pragma warning disable CA1031 // Runs inside SQLite's WAL hook: nothing may escape; the archive answers with a new base.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            NeedBase($"a commit could not be taken from the WAL: {ex.Message}");
        }
    }

    /// <summary>
    /// On the writer thread after Walden's COMMIT returned: notices commits that were not Walden's (another process),
    /// takes a base snapshot when one is due, and in Sync mode ships everything taken to every destination (and, with
    /// <see cref="WaldenDurability.Full"/>, fsyncs the WAL meanwhile: see <see cref="ShipAllWithin"/>).
    /// </summary>
    /// <returns>Null when the batch may be acknowledged; otherwise why not (Sync mode only).</returns>
    internal WaldenArchiveException? AfterCommit(SqliteConnection writer)
    {
        try
        {
            return AfterCommitCore(writer);
        }
#pragma warning disable CA1031 // Between COMMIT and acknowledgement nothing may throw: the answer is a new base, and in Sync a failed batch.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            NeedBase($"the archive failed after a commit: {ex.Message}");
            return _options.Mode == WaldenArchiveMode.Sync
                ? new WaldenArchiveException($"The batch was committed to '{_name}' but not archived ({ex.Message}); the writes are not acknowledged.",
                    isTransient: true, destination: null, ex)
                : null;
        }
    }

    private WaldenArchiveException? AfterCommitCore(SqliteConnection writer)
    {
        try
        {
            ConfirmTaken(writer);
            if (_needBase && !BaseCopyRunning)
            {
                StartBase(writer, _needBaseReason); // Async: pins the snapshot and returns; a copy in flight finishes first
            }
            else if (_wantSideBase && !_needBase && !BaseCopyRunning)
            {
                StartSideBase(writer);
            }
        }
        catch (Exception ex) when (ex is SqliteException or IOException or UnauthorizedAccessException)
        {
            NeedBase($"the base snapshot failed: {ex.Message}");
            if (_options.Mode == WaldenArchiveMode.Sync)
            {
                return new WaldenArchiveException(
                    $"The batch was committed to '{_name}' but the archive could not take a base snapshot ({ex.Message}); " +
                    "the writes are not acknowledged as archived. Free space beside the database for the staging copy.",
                    isTransient: true, destination: null, ex);
            }
        }

        return _options.Mode == WaldenArchiveMode.Sync ? ShipAllWithin(_options.SyncTimeout) : null;
    }

    /// <summary>
    /// Writer: the transactions the hook took since the last call become shippable, unless another process committed since
    /// the last call (PRAGMA data_version moved) or a new base is due anyway. Then they are dropped: their pages may lack
    /// that commit's (its frames can have left the WAL before ours were written), so they could restore a state that
    /// never existed; the next base holds them.
    /// </summary>
    private void ConfirmTaken(SqliteConnection writer)
    {
        long version;
        try
        {
            version = ConnectionFactory.Scalar<long>(writer, "PRAGMA data_version");
        }
        catch
        {
            DropUnconfirmed();
            throw;
        }

        if (version != _dataVersion)
        {
            NeedBase("another connection or process committed to the database (PRAGMA data_version changed)");
        }

        _dataVersion = version;
        if (_needBase)
        {
            DropUnconfirmed();
            return;
        }

        if (_unconfirmed.Count == 0)
        {
            return;
        }

        lock (_gate)
        {
            foreach (var record in _unconfirmed)
            {
                _pending.Add(record);
                _pendingBytes += record.Bytes;
            }

            if (_pendingBytes > _options.MaxPendingBytes)
            {
                NeedBase($"a destination is behind by more than MaxPendingBytes ({_options.MaxPendingBytes:N0} bytes)");
            }
        }

        _unconfirmed.Clear();
    }

    /// <summary>Writer: forgets the transactions not yet confirmed (no ship has seen them) and takes their ids back.</summary>
    private void DropUnconfirmed()
    {
        if (_unconfirmed.Count == 0)
        {
            return;
        }

        Interlocked.Exchange(ref _txid, _unconfirmed[0].Txid - 1);
        foreach (var record in _unconfirmed)
        {
            record.Pages.Clear();
            record.Chunk?.Release();
            record.Chunk = null;
        }

        _unconfirmed.Clear();
    }

    /// <summary>Checkpointer thread, while the writer is held: a committed frame the hook never saw means another process wrote.</summary>
    internal void CheckNothingUntaken()
    {
        try
        {
            if (!_needBase && _wal.Positioned && _wal.HasUntakenCommit())
            {
                NeedBase("another process committed to the database (a WAL frame the writer's hook never saw)");
            }

            // The writer is held between batches, so its connection is free; a change here is someone else's commit,
            // which the reset about to happen would otherwise hide behind the data_version change it causes itself.
            if (!_needBase && _writer is not null && ConnectionFactory.Scalar<long>(_writer, "PRAGMA data_version") != _dataVersion)
            {
                NeedBase("another connection or process committed to the database (PRAGMA data_version changed)");
            }
        }
#pragma warning disable CA1031 // The checkpoint must go on; the archive answers with a new base.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            NeedBase($"the WAL could not be read before a checkpoint reset it: {ex.Message}");
        }
    }

    /// <summary>
    /// Checkpointer thread, still holding the writer, after a RESTART or TRUNCATE: takes the data_version the reset itself
    /// caused as the new baseline, so the next commit does not mistake it for another process's commit.
    /// </summary>
    internal void ResetDone()
    {
        try
        {
            if (_writer is not null)
            {
                _dataVersion = ConnectionFactory.Scalar<long>(_writer, "PRAGMA data_version");
            }
        }
#pragma warning disable CA1031 // The checkpoint is done; without a baseline the next commit answers with a new base.
        catch (Exception ex)
#pragma warning restore CA1031
        {
            NeedBase($"the data_version after a checkpoint could not be read: {ex.Message}");
        }
    }

    private void NeedBase(string reason)
    {
        if (!_needBase)
        {
            _needBaseReason = reason;
            _needBase = true;
            LogMessages.ArchiveCaptureLost(_logger, _name, reason);
        }
    }

    /// <summary>After the writer connection's last commit (close): ships what is left, best effort, and stops.</summary>
    internal void Close()
    {
        _closing = true;
        WaitForBaseCopy();
        NumberLateDestinations();
        TakeLastBaseIfDue();
        StopLoop();
        ShipAll();
        FinishSideBase();
        foreach (var destination in _destinations)
        {
            try
            {
                destination.Log?.SealAll(TimeSpan.Zero); // the log's records become ordinary segments; the files stay, recycled
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or InvalidDataException)
            {
                LogMessages.ArchiveDestinationFailed(_logger, _name, destination.Destination.Name, ex.Message); // sealed at the next open
            }
            finally
            {
                destination.Log?.Close(); // the next open recovers the log's files from disk
            }
        }

        lock (_gate)
        {
            _base?.TryDeleteStaged(_destinations);
        }

        _wal.Dispose();
        ReleaseClaim();
        TryDeleteStagingFolder();
    }

    /// <summary>Tests: waits for a side base's copy and store, and switches to it as close would.</summary>
    internal void FinishSideBaseForTests()
    {
        WaitForBaseCopy();
        FinishSideBase();
    }

    /// <summary>The id of the base the chain currently follows (tests).</summary>
    internal long CurrentBaseId
    {
        get
        {
            lock (_gate)
            {
                return _base?.Id ?? 0;
            }
        }
    }

    /// <summary>
    /// Close: a side base being stored is finished (stored, switched to, its records shipped again) when it can be; one that
    /// cannot is abandoned: the chain after the current base holds everything up to the close anyway.
    /// </summary>
    private void FinishSideBase()
    {
        BaseState? side;
        lock (_gate)
        {
            side = _sideBase;
        }

        if (side is null)
        {
            return;
        }

        side.Store?.Wait();
        ShipAll(); // starts the store if the copy has just finished
        side.Store?.Wait();
        ShipAll(); // switches when every destination stores it, and ships the records after it again
        lock (_gate)
        {
            if (_sideBase == side)
            {
                side.Superseded = true;
                side.TryDeleteStaged(_destinations);
                _sideBase = null;
            }
        }
    }

    /// <summary>
    /// Close, before the last base is decided: a destination that came back since the open but has not been shipped to yet
    /// (Async ships every quarter of MaxLag) is numbered now, so a base it calls for is taken at close and the archive
    /// ends at the close, not at the open's state.
    /// </summary>
    private void NumberLateDestinations()
    {
        foreach (var destination in _destinations.Where(d => !d.Numbered))
        {
            lock (destination)
            {
                try
                {
                    BaseState? current;
                    lock (_gate)
                    {
                        current = _base;
                    }

                    if (current is not null)
                    {
                        Reach(destination, current);
                    }
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or WaldenArchiveException)
                {
                    // Still unreachable, or refused: the last ship below reports it.
                }
            }
        }
    }

    /// <summary>
    /// Close, writer: the commits since the last batch (the closing optimize's) are confirmed like a batch's, and when the
    /// stream has a gap to answer (another process committed, a capture failed) the base is taken now, so the archive
    /// holds everything up to the close rather than ending at a moment before the gap.
    /// </summary>
    private void TakeLastBaseIfDue()
    {
        if (_writer is null || !_opened)
        {
            return; // an open that failed (another process archives the file) took nothing and may ship nothing
        }

        try
        {
            ConfirmTaken(_writer);
            if (_needBase)
            {
                StartBase(_writer, _needBaseReason + " (at close)");
                WaitForBaseCopy();
            }
        }
        catch (Exception ex) when (ex is SqliteException or IOException or UnauthorizedAccessException or InvalidOperationException)
        {
            NeedBase($"the base at close failed: {ex.Message}");
            LogMessages.ArchiveCaptureLost(_logger, _name, $"the base at close failed ({ex.Message}); the next open takes one");
        }
    }

    private void ReleaseClaim()
    {
        _owner?.Dispose();
        _owner = null; // the owner file is deleted by name: never twice, another process may have claimed it since
    }

    /// <summary>
    /// One archive folder holds one database's archive: two archivers writing one folder (two databases) number their bases
    /// by the clock and their segments from 1, so their objects collide and interleave, and each reads the other's as its
    /// own (a restore then returns the other database, and says it is complete). A folder destination therefore names its
    /// database in <c>archive-of</c> (written at the first open); a folder that names another database is refused. Nothing
    /// is held open in the folder (it can still be remounted read-only or unmounted while the database runs, and copied).
    /// A folder that cannot be read or written here (missing, read-only) is not refused: its failures show as any
    /// destination's do, and the name is written at a later open.
    /// </summary>
    /// <exception cref="WaldenArchiveException">The folder holds the archive of another database file, or is a file.</exception>
    private void ClaimFolders()
    {
        foreach (var folder in _destinations.Select(d => d.Destination).OfType<WaldenFolderDestination>())
        {
            if (File.Exists(folder.Path))
            {
                // Not a folder that is missing for now (an unmounted disk comes back): a file there is a wrong path.
                throw new WaldenArchiveException(WaldenFolderDestination.FolderProblem(folder.Path, writing: true)!,
                    isTransient: false, destination: folder.Name, innerException: null);
            }

            var marker = Path.Combine(folder.Path, ArchiveOfFile);
            string? owner;
            try
            {
                if (File.Exists(marker))
                {
                    Files.FileKind.EnsureRegular(marker, "read as the archive's marker");
                }

                owner = File.Exists(marker) ? File.ReadAllText(marker).Trim() : null;
                if (owner is null && Directory.Exists(folder.Path))
                {
                    using var created = new FileStream(marker, FileMode.CreateNew, FileAccess.Write);
                    created.Write(System.Text.Encoding.UTF8.GetBytes(_databasePath + "\n"));
                    created.Flush(flushToDisk: true);
                    continue;
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                continue; // another archiver just wrote it, or the folder cannot take it now: the next open reads it
            }

            if (owner is not null && !string.Equals(owner, _databasePath, StringComparison.Ordinal))
            {
                throw new WaldenArchiveException(
                    $"The archive folder '{folder.Path}' holds the archive of '{owner}', not of '{_databasePath}': one archive folder " +
                    "holds one database's archive (their objects would collide, and a restore would return the other database). " +
                    $"Give this database a folder of its own (e.g. {Path.Combine(folder.Path, Path.GetFileNameWithoutExtension(_databasePath))}); " +
                    $"if '{owner}' was moved to '{_databasePath}', write the new path into '{marker}'" +
                    ArchiveLineage.AfterMove(folder, owner, _databasePath) + ".",
                    isTransient: false, destination: folder.Name, innerException: null);
            }
        }
    }

    /// <summary>
    /// Every destination holds one database's archive, told by its lineage (<see cref="ArchiveLineage"/>) rather than by path:
    /// the same path on two machines sharing a destination, or two paths in one bucket, pass any path check. A destination
    /// that cannot be reached now is not refused (its failures show as any destination's do) and is claimed at a later open.
    /// </summary>
    /// <exception cref="WaldenArchiveException">A destination holds another database's archive, or the lineage file is damaged.</exception>
    private void ClaimLineage()
    {
        foreach (var destination in _destinations)
        {
            try
            {
                Claim(destination);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Missing, read-only or unreachable now: its failures show as any destination's do, and it is claimed before
                // the first object is shipped to it (Ship).
            }
        }
    }

    /// <summary>Claims one destination for this database's lineage, once; one at a time (the first claim creates the local id).</summary>
    /// <exception cref="WaldenArchiveException">The destination holds another database's archive, or the lineage file is damaged.</exception>
    /// <exception cref="IOException">The destination cannot be read or written now.</exception>
    private void Claim(DestinationState destination)
    {
        lock (_lineageGate)
        {
            if (destination.Refused is { } why)
            {
                throw new WaldenArchiveException(why, isTransient: false, destination: destination.Destination.Name, innerException: null);
            }

            if (destination.Claimed)
            {
                return;
            }

            string? refused;
            try
            {
                refused = ArchiveLineage.Claim(destination.Destination, _stagingFolder, _databasePath);
            }
            catch (InvalidDataException ex)
            {
                throw new WaldenArchiveException(ex.Message, isTransient: false, destination: destination.Destination.Name, innerException: ex);
            }

            destination.Claimed = refused is null;
            if (refused is not null)
            {
                throw new WaldenArchiveException(refused, isTransient: false, destination: destination.Destination.Name, innerException: null);
            }
        }
    }

    /// <summary>
    /// Maintenance loop, every compaction interval: a destination that holds a base newer than this archiver's first one
    /// that it did not take has another archiver of the same lineage: a copy of this database (a cloned disk or virtual
    /// machine, the file copied with its staging folder) that archives into it too. Each numbers its own bases, a restore
    /// of the latest state returns the copy with the newest base, and the other's acknowledged writes sit under an older
    /// base where no such restore looks. The copy that sees it stops archiving into that destination (Sync writes fail
    /// with a non-transient <see cref="WaldenArchiveException"/>, Async health turns Degraded) rather than go on silently.
    /// The copy with the newer base sees nothing until the other takes a base; the first base taken after that is seen.
    /// Only bases are compared: a base id is taken once, by the clock and after every id in the destination at open,
    /// so no base of this archiver's own can be mistaken for another's.
    /// </summary>
    internal void CheckOtherCopies()
    {
        SortedSet<long> ours;
        List<DestinationState> checkable;
        lock (_gate)
        {
            if (_runBases.Count == 0)
            {
                return;
            }

            ours = new SortedSet<long>(_runBases);
            checkable = [.. _destinations.Where(d => d.Claimed && d.Numbered)]; // a refused one is no longer Claimed
        }

        var first = ours.Min;

        foreach (var destination in checkable)
        {
            ArchiveCatalog catalog;
            try
            {
                catalog = ArchiveCatalog.Read(destination.Destination, includeLog: false, logBytes: false);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                continue; // unreachable now: shipping reports it
            }

            var other = catalog.Bases.Where(b => b.BaseId > first && !ours.Contains(b.BaseId)).Select(b => b.BaseId).Order().ToList();
            var claim = other.Count == 0 ? ForeignClaim(destination.Destination, catalog, ours) : null;
            if (other.Count == 0 && claim is null)
            {
                continue;
            }

            var lineage = Path.Combine(_stagingFolder, ArchiveLineage.LocalFile);
            var found = other.Count > 0
                ? string.Create(CultureInfo.InvariantCulture, $"base {other[0]}, which this database did not take, after its own base {first}")
                : $"'{claim}', a continuation of this database's chain that this run did not write";
            var why = string.Create(CultureInfo.InvariantCulture,
                $"The archive destination '{destination.Destination.Name}' holds {found}: another copy of this database (the same lineage, in '{lineage}': a cloned disk or " +
                $"virtual machine, or the file copied with its staging folder) archives into it too, and a restore of the latest " +
                $"state would return that copy's history without this one's writes. Archiving into it stopped. Give each copy a " +
                $"destination of its own, and the copy a lineage of its own (delete its '{ArchiveLineage.LocalFile}' file before it opens).");
            lock (_lineageGate)
            {
                destination.Refused = why;
                destination.Claimed = false;
            }

            if (destination.Failed(new InvalidOperationException(why), _time.GetUtcNow()))
            {
                LogMessages.ArchiveDestinationFailed(_logger, _name, destination.Destination.Name, why);
            }
        }
    }

    /// <summary>
    /// One process archives a database file: its archive takes each commit from its own writer's WAL hook, and a second
    /// archiving process would number bases and segments on its own and delete the first one's staged base. The claim is
    /// an owner file in the staging folder, held with an exclusive advisory lock (<see cref="Files.OwnerLock"/>) that the
    /// kernel drops when the process dies, however it dies.
    /// </summary>
    /// <exception cref="WaldenArchiveException">Another living process archives this database file.</exception>
    private Files.OwnerLock ClaimArchive()
    {
        var owner = Path.Combine(_stagingFolder, "archiver");
        try
        {
            return Files.OwnerLock.Claim(owner);
        }
        catch (IOException ex)
        {
            // Not read from the owner file: opening it would take a shared flock, which the holder's exclusive one refuses.
            var pid = Diagnostics.Doctor.FileLocks.FlocksOn(owner + Files.OwnerLock.Suffix).FirstOrDefault()?.ProcessId.ToString(CultureInfo.InvariantCulture);
            throw new WaldenArchiveException(
                $"The database '{_name}' is already archived by another process{(string.IsNullOrEmpty(pid) ? string.Empty : $" (pid {pid})")}: " +
                "one process per database file archives it (its writer's commits are the ones it captures). Open the database " +
                "in the other processes without WaldenOptions.Archive (the archiving process answers their commits with a new base " +
                "snapshot), or stop the other process first.",
                isTransient: true, destination: null, ex);
        }
    }

    public void Dispose()
    {
        _wal.Dispose();
        ReleaseClaim();
    }

    private static ArchiveAppendLog? LogOf(IWaldenArchiveDestination destination, WaldenArchiveOptions options)
    {
        if (options.Mode != WaldenArchiveMode.Sync || destination is not WaldenFolderDestination { UseAppendLog: true } folder)
        {
            return null;
        }

        var log = folder.AppendLog;
        log.SealBytes = options.SegmentTargetBytes;
        return log;
    }

    private void TryDeleteStagingFolder()
    {
        try
        {
            if (Directory.Exists(_stagingFolder) && !Directory.EnumerateFileSystemEntries(_stagingFolder).Any())
            {
                Directory.Delete(_stagingFolder);
            }
        }
        catch (IOException)
        {
        }
    }

    internal static long Micros(DateTimeOffset time) => (time.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks) / 10;
}
