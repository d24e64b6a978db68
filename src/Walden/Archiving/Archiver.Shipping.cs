using System.Globalization;
using Walden.Diagnostics;

namespace Walden.Archiving;

internal sealed partial class Archiver
{
    private Thread? _shipper;
    private Thread? _maintainer;
    private readonly AutoResetEvent _wake = new(initialState: false);
    private readonly ManualResetEvent _stopped = new(initialState: false);
    private volatile bool _stopping;
    private readonly object _sealing = new();

    /// <summary>Ships to every destination; returns the first failure as the error for the batch (Sync mode).</summary>
    internal WaldenArchiveException? ShipAll()
    {
        WaitForChainBaseCopy(); // everything after a base in flight waits for it anyway; the loop ships it as soon as it is ready
        Seal();
        WaldenArchiveException? first = null;
        foreach (var destination in _destinations)
        {
            var error = Ship(destination);
            first ??= error;
        }

        Trim();
        if (_options.Mode == WaldenArchiveMode.Async)
        {
            ShipSideBase();
        }

        return first;
    }

    /// <summary>Sends a destination its missing base and (unless <paramref name="baseOnly"/>) every record after what it has, as one segment per call.</summary>
    private WaldenArchiveException? Ship(DestinationState destination, bool baseOnly = false)
    {
        lock (destination)
        {
            BaseState? current;
            List<ArchiveRecord> records;
            lock (_gate)
            {
                current = _base;
                if (current?.Chain is null)
                {
                    // No base yet, or its copy failed (a new one is due at the next commit).
                    return current?.Problem is { } problem && _options.Mode == WaldenArchiveMode.Sync
                        ? new WaldenArchiveException($"The batch was committed to '{_name}' but the archive has no base snapshot to follow ({problem}); " +
                            "the writes are not acknowledged as archived. Free space beside the database for the staging copy.",
                            isTransient: true, destination: null, null)
                        : null;
                }

                var after = destination.BaseId == current.Id ? destination.ShippedTxid : current.Txid;
                records = baseOnly ? [] : _pending.Where(r => r.Txid > after).TakeWhile(r => r.Sealed).ToList();
            }

            var now = _time.GetUtcNow();
            try
            {
                if (Reach(destination, current) is { } renumbering)
                {
                    return renumbering;
                }

                if (TakenBeforeRenumbering(current))
                {
                    return BeforeRenumbering(destination); // never an object numbered over what a destination holds
                }

                if (destination.BaseId != current.Id)
                {
                    using (var staged = new FileStream(current.Staged, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, 1 << 16))
                    {
                        PutOnce(destination, ArchiveFormat.BaseName(current.Id), staged);
                        _basesChecked?.Record(destination.Destination.Name, current.Id, staged.Length, _time.GetUtcNow());
                    }

                    destination.AtBase(current.Id, current.Txid, current.Chain!);
                    lock (_gate)
                    {
                        current.TryDeleteStaged(_destinations);
                    }
                }

                var slices = new List<List<ArchiveRecord>>();
                for (var start = 0; start < records.Count;)
                {
                    var end = start;
                    long bytes = 0;
                    while (end < records.Count && (end == start || bytes + records[end].Bytes <= _options.SegmentTargetBytes))
                    {
                        bytes += records[end].Bytes;
                        end++;
                    }

                    slices.Add(records.GetRange(start, end - start));
                    start = end;
                }

                NoteInFlight(current, slices); // before they are stored: a crash after a store still continues at open

                foreach (var slice in slices)
                {
                    var segment = destination.Scratch;
                    ArchiveFormat.EncodeSegment(current.Id, current.PageSize, destination.Chain, slice, segment);
                    if (destination.Log is { Faulted: false } log)
                    {
                        // Sync, a folder: one record and one fdatasync of allocated blocks, written from the scratch buffer (ArchiveAppendLog)
                        log.Append(segment.GetBuffer().AsMemory(0, (int)segment.Length));
                    }
                    else
                    {
                        PutOnce(destination, ArchiveFormat.SegmentName(current.Id, slice[0].Txid, slice[^1].Txid), segment);
                    }

                    destination.Shipped(slice[^1].Txid, slice[^1].Chain!, segment.Length);
                    if (slice.FirstOrDefault(r => !r.Reshipped) is { } first)
                    {
                        _lags.Add((now - first.Time).TotalSeconds);
                        ArchiveInstruments.RecordLag((now - first.Time).TotalSeconds, _name);
                    }
                }

                destination.TrimScratch();

                if (destination.ChainBytes > _options.NewBaseAfterBytes && !_needBase)
                {
                    if (_options.Mode == WaldenArchiveMode.Async)
                    {
                        lock (_gate)
                        {
                            _wantSideBase = _sideBase is null; // copied beside the chain, which goes on (StartSideBase)
                        }
                    }
                    else
                    {
                        NeedBase(string.Create(CultureInfo.InvariantCulture,
                            $"the segments after base {current.Id} reached {destination.ChainBytes:N0} bytes (NewBaseAfterBytes)"));
                    }
                }

                if (destination.Succeeded())
                {
                    LogMessages.ArchiveDestinationRecovered(_logger, _name, destination.Destination.Name);
                }

                return null;
            }
            catch (WaldenArchiveException ex) when (!ex.IsTransient)
            {
                // Another database's archive: nothing is written to it, and in Sync mode nothing is acknowledged until it is fixed.
                if (destination.Failed(ex, now))
                {
                    LogMessages.ArchiveDestinationFailed(_logger, _name, destination.Destination.Name, ex.Message);
                }

                return ex;
            }
#pragma warning disable CA1031 // A destination is the user's code (or a disk): whatever it throws is that destination's failure.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                if (destination.Failed(ex, now))
                {
                    LogMessages.ArchiveDestinationFailed(_logger, _name, destination.Destination.Name, ex.Message);
                }

                return new WaldenArchiveException(
                    $"The archive destination '{destination.Destination.Name}' failed ({ex.GetType().Name}: {ex.Message}). " +
                    (_closing ? "Archiving stopped with the database; the next open takes a new base snapshot."
                        : "In Sync mode the batch is committed locally but not acknowledged: it is not archived. " +
                          "Make the destination writable again (mounted, space, permissions); the archive catches up without a gap."),
                    isTransient: true, destination.Destination.Name, ex);
            }
        }
    }

    /// <summary>
    /// Chains the records taken since the last call, in commit order, on the calling (shipping) thread: the writer thread
    /// only keeps the page images (<see cref="Captured"/>), and the segment encodes them straight from there. A base taken
    /// meanwhile drops the records, and the work done on them is thrown away.
    /// </summary>
    private void Seal()
    {
        lock (_sealing)
        {
            BaseState? at;
            byte[] chain;
            List<ArchiveRecord> work;
            lock (_gate)
            {
                at = _base;
                chain = _sealedChain;
                work = _pending.Where(r => !r.Sealed).ToList();
            }

            if (at?.Chain is null || work.Count == 0)
            {
                return; // no base, or its copy still runs: the records are chained from it once it is ready
            }

            var chains = new byte[work.Count][];
            for (var i = 0; i < work.Count; i++)
            {
                chain = chains[i] = ArchiveFormat.ChainNext(chain, work[i]);
            }

            lock (_gate)
            {
                if (_base != at)
                {
                    return;
                }

                for (var i = 0; i < work.Count; i++)
                {
                    work[i].Chain = chains[i];
                }

                _sealedChain = chain;
            }
        }
    }

    /// <summary>Puts an object; one that is already there whole (an earlier attempt stored it, then failed to say so) counts as stored.</summary>
    /// <remarks>
    /// "Whole" means the same bytes, not only the same length: an object of the same name and length written by someone
    /// else (another archiver numbering on top of this one) must fail the Put, not count as this database's and let a Sync
    /// write be acknowledged that no restore can return. The comparison reads the object back, on this error path only.
    /// </remarks>
    private static void PutOnce(DestinationState destination, string name, Stream content)
    {
        var start = content.Position;
        try
        {
            destination.Destination.Put(name, content);
        }
        catch (IOException) when (StoredAlready(destination.Destination, name, content, start))
        {
        }
    }

    /// <summary>The object holds exactly the bytes of <paramref name="content"/> from <paramref name="start"/>: same length, same bytes (a missing one does not).</summary>
    private static bool StoredAlready(IWaldenArchiveDestination destination, string name, Stream content, long start)
    {
        if (!content.CanSeek)
        {
            return false;
        }

        try
        {
            content.Position = start;
            using var stored = destination.OpenRead(name);
            var mine = new byte[1 << 16];
            var theirs = new byte[1 << 16];
            while (true)
            {
                var read = content.ReadAtLeast(mine, mine.Length, throwOnEndOfStream: false);
                var want = Math.Max(read, 1); // one more byte past the end: the stored object must end there too
                var got = stored.ReadAtLeast(theirs.AsSpan(0, want), want, throwOnEndOfStream: false);
                if (read == 0)
                {
                    return got == 0;
                }

                if (got != read || !mine.AsSpan(0, read).SequenceEqual(theirs.AsSpan(0, read)))
                {
                    return false;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false; // cannot be read back: not known to be this one
        }
    }

    /// <summary>Drops records every destination has, and has the page map follow them (<see cref="UpdateMap"/>).</summary>
    private void Trim()
    {
        BaseState? held;
        var applied = new List<(long, uint, byte[], (uint, UInt128)[])>();
        lock (_gate)
        {
            if (_base is null)
            {
                return;
            }

            held = _destinations.All(d => d.BaseId == _base.Id) ? _base : null;
            var everywhere = _destinations.Min(d => d.BaseId == _base.Id ? d.ShippedTxid : _base.Txid);
            var shipped = everywhere;
            if (_sideBase is { Superseded: false } side)
            {
                shipped = Math.Min(shipped, side.Txid); // kept to be shipped again after the side base (SwitchToSideBase)
            }

            // The page map follows everything every destination holds, the records kept for a side base too: a map left
            // behind them made the next open take a base (walden torture --archive async, seed 238180067, cycle 42).
            foreach (var record in _pending)
            {
                if (record.Txid > everywhere)
                {
                    break;
                }

                if (held is not null && !record.Mapped && record.Chain is { } chain)
                {
                    // Read before the pages go back to the arena below.
                    applied.Add((record.Txid, record.DatabasePages, chain, [.. record.Pages.Select(p => (p.Page, PageMap.DigestOf(p.Data.Span)))]));
                    record.Mapped = true;
                }
            }

            var drop = 0;
            while (drop < _pending.Count && _pending[drop].Txid <= shipped)
            {
                var record = _pending[drop];
                _pendingBytes -= record.Bytes;

                if (record.Chunk is { } chunk)
                {
                    // Every destination stored it, and a ship only ever reads records after what its destination has (under
                    // the destination's lock), so nothing reads these pages any more.
                    record.Pages.Clear();
                    record.Chunk = null;
                    chunk.Release();
                }

                drop++;
            }

            _pending.RemoveRange(0, drop);
        }

        if (held is not null)
        {
            UpdateMap(held, applied);
        }
    }

    /// <summary>How far the most lagging destination is behind: the age of the oldest transaction it does not have yet.</summary>
    internal TimeSpan CurrentLag() => CurrentLag(out _);

    /// <summary>The lag, and the name of the destination furthest behind (null when none is).</summary>
    internal TimeSpan CurrentLag(out string? behind)
    {
        behind = null;
        lock (_gate)
        {
            if (_base is null)
            {
                return TimeSpan.Zero;
            }

            var now = _time.GetUtcNow();
            var lag = TimeSpan.Zero;
            foreach (var destination in _destinations)
            {
                var after = destination.BaseId == _base.Id ? destination.ShippedTxid : _base.Txid;
                var oldest = _pending.FirstOrDefault(r => r.Txid > after && !r.Reshipped);
                var age = oldest is not null ? now - oldest.Time
                    : destination.BaseId != _base.Id && destination.FailingSince is { } since ? now - since
                    : TimeSpan.Zero;
                if (age > lag)
                {
                    lag = age;
                    behind = destination.Destination.Name;
                }
            }

            return lag;
        }
    }

    private Thread StartLoop(ThreadStart loop, string what)
    {
        var thread = new Thread(loop) { IsBackground = true, Name = $"walden-archive-{what}:{_name}" };
        thread.UnsafeStart();
        return thread;
    }

    private void StopLoop()
    {
        _stopping = true;
        _wake.Set();
        _stopped.Set();
        _shipper?.Join();
        _maintainer?.Join();
    }

    /// <summary>Wakes the shipping loop (tests; and the writer when much is pending).</summary>
    internal void Wake() => _wake.Set();

    /// <summary>
    /// Async mode: ships every quarter of MaxLag and does nothing else, so the lag bound never waits behind compaction,
    /// retention or a drill, which read whole chains and run on <see cref="MaintenanceLoop"/>.
    /// </summary>
    private void ShippingLoop()
    {
        var interval = TimeSpan.FromTicks(Math.Max(TimeSpan.FromMilliseconds(5).Ticks, _options.MaxLag.Ticks / 4));
        ShipAll(); // the base at open (or the transaction that continues the chain), once ready, without waiting for the first interval
        while (!_stopping)
        {
            _wake.WaitOne(interval);
            if (_stopping)
            {
                break;
            }

            ShipAll();
        }
    }

    /// <summary>Both modes: compaction and retention every <see cref="CompactionInterval"/>, the drill on its schedule.</summary>
    private void MaintenanceLoop()
    {
        while (!_stopped.WaitOne(TimeSpan.FromSeconds(1)))
        {
            RunMaintenance();
        }
    }

    /// <summary>What one destination has, owned by whoever holds its lock (the writer in Sync mode, the loop in Async).</summary>
    private sealed class DestinationState(IWaldenArchiveDestination destination, ArchiveAppendLog? log)
    {
        /// <summary>How much of a segment's buffer is kept between ships; a larger one (a huge transaction) goes to the GC.</summary>
        private const int RetainedScratchBytes = 16 << 20;

        public IWaldenArchiveDestination Destination { get; } = destination;

        /// <summary>Sync mode, a folder: the append log each batch is stored in (null: a Put per batch).</summary>
        public ArchiveAppendLog? Log { get; } = log;

        /// <summary>The buffer each segment for this destination is encoded into, reused (under the destination's lock).</summary>
        public MemoryStream Scratch { get; private set; } = new();

        public void TrimScratch()
        {
            if (Scratch.Capacity > RetainedScratchBytes)
            {
                Scratch = new MemoryStream();
            }
        }

        /// <summary>This database's lineage is in the destination (<see cref="ArchiveLineage"/>): objects may be shipped to it.</summary>
        public bool Claimed { get; set; }

        /// <summary>Its bases and transactions were read when this run's numbering was set (at open, or by NumberAfter).</summary>
        public bool Numbered { get; set; }

        /// <summary>Why nothing more is shipped to it while this archiver runs (another copy of the database archives there), or null.</summary>
        public string? Refused { get; set; }

        public long BaseId { get; private set; } = -1;

        public long ShippedTxid { get; private set; }

        public byte[] Chain { get; private set; } = [];

        public long ChainBytes { get; private set; }

        public string? LastError { get; private set; }

        public DateTimeOffset? FailingSince { get; private set; }

        public void AtBase(long id, long txid, byte[] chain)
        {
            BaseId = id;
            ShippedTxid = txid;
            Chain = chain;
            ChainBytes = 0;
        }

        /// <summary>At open, continuing the chain this destination ends with (Archiver.TryContinue).</summary>
        public void Continued(long id, long txid, byte[] chain, long chainBytes)
        {
            BaseId = id;
            ShippedTxid = txid;
            Chain = chain;
            ChainBytes = chainBytes;
        }

        public void Shipped(long txid, byte[] chain, long bytes)
        {
            ShippedTxid = txid;
            Chain = chain;
            ChainBytes += bytes;
        }

        /// <summary>Returns true when this is the first failure of a run (log once).</summary>
        public bool Failed(Exception error, DateTimeOffset now)
        {
            LastError = $"{error.GetType().Name}: {error.Message}";
            if (FailingSince is null)
            {
                FailingSince = now;
                return true;
            }

            return false;
        }

        /// <summary>A Sync batch gave up waiting for this destination (it may still be storing).</summary>
        public void Slow(DateTimeOffset now, TimeSpan timeout)
        {
            LastError ??= $"slower than SyncTimeout ({timeout.TotalSeconds:0.###} s)";
            FailingSince ??= now;
        }

        /// <summary>Returns true when it had been failing.</summary>
        public bool Succeeded()
        {
            var was = FailingSince is not null;
            FailingSince = null;
            LastError = null;
            return was;
        }
    }
}
