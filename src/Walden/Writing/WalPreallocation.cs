using Microsoft.Data.Sqlite;
using Walden.Native;

namespace Walden.Writing;

/// <summary>
/// Keeps the <c>-wal</c> file allocated a little ahead of the writer, so a commit overwrites blocks the file already has
/// instead of appending new ones.
/// <para>
/// Why: a commit with synchronous FULL ends with an fdatasync of the WAL. When the commit appended to the file, that
/// fdatasync must also make the file's new size and blocks durable, which on a journaling file system (ext4, xfs) is a
/// journal commit of its own; an overwrite needs only the data. A fresh WAL (a new database, or the first writes after
/// the idle TRUNCATE) grows with every commit until the first RESTART, half of <see cref="WaldenOptions.WalSizeLimit"/>
/// later, where SQLite's own auto-checkpoint keeps overwriting a small WAL from its start. Measured, not assumed: the
/// README, "The WAL's growth".
/// </para>
/// <para>
/// How: through SQLite's own open <c>-wal</c> file (<c>SQLITE_FCNTL_JOURNAL_POINTER</c>), never a descriptor of Walden's
/// (sqlite.org/howtocorrupt.html), with SQLite's own <c>SQLITE_FCNTL_CHUNK_SIZE</c> and <c>SQLITE_FCNTL_SIZE_HINT</c>: the
/// unix VFS writes one byte into each new block (Walden's build has no <c>HAVE_POSIX_FALLOCATE</c>; a fallocated block
/// would still be converted, a metadata change, at its first write). Bytes past the WAL's last valid frame are never
/// read as frames (a frame counts only with the header's salts and a valid running checksum), the state a RESTART leaves
/// too. It runs only while the writer holds SQLite's write lock (after BEGIN IMMEDIATE), so no other writer, of this
/// process or another, is appending while the file grows; it never writes below the file's current size.
/// </para>
/// <para>
/// Bounds: at most <see cref="ChunkBytes"/> per batch, never past <c>journal_size_limit</c> (the size SQLite trims the
/// WAL back to at each reset, so anything beyond would be cut off again).
/// </para>
/// <para>
/// The file's size is remembered, not asked before every commit: on Linux 6.13 and later (multigrain timestamps, ext4,
/// xfs, btrfs, tmpfs) a stat of a file makes its next write take a fine-grained mtime, so an fstat before each commit
/// gave the WAL a new mtime at every commit, and on ext4 the commit's fdatasync then wrote the inode too: a second disk
/// write per commit, which the kernel's own coarse timestamps (one change per tick) spare a plain SQLite writer. The
/// size is asked again after the WAL was reset (fewer frames than at the last commit: a RESTART's next writer, a
/// TRUNCATE, SQLite's trim) and every <see cref="AskEvery"/> commits, in case it changed unseen (another process).
/// </para>
/// Owned by the writer role's holder (the writer thread, or a caller committing inline): every call comes from it.
/// </summary>
internal sealed unsafe class WalPreallocation
{
    /// <summary>The step the file grows by: 1 MiB, 256 one-byte writes of SQLite's.</summary>
    internal const int ChunkBytes = 1 << 20;

    /// <summary>How far ahead of the WAL's end the file is kept allocated.</summary>
    internal const long HeadroomBytes = 2L * ChunkBytes;

    /// <summary>Commits after which the file's size is asked again even when nothing says it changed.</summary>
    internal const int AskEvery = 256;

    private const long WalHeaderBytes = 32;
    private const long FrameHeaderBytes = 24;

    private readonly SqliteConnection _connection;
    private readonly long _frameBytes;
    private readonly long _limit;
    private long _endBytes = WalHeaderBytes; // where the WAL's valid frames ended after the last commit of this writer
    private long _knownBytes = -1; // the file's size as last asked or grown here; -1: ask
    private int _commitsSinceAsked;

    /// <param name="connection">The writer connection.</param>
    /// <param name="pageSize">The database's page size, in bytes.</param>
    /// <param name="journalSizeLimit">The connection's <c>journal_size_limit</c>, in bytes: the file is never grown past
    /// the last whole chunk below it (below <see cref="ChunkBytes"/>, never grown at all).</param>
    internal WalPreallocation(SqliteConnection connection, int pageSize, long journalSizeLimit)
    {
        _connection = connection;
        _frameBytes = pageSize + FrameHeaderBytes;
        _limit = journalSizeLimit / ChunkBytes * ChunkBytes;
    }

    /// <summary>Frames in the WAL after a commit (from the WAL hook, on the role holder's thread).</summary>
    internal void Committed(int frames)
    {
        var end = WalHeaderBytes + frames * _frameBytes;
        if (end < _endBytes || ++_commitsSinceAsked >= AskEvery)
        {
            _knownBytes = -1; // reset since (SQLite may have shortened the file), or not asked for a while
        }

        _endBytes = end;
    }

    /// <summary>Tests: fstat calls made on the <c>-wal</c> file so far.</summary>
    internal long SizeAsks { get; private set; }

    /// <summary>
    /// Grows the <c>-wal</c> file ahead of the next commit when it is close to its end. Call only with the write lock held.
    /// Costs nothing when the remembered size has room (see the class's remarks for why the size is not asked each time).
    /// </summary>
    internal void EnsureRoom()
    {
        var wanted = Math.Min(_endBytes + HeadroomBytes, _limit);
        if (wanted <= 0 || _knownBytes >= wanted)
        {
            return;
        }

        var file = SqliteNative.WalFileOf(_connection.Handle!.DangerousGetHandle(), out _);
        if (file == IntPtr.Zero)
        {
            return; // no WAL open (yet): nothing to grow
        }

        long size = 0;
        SizeAsks++;
        _commitsSinceAsked = 0;
        if (SqliteNative.FileSizeMethodOf(file)(file, &size) != 0)
        {
            _knownBytes = -1;
            return;
        }

        _knownBytes = size;
        if (size >= wanted)
        {
            return;
        }

        // The chunk is set only for the hint and reset after it, so SQLite's own truncations (TRUNCATE, the trim to
        // journal_size_limit) stay exact. A failure (a full disk) is ignored: the COMMIT reports a real shortage itself.
        var chunk = ChunkBytes;
        var noChunk = 0;
        var hint = Math.Min(wanted, size + ChunkBytes);
        var control = SqliteNative.FileControlMethodOf(file);
        if (control(file, SqliteNative.FileControlChunkSize, &chunk) == 0)
        {
            // Grown to the hint rounded up to the chunk (os_unix.c, fcntlSizeHint); on a failure, asked again next time.
            _knownBytes = control(file, SqliteNative.FileControlSizeHint, &hint) == 0 ? (hint + ChunkBytes - 1) / ChunkBytes * ChunkBytes : -1;
            control(file, SqliteNative.FileControlChunkSize, &noChunk);
        }
    }
}
