using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Microsoft.Data.Sqlite;
using Walden.Native;

namespace Walden.Configuration;

/// <summary>
/// The busy handler Walden installs on every connection. SQLite's own busy_timeout sleeps up to
/// 100 ms between tries and Microsoft.Data.Sqlite sleeps 150 ms; both ruin tail latency when another
/// process holds the write lock for a millisecond. This one yields a few times, then polls every
/// millisecond until the deadline, so a waiting writer gets the lock about as soon as it is free.
/// Written by hand because neither SQLitePCLRaw (3.0.5 binds only sqlite3_busy_timeout) nor Microsoft.Data.Sqlite
/// exposes sqlite3_busy_handler.
/// </summary>
internal sealed class BusyHandler : IDisposable
{
    private const int YieldingTries = 8;

    private long _deadlineTicks;
    private readonly BusyRetryCounter? _total;
    private GCHandle _self;
    // Owned by whichever thread runs a statement on the connection; a connection is used by one thread at a time.
    private long _waitStarted;
    private long _retries;

    private BusyHandler(TimeSpan deadline, BusyRetryCounter? total)
    {
        _deadlineTicks = (long)(deadline.TotalSeconds * Stopwatch.Frequency);
        _total = total;
        _self = GCHandle.Alloc(this);
    }

    /// <summary>How long a statement waits for a lock; set only by the thread that uses the connection, between statements.</summary>
    internal TimeSpan Deadline
    {
        set => _deadlineTicks = (long)(value.TotalSeconds * Stopwatch.Frequency);
    }

    /// <summary>How many times a statement on this connection waited on a lock held elsewhere.</summary>
    internal long Retries => Interlocked.Read(ref _retries);

    internal static unsafe BusyHandler Install(SqliteConnection connection, TimeSpan deadline, BusyRetryCounter? total = null)
    {
        var handler = new BusyHandler(deadline, total);
        var rc = SqliteNative.BusyHandler(connection.Handle!.DangerousGetHandle(), &OnBusy, GCHandle.ToIntPtr(handler._self));
        if (rc != 0)
        {
            handler.Dispose();
            throw new WaldenException($"Installing the busy handler failed with SQLite result code {rc}.", rc, rc);
        }

        return handler;
    }

    [UnmanagedCallersOnly(CallConvs = [typeof(CallConvCdecl)])]
    private static int OnBusy(IntPtr state, int count)
    {
        if (GCHandle.FromIntPtr(state).Target is not BusyHandler handler)
        {
            return 0;
        }

        var now = Stopwatch.GetTimestamp();
        if (count == 0)
        {
            handler._waitStarted = now;
        }
        else if (now - handler._waitStarted >= handler._deadlineTicks)
        {
            return 0; // give up: the caller sees SQLITE_BUSY and Walden reports WaldenBusyException
        }

        Interlocked.Increment(ref handler._retries);
        handler._total?.Increment();
        if (count < YieldingTries)
        {
            Thread.Yield();
        }
        else
        {
            Thread.Sleep(1);
        }

        return 1;
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

/// <summary>Busy retries of every connection of one database, including connections already closed (the <c>walden.busy.retries</c> metric).</summary>
internal sealed class BusyRetryCounter
{
    private long _count;

    internal long Value => Interlocked.Read(ref _count);

    internal void Increment() => Interlocked.Increment(ref _count);
}
