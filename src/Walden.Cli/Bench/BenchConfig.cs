namespace Walden.Cli.Bench;

/// <summary>What one <c>walden bench</c> run measures.</summary>
internal sealed record BenchConfig
{
    /// <summary>The default run: every producer count of the issue, 5 s per scenario.</summary>
    internal static BenchConfig Default(string folder) => new() { Folder = folder, WarmUp = true, Rounds = 2 };

    /// <summary>The CI smoke run: the same scenarios, shorter, on a smaller read database.</summary>
    internal static BenchConfig Quick(string folder) => new()
    {
        Folder = folder,
        WarmUp = true,
        ScenarioDuration = TimeSpan.FromSeconds(0.5),
        ReadSeedRows = 10_000,
        ArchiveProducers = [64],
    };

    /// <summary>The folder the scenario databases are created in (one file per scenario, removed after it).</summary>
    public required string Folder { get; init; }

    /// <summary>Producer counts for seed patterns A and B and for Walden.</summary>
    public IReadOnlyList<int> Producers { get; init; } = [1, 8, 64, 256];

    /// <summary>Producer counts the archive scenarios run at (each also needs Walden Full at that count for its target).</summary>
    public IReadOnlyList<int> ArchiveProducers { get; init; } = [1, 8, 64, 256];

    /// <summary>
    /// How many times the write scenarios run, interleaved: round 1 runs every selected scenario at every producer count, then
    /// round 2 again, and so on, each scenario on a fresh file for <see cref="ScenarioDuration"/> every time; the report combines
    /// the rounds (<see cref="BenchRounds"/>) and lists each round's figure beside each target. 1 to 100; the default run makes
    /// 2, the quick run 1. The read and idle scenarios run once, after the rounds.
    /// </summary>
    public int Rounds { get; init; } = 1;

    /// <summary>How long each scenario writes (or reads) when <see cref="WritesPerProducer"/> is not set.</summary>
    public TimeSpan ScenarioDuration { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>When set, each producer writes exactly this many rows (and each reader reads this many times) instead of running for a duration.</summary>
    public int? WritesPerProducer { get; init; }

    /// <summary>Concurrent readers in the read scenarios.</summary>
    public int Readers { get; init; } = 4;

    /// <summary>Producers writing through Walden while the readers read.</summary>
    public int ReadLoadProducers { get; init; } = 64;

    /// <summary>How long the idle scenario watches an open database that receives no write.</summary>
    public TimeSpan IdleWindow { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>Rows in the database before the read scenarios start.</summary>
    public int ReadSeedRows { get; init; } = 100_000;

    /// <summary>Rows per transaction of the limit scenario.</summary>
    public int LimitTransactionRows { get; init; } = 10_000;

    /// <summary>Seed pattern B flushes its buffer at this many rows...</summary>
    public int BufferRows { get; init; } = 50;

    /// <summary>...or after this long.</summary>
    public TimeSpan BufferInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Busy timeout of seed pattern A's connections (Microsoft.Data.Sqlite's own retry loop).</summary>
    public int SeedBusyTimeoutSeconds { get; init; } = 5;

    /// <summary>The scenarios to run, by key (see <see cref="BenchRunner.ScenarioKeys"/>); all of them by default.</summary>
    public IReadOnlySet<string> Scenarios { get; init; } = BenchRunner.ScenarioKeys.ToHashSet(StringComparer.Ordinal);

    /// <summary>
    /// Whether every selected scenario first runs once, briefly and unmeasured, at N = 1 and 8 (the caller-commits and the
    /// writer-thread paths), followed by a second's pause: so each measured scenario runs code the JIT has compiled at its
    /// final tier, as in a process that has run for a while, whichever scenario happens to run first. Without it, the
    /// first scenario of each kind shares the two cores with the JIT's background compiler (seen as up to 120 ms of JIT
    /// thread CPU per second in the read scenario's phases). True for the default and quick runs.
    /// </summary>
    public bool WarmUp { get; init; }

    /// <summary>The configuration of the warm-up pass (see <see cref="WarmUp"/>): a quarter of the duration, at most 0.5 s, in a folder of its own.</summary>
    internal BenchConfig ForWarmUp() => this with
    {
        WarmUp = false,
        Rounds = 1,
        Folder = Path.Combine(Folder, "warm-up"),
        Producers = [1, 8],
        ArchiveProducers = [8],
        ScenarioDuration = TimeSpan.FromSeconds(Math.Min(0.5, ScenarioDuration.TotalSeconds / 4)),
        WritesPerProducer = null,
        ReadSeedRows = Math.Min(ReadSeedRows, 10_000),
        Scenarios = Scenarios.Where(k => k is not ("node" or "idle")).ToHashSet(StringComparer.Ordinal), // node: its own process; idle warms itself up
    };

    /// <summary>Seed of the body mix.</summary>
    public int Seed { get; init; } = 20_260_313;
}
