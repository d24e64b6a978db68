namespace Walden;

/// <summary>How a checkpoint treats readers and writers (https://www.sqlite.org/c3ref/wal_checkpoint_v2.html).</summary>
public enum WaldenCheckpointMode
{
    /// <summary>Copies as many WAL frames into the database as possible without waiting for anyone.</summary>
    Passive = 0,

    /// <summary>Waits for the writer, then copies every frame; waits for readers of old snapshots (up to <see cref="WaldenOptions.BusyTimeout"/>).</summary>
    Full = 1,

    /// <summary>Like <see cref="Full"/>, then waits until no reader uses the WAL, so the next commit starts it again from its beginning.</summary>
    Restart = 2,

    /// <summary>Like <see cref="Restart"/>, then truncates the <c>-wal</c> file to zero bytes.</summary>
    Truncate = 3,
}
