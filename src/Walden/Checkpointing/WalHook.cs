using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.Data.Sqlite;
using Walden.Native;

namespace Walden.Checkpointing;

/// <summary>
/// Tells the checkpoint scheduler how many frames the WAL holds after each commit of the writer
/// connection. SQLite calls it on the writer thread after the commit, with the write lock already
/// released, so it costs the commit two field writes. Installing it also replaces SQLite's own
/// auto-checkpoint hook: Walden is the only one that checkpoints.
/// </summary>
internal sealed class WalHook : IDisposable
{
    private readonly CheckpointScheduler _scheduler;
    private readonly Archiving.CommitSeam? _archive;
    private readonly Writing.WalPreallocation? _preallocation;
    private GCHandle _self;

    private WalHook(CheckpointScheduler scheduler, Archiving.CommitSeam? archive, Writing.WalPreallocation? preallocation)
    {
        _scheduler = scheduler;
        _archive = archive;
        _preallocation = preallocation;
        _self = GCHandle.Alloc(this);
    }

    internal static unsafe WalHook Install(SqliteConnection connection, CheckpointScheduler scheduler, Archiving.CommitSeam? archive = null,
        Writing.WalPreallocation? preallocation = null)
    {
        var hook = new WalHook(scheduler, archive, preallocation);
        SqliteNative.WalHook(connection.Handle!.DangerousGetHandle(), &OnCommit, GCHandle.ToIntPtr(hook._self));
        return hook;
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int OnCommit(IntPtr state, IntPtr db, IntPtr schema, int frames)
    {
        try
        {
            if (GCHandle.FromIntPtr(state).Target is WalHook hook)
            {
                hook._archive?.Captured(frames); // first: the archive takes the new frames before anything else sees the commit
                hook._scheduler.OnCommit(frames);
                hook._preallocation?.Committed(frames);
            }
        }
#pragma warning disable CA1031 // An exception must never cross back into SQLite's C code: it would end the process.
        catch (Exception)
#pragma warning restore CA1031
        {
        }

        return 0; // SQLITE_OK: a non-zero value would be reported as the commit's error
    }

    /// <summary>Frees the handle; call only after the connection is closed.</summary>
    public void Dispose()
    {
        if (_self.IsAllocated)
        {
            _self.Free();
        }
    }
}
