using Walden.Files;

namespace Walden.Checkpointing;

/// <summary>
/// Which of the Walden processes on one file checkpoints. Each one's checkpointer tries to take a lock of the
/// <see cref="CoordinationFile"/> (byte 2) and keeps it for the life of the database: the holder checkpoints as a single
/// process would; the others run no scheduled checkpoint (two checkpointers on one WAL mostly copy nothing and take
/// turns waiting for each other), still see the WAL's size after each of their commits and report it, and publish
/// their latest WAL frame count in the file so the holder checkpoints for their commits too. The kernel drops the
/// lock when its holder dies, however it dies; the others try to take it every <see cref="PollInterval"/>, so one of
/// them holds it within that time. Without a lock file (a read-only folder) every process checkpoints, as before.
/// Owned by the checkpointer thread.
/// </summary>
internal sealed class CheckpointLease
{
    /// <summary>How often a process without the lease tries to take it, and how often the holder reads the others' frame counts.</summary>
    internal static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(50);

    private readonly CoordinationFile? _file;
    private readonly long _publisher;
    private bool _held;
    private long _published;
    private long _lastRead;

    internal CheckpointLease(CoordinationFile? file)
    {
        _file = file;
        _publisher = (long)Environment.ProcessId << 40;
        _lastRead = file?.ReadFrames() ?? 0;
    }

    /// <summary>Whether this process checkpoints the file (always, without a lock file).</summary>
    internal bool IsHolder => _file is null || Volatile.Read(ref _held);

    /// <summary>Whether other Walden processes may share the file (a lock file is in use).</summary>
    internal bool Coordinated => _file is not null;

    /// <summary>Takes the lease when it is free; true when this process holds it (now or already).</summary>
    internal bool TryTake()
    {
        if (IsHolder)
        {
            return true;
        }

        if (_file!.TryLock(CoordinationFile.CheckpointByte))
        {
            Volatile.Write(ref _held, true);
            return true;
        }

        return false;
    }

    /// <summary>A process without the lease: tells the holder the WAL frame count its last commit left.</summary>
    internal void Publish(int frames)
    {
        // Distinct for every publication (process id and a counter above the frame count), so the holder sees each one.
        _published++;
        _file?.WriteFrames(_publisher | ((_published & 0xFF) << 32) | (uint)frames);
    }

    /// <summary>The holder: the frame count another process published since the last call, or null.</summary>
    internal int? ReadForeignFrames()
    {
        if (_file is null)
        {
            return null;
        }

        var value = _file.ReadFrames();
        if (value == _lastRead)
        {
            return null;
        }

        _lastRead = value;
        return (int)(value & 0xFFFFFFFF);
    }
}
