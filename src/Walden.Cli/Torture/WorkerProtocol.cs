namespace Walden.Cli.Torture;

/// <summary>
/// The lines a worker prints on stdout, one per event, each ended by '\n'. The supervisor counts only
/// complete lines: a line cut short by the kill is not an acknowledgement.
/// </summary>
internal static class WorkerProtocol
{
    /// <summary>"ready": the database is open and the producers are starting.</summary>
    internal const string Ready = "ready";

    /// <summary>"a &lt;seq&gt;": WriteAsync of record seq completed, so Walden acknowledged it as durable.</summary>
    internal const string AckPrefix = "a ";

    /// <summary>"ckpt &lt;mode&gt; &lt;busy&gt; &lt;log&gt; &lt;checkpointed&gt;": one PRAGMA wal_checkpoint ran.</summary>
    internal const string CheckpointPrefix = "ckpt ";

    /// <summary>"reads &lt;total&gt;": how many verified reads the reader has done so far.</summary>
    internal const string ReadsPrefix = "reads ";

    /// <summary>"error &lt;text&gt;": an operation failed without any sign of damage (e.g. busy); not an acknowledgement.</summary>
    internal const string ErrorPrefix = "error ";

    /// <summary>"corrupt &lt;text&gt;": the worker saw damage (a bad checksum on read, or SQLITE_CORRUPT).</summary>
    internal const string CorruptPrefix = "corrupt ";

    /// <summary>"done": the worker stopped cleanly after closing the database.</summary>
    internal const string Done = "done";
}

/// <summary>What a worker does besides appending records.</summary>
internal enum WorkerRole
{
    /// <summary>Only writes.</summary>
    Writer,

    /// <summary>Writes, and reads recent and random rows continuously through Walden's reader pool, checking checksums.</summary>
    Reader,

    /// <summary>Writes, and runs PRAGMA wal_checkpoint (PASSIVE, every fourth TRUNCATE) on a plain connection, as a second program would.</summary>
    Checkpointer,
}
