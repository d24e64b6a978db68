namespace Walden;

/// <summary>
/// Continuous archiving of an open database (<see cref="WaldenOptions.Archive"/>): a base snapshot and then every
/// committed transaction, in commit order, to one or more destinations, from which <see cref="WaldenArchive.RestoreAsync(string, string, WaldenArchiveRestoreOptions?, CancellationToken)"/>
/// rebuilds the database as of any moment. Off while <see cref="Destinations"/> is empty.
/// </summary>
public sealed class WaldenArchiveOptions
{
    /// <summary>The default for <see cref="MaxLag"/>: 1 second.</summary>
    public static readonly TimeSpan DefaultMaxLag = TimeSpan.FromSeconds(1);

    /// <summary>The default for <see cref="RetentionWindow"/>: 7 days.</summary>
    public static readonly TimeSpan DefaultRetentionWindow = TimeSpan.FromDays(7);

    /// <summary>The default for <see cref="DrillInterval"/>: 6 hours.</summary>
    public static readonly TimeSpan DefaultDrillInterval = TimeSpan.FromHours(6);

    /// <summary>The default for <see cref="SyncTimeout"/>: 30 seconds.</summary>
    public static readonly TimeSpan DefaultSyncTimeout = TimeSpan.FromSeconds(30);

    /// <summary>The default for <see cref="NewBaseAfterBytes"/>: 256 MiB.</summary>
    public const long DefaultNewBaseAfterBytes = 256L * 1024 * 1024;

    /// <summary>The default for <see cref="SegmentTargetBytes"/>: 16 MiB.</summary>
    public const long DefaultSegmentTargetBytes = 16L * 1024 * 1024;

    /// <summary>The default for <see cref="MaxPendingBytes"/>: 256 MiB.</summary>
    public const long DefaultMaxPendingBytes = 256L * 1024 * 1024;

    /// <summary>Where the archive goes; every destination gets every base and every transaction.</summary>
    /// <value>The default value is an empty list: no archive.</value>
    public IList<IWaldenArchiveDestination> Destinations { get; set; } = [];

    /// <summary>Adds a folder destination (<see cref="WaldenFolderDestination"/>); returns these options.</summary>
    public WaldenArchiveOptions AddFolder(string path)
    {
        Destinations.Add(new WaldenFolderDestination(path));
        return this;
    }

    /// <summary>When a write counts as archived.</summary>
    /// <value>The default value is <see cref="WaldenArchiveMode.Async"/>.</value>
    public WaldenArchiveMode Mode { get; set; } = WaldenArchiveMode.Async;

    /// <summary>
    /// In <see cref="WaldenArchiveMode.Async"/>: how often the background loop ships what was committed, and the lag
    /// beyond which health reports Degraded (naming the destination that is behind).
    /// </summary>
    /// <value>The default value is 1 second. Allowed: 10 milliseconds to 1 hour.</value>
    public TimeSpan MaxLag { get; set; } = DefaultMaxLag;

    /// <summary>
    /// In <see cref="WaldenArchiveMode.Sync"/>: how long a batch waits for every destination to store it. Past it the
    /// batch's writes fail with <see cref="WaldenArchiveException"/> naming the slow destination (committed locally, not
    /// acknowledged); the store goes on in the background and the archive catches up without a gap.
    /// </summary>
    /// <value>The default value is 30 seconds. Allowed: 10 milliseconds to 1 hour.</value>
    public TimeSpan SyncTimeout { get; set; } = DefaultSyncTimeout;

    /// <summary>
    /// How far back a point-in-time restore stays possible. Older bases and their segments are deleted once a newer
    /// base that passed a restore drill is itself older than this window; the newest verified base never is.
    /// </summary>
    /// <value>The default value is 7 days. Allowed: 1 minute to 10 years.</value>
    public TimeSpan RetentionWindow { get; set; } = DefaultRetentionWindow;

    /// <summary>A new base snapshot is taken once the segments after the current one add up to this many bytes.</summary>
    /// <value>The default value is 256 MiB. Allowed: 1 MiB to 1 TiB.</value>
    public long NewBaseAfterBytes { get; set; } = DefaultNewBaseAfterBytes;

    /// <summary>Compaction merges adjacent small segments of a base into segments of up to this size.</summary>
    /// <value>The default value is 16 MiB. Allowed: 64 KiB to 1 GiB.</value>
    public long SegmentTargetBytes { get; set; } = DefaultSegmentTargetBytes;

    /// <summary>
    /// How many bytes of committed pages the archive holds in memory for a destination that is behind (down, slow,
    /// full). Beyond it they are dropped and the destination gets a new base snapshot when it is back: never a gap.
    /// </summary>
    /// <value>The default value is 256 MiB. Allowed: 1 MiB to 64 GiB.</value>
    public long MaxPendingBytes { get; set; } = DefaultMaxPendingBytes;

    /// <summary>
    /// How often the archive is restored into a scratch file and verified (integrity_check, checksums, contiguity);
    /// a failure makes health Degraded and names the segment. Null turns the drill off.
    /// </summary>
    /// <value>The default value is 6 hours. Allowed: 1 second to 30 days, or null.</value>
    public TimeSpan? DrillInterval { get; set; } = DefaultDrillInterval;

    /// <summary>True when at least one destination is set.</summary>
    internal bool Enabled => Destinations is { Count: > 0 };

    internal WaldenArchiveOptions Clone()
    {
        var clone = (WaldenArchiveOptions)MemberwiseClone();
        clone.Destinations = Destinations is null ? null! : [.. Destinations];
        return clone;
    }

    internal void Validate(List<string> problems, string prefix)
    {
        if (Destinations is null)
        {
            problems.Add($"{prefix}Destinations must not be null; leave it empty for no archive.");
            return;
        }

        if (Destinations.Any(d => d is null))
        {
            problems.Add($"{prefix}Destinations must not contain null.");
        }

        Check(problems, $"{prefix}MaxLag", MaxLag, TimeSpan.FromMilliseconds(10), TimeSpan.FromHours(1));
        Check(problems, $"{prefix}SyncTimeout", SyncTimeout, TimeSpan.FromMilliseconds(10), TimeSpan.FromHours(1));
        Check(problems, $"{prefix}RetentionWindow", RetentionWindow, TimeSpan.FromMinutes(1), TimeSpan.FromDays(3650));
        if (DrillInterval is { } drill)
        {
            Check(problems, $"{prefix}DrillInterval", drill, TimeSpan.FromSeconds(1), TimeSpan.FromDays(30));
        }

        Check(problems, $"{prefix}NewBaseAfterBytes", NewBaseAfterBytes, 1L << 20, 1L << 40);
        Check(problems, $"{prefix}SegmentTargetBytes", SegmentTargetBytes, 64L << 10, 1L << 30);
        Check(problems, $"{prefix}MaxPendingBytes", MaxPendingBytes, 1L << 20, 64L << 30);
    }

    private static void Check(List<string> problems, string name, TimeSpan value, TimeSpan min, TimeSpan max)
    {
        if (value < min || value > max)
        {
            problems.Add($"{name} must be between {min} and {max} (currently {value}).");
        }
    }

    private static void Check(List<string> problems, string name, long value, long min, long max)
    {
        if (value < min || value > max)
        {
            problems.Add($"{name} must be between {min:N0} and {max:N0} bytes (currently {value:N0}).");
        }
    }
}
