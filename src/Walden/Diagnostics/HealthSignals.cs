namespace Walden.Diagnostics;

/// <summary>
/// Conditions that make a database unhealthy, as Walden last saw them: corruption (sticky), a read-only
/// file or a full disk (both cleared by the next successful commit). The writer reports its failures
/// here; the integrity features report corruption with <see cref="ReportCorruption"/>.
/// </summary>
internal sealed class HealthSignals
{
    // Corruption is owned by the integrity feature's monitor (sticky, refuses writes); this reads and feeds it.
    private readonly Integrity.CorruptionMonitor _corruption;
    private string? _readOnly;
    private string? _diskFull;
    private string? _walLimit;

    internal HealthSignals(Integrity.CorruptionMonitor corruption)
    {
        _corruption = corruption;
    }

    internal string? Corruption => _corruption.Corruption?.Message;

    internal string? ReadOnly => Volatile.Read(ref _readOnly);

    internal string? DiskFull => Volatile.Read(ref _diskFull);

    /// <summary>Why writes are refused at <see cref="WaldenOptions.MaxWalSize"/>; null once a commit went through again.</summary>
    internal string? WalLimit => Volatile.Read(ref _walLimit);

    /// <summary>Records what a failure says about the database (called with Walden's translated exceptions).</summary>
    internal void Observe(Exception failure)
    {
        switch (failure)
        {
            case WaldenCorruptException:
                _corruption.Report("A write", failure);
                break;
            case WaldenReadOnlyException:
                Volatile.Write(ref _readOnly, failure.Message);
                break;
            case WaldenDiskFullException:
                Volatile.Write(ref _diskFull, failure.Message);
                break;
            case WaldenWalLimitException:
                Volatile.Write(ref _walLimit, failure.Message);
                break;
            default:
                break;
        }
    }

    /// <summary>
    /// Records what an error raised inside a write delegate says about the database: SQLite's corrupt,
    /// read-only and disk-full codes mean the same there as in Walden's own statements.
    /// </summary>
    internal void ObserveDelegateFailure(Exception failure)
    {
        if (failure is Microsoft.Data.Sqlite.SqliteException sqlite &&
            (sqlite.SqliteErrorCode & 0xFF) is Errors.SqliteErrors.Corrupt or Errors.SqliteErrors.NotADb or Errors.SqliteErrors.ReadOnly or Errors.SqliteErrors.Full)
        {
            Observe(Errors.SqliteErrors.Translate(sqlite, "A write", new WaldenOptions()));
        }
    }

    /// <summary>Marks the database damaged until it is reopened. For the integrity check and recovery features.</summary>
    internal void ReportCorruption(string reason) => _corruption.Report("An integrity check", reason, null);

    /// <summary>A commit went through: the disk has room and the file is writable again.</summary>
    internal void CommitSucceeded()
    {
        if (_readOnly is not null || _diskFull is not null || _walLimit is not null)
        {
            Volatile.Write(ref _readOnly, null);
            Volatile.Write(ref _diskFull, null);
            Volatile.Write(ref _walLimit, null);
        }
    }
}

/// <summary>How a database is doing, from <see cref="WaldenDatabase.GetHealth"/>; Walden.Hosting turns it into a health check result.</summary>
internal enum WaldenHealthStatus
{
    Healthy,
    Degraded,
    Unhealthy,
}

/// <summary>A health verdict with the reasons for it and the figures behind it.</summary>
internal sealed record WaldenHealth(WaldenHealthStatus Status, IReadOnlyList<string> Reasons, IReadOnlyDictionary<string, object> Data);
