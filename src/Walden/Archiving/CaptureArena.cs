namespace Walden.Archiving;

/// <summary>
/// Where the WAL hook puts the frames it reads back: 1 MiB chunks, filled one commit after another on the writer thread
/// and reused once every record in them is shipped. A commit's read-back is then a copy into memory that is already
/// mapped: a fresh array per commit (or an <see cref="System.Buffers.ArrayPool{T}"/> array, which the shared pool mostly
/// cannot keep when a ship interval's worth of buffers, hundreds, comes back at once on another thread) costs the writer a
/// large-object allocation, a page fault per page on first touch and, later, a full garbage collection: measured (README,
/// "Read-back into reused chunks"), that was most of the archive's cost on the writer's critical path. Ownership: <see cref="Reserve"/> and <see cref="Take"/>
/// run on the writer thread only; a <see cref="Chunk"/> is released by whoever drops the last record in it (any thread).
/// </summary>
internal sealed class CaptureArena
{
    /// <summary>The size of a pooled chunk; a commit larger than this gets a chunk of its own, never pooled.</summary>
    internal const int ChunkBytes = 1 << 20;

    /// <summary>At most this many free chunks are kept (64 MiB); more go to the garbage collector.</summary>
    internal const int MaxFreeChunks = 64;

    private readonly Lock _freeLock = new();
    private readonly Stack<Chunk> _free = new();

    // Writer thread.
    private Chunk? _current;
    private int _used;
    private long _takes;

    /// <summary>Chunks allocated since creation (a reused chunk is not counted): for tests.</summary>
    internal int Allocated { get; private set; }

    /// <summary>Commits taken since creation (read by the idle check on another thread).</summary>
    internal long Takes => Interlocked.Read(ref _takes);

    /// <summary>Writer thread: room for <paramref name="bytes"/> at the end of the current chunk, not yet taken.</summary>
    internal ArraySegment<byte> Reserve(int bytes)
    {
        if (_current is null || _used + bytes > _current.Data.Length)
        {
            _current?.Release(); // the writer's own reference: the chunk is done once its records are
            _current = bytes > ChunkBytes ? new Chunk(this, new byte[bytes]) : Rent();
            _used = 0;
        }

        return new ArraySegment<byte>(_current.Data, _used, bytes);
    }

    /// <summary>Writer thread: takes the <paramref name="bytes"/> last reserved; the record holding them releases the chunk.</summary>
    internal Chunk Take(int bytes)
    {
        var chunk = _current!;
        Interlocked.Increment(ref chunk.References);
        _used += bytes;
        Interlocked.Increment(ref _takes);
        return chunk;
    }

    /// <summary>Drops the free chunks (the archive was idle for a while).</summary>
    internal void ReleaseFree()
    {
        lock (_freeLock)
        {
            _free.Clear();
        }
    }

    /// <summary>Free chunks kept now: for tests.</summary>
    internal int FreeCount
    {
        get
        {
            lock (_freeLock)
            {
                return _free.Count;
            }
        }
    }

    private Chunk Rent()
    {
        lock (_freeLock)
        {
            if (_free.TryPop(out var reused))
            {
                reused.References = 1;
                return reused;
            }
        }

        Allocated++;
        return new Chunk(this, GC.AllocateUninitializedArray<byte>(ChunkBytes));
    }

    private void Return(Chunk chunk)
    {
        if (chunk.Data.Length != ChunkBytes)
        {
            return;
        }

        lock (_freeLock)
        {
            if (_free.Count < MaxFreeChunks)
            {
                _free.Push(chunk);
            }
        }
    }

    /// <summary>One chunk: its bytes and how many holders it has (the writer while current, plus one per record in it).</summary>
    internal sealed class Chunk(CaptureArena arena, byte[] data)
    {
        internal int References = 1;

        internal byte[] Data { get; } = data;

        /// <summary>Drops one holder; the last one gives the chunk back for reuse. Call once per holder.</summary>
        internal void Release()
        {
            if (Interlocked.Decrement(ref References) == 0)
            {
                arena.Return(this);
            }
        }
    }
}
