namespace Walden;

/// <summary>The outcome of one checkpoint: SQLite's result triple, plus when and how long.</summary>
/// <param name="Mode">The mode it ran in.</param>
/// <param name="Busy">True when it could not finish because a reader or writer was in the way (SQLite's first result column).</param>
/// <param name="LogFrames">Frames in the WAL when it ran, or -1 when the database is not in WAL mode.</param>
/// <param name="CheckpointedFrames">Frames of the WAL now copied into the database, or -1.</param>
/// <param name="Duration">How long it took.</param>
/// <param name="CompletedAt">When it finished, by <see cref="WaldenOptions.TimeProvider"/>.</param>
public sealed record WaldenCheckpointResult(
    WaldenCheckpointMode Mode,
    bool Busy,
    int LogFrames,
    int CheckpointedFrames,
    TimeSpan Duration,
    DateTimeOffset CompletedAt);
