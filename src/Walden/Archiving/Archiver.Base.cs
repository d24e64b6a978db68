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

        var baseId = Math.Max(Math.Max(_lastBaseId, Interlocked.Read(ref _floorBaseId)) + 1, _time.GetUtcNow().ToUnixTimeSeconds());
        var next = new BaseState(baseId, _txid + 1, Path.Combine(_stagingFolder, $"{baseId}.wbase"), _pageSize, Micros(_time.GetUtcNow()));
        _dataVersion = dataVersion;
        _lastBaseId = baseId;
        Interlocked.Exchange(ref _txid, next.Txid);
        BaseState? previous;
        lock (_gate)
        {
            _runBases.Add(baseId); // before anything of it is shipped: CheckOtherCopies never takes it for another's
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
            _baseCopy = Task.Factory.StartNew(() => CopyBase(next, snapshot, reason, rethrow: false), CancellationToken.None,
                TaskCreationOptions.LongRunning | TaskCreationOptions.DenyChildAttach, TaskScheduler.Default);
        }
    }

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
    private void CopyBase(BaseState next, Backup.BackupSource snapshot, string reason, bool rethrow)
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

            snapshot.Dispose(); // ends the read transaction: checkpoints may reset the WAL again
            Faults?.AfterBaseSnapshotReleased?.Invoke();
            next.Pages = MapOfCopy(copy, next.PageSize);
            byte[] chain;
            using (var output = new FileStream(next.Staged, FileMode.CreateNew, FileAccess.ReadWrite, FileShare.Read, 1 << 16))
            {
                chain = ArchiveFormat.EncodeBase(copy, output, next.Id, next.Txid, next.TimeMicros, next.PageSize);
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
        catch (Exception ex) when (!rethrow || ex is SqliteException or IOException or UnauthorizedAccessException)
#pragma warning restore CA1031
        {
            lock (_gate)
            {
                next.Problem = ex.Message;
            }

            NeedBase($"the base snapshot failed: {ex.Message}");
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

    /// <summary>Waits for a base copy in flight (shipping, close); a failure of it has asked for a new base already.</summary>
    private void WaitForBaseCopy() => _baseCopy?.Wait();

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
