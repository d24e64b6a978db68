namespace Walden.Cli.Torture;

/// <summary>A documented way to lose or corrupt data that <c>--hazard</c> commits on purpose, to show the checker catches it.</summary>
internal enum TortureHazard
{
    /// <summary>No hazard: the run must find nothing.</summary>
    None,

    /// <summary>Delete the -wal and -shm files while the writers run (step 2 of the Fusion report's workaround), then kill them all.</summary>
    DeleteWal,

    /// <summary>Copy the database file alone with File.Copy while the writers run, and check the copy as if it were a backup.</summary>
    CopyWhileWriting,

    /// <summary>With --power-loss: the workers' fault VFS skips every fsync (what synchronous=OFF does to durability).</summary>
    SyncOff,
}

/// <summary>How a torture run goes.</summary>
/// <param name="Folder">Where the database, the run log and any failure log live.</param>
/// <param name="Processes">Worker processes per cycle.</param>
/// <param name="Cycles">Cycles to run; each one starts workers, kills one or all of them and checks the database.</param>
/// <param name="SecondsPerCycle">How long the workers write in a cycle; the kill falls at a random moment within it.</param>
/// <param name="Durability">The durability the workers open the database with.</param>
/// <param name="Producers">Concurrent producers inside each worker.</param>
/// <param name="Seed">Seeds every random choice of the supervisor (kill moments, who is killed).</param>
/// <param name="Hazard">A hazard to commit on purpose, or <see cref="TortureHazard.None"/>.</param>
/// <param name="KeepCycles">Records of this many recent cycles are re-verified every cycle; older ones are deleted (0 keeps all).</param>
/// <param name="ForeignWriter">The sqlite3 shell to run beside the workers as a writer that is not Walden's, or null.</param>
internal sealed partial record TortureSettings(
    string Folder,
    int Processes,
    int Cycles,
    double SecondsPerCycle,
    WaldenDurability Durability,
    int Producers,
    int Seed,
    TortureHazard Hazard,
    int KeepCycles,
    string? ForeignWriter = null)
{
    internal string DatabasePath => Path.Combine(Folder, "torture.db");

    /// <summary>With <c>--archive</c>: the worker archives in this mode and every cycle restores from the archive alone.</summary>
    internal WaldenArchiveMode? Archive { get; init; }

    /// <summary>In Async mode, writes acknowledged at least this long before the kill must be in the restored archive.</summary>
    internal TimeSpan ArchiveBound { get; init; } = WaldenArchiveOptions.DefaultMaxLag;

    internal string ArchiveFolder => Path.Combine(Folder, "archive");

    internal string RestoredPath(int cycle) => Path.Combine(Folder, $"torture-restored-cycle-{cycle}.db");

    internal string RunLogPath => Path.Combine(Folder, "torture.log");

    internal string CycleLogPath(int cycle) => Path.Combine(Folder, $"torture-cycle-{cycle}.log");

    internal string CopyPath(int cycle) => Path.Combine(Folder, $"torture-copy-cycle-{cycle}.db");

    internal static string HazardName(TortureHazard hazard) => hazard switch
    {
        TortureHazard.DeleteWal => "delete-wal",
        TortureHazard.CopyWhileWriting => "copy-while-writing",
        TortureHazard.SyncOff => "sync-off",
        _ => "none",
    };
}
