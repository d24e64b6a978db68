namespace Walden.Cli.Bench;

/// <summary>What one <c>walden bench</c> run measures.</summary>
internal sealed record BenchConfig
{
    /// <summary>The default run: every producer count of the issue, 5 s per scenario.</summary>
    internal static BenchConfig Default(string folder) => new() { Folder = folder };

    /// <summary>The CI smoke run: the same scenarios, shorter, on a smaller read database.</summary>
    internal static BenchConfig Quick(string folder) => new()
    {
        Folder = folder,
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

    /// <summary>Seed of the body mix.</summary>
    public int Seed { get; init; } = 20_260_313;
}
