using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Walden.Diagnostics;

namespace Walden.Integrity;

/// <summary>
/// The health of one database, shared by the writer, the readers and the checks. The first corruption
/// seen flips the state for good (until the database is recovered and reopened): from then on every
/// write is refused before it reaches SQLite, so a damaged file takes no further damage.
/// </summary>
internal sealed class CorruptionMonitor
{
    private readonly string _name;
    private readonly ILogger _logger;
    private readonly TimeProvider _clock;
    private readonly WaldenCorruptionPolicy _policy;
    private WaldenCorruption? _corruption;

    internal CorruptionMonitor(string name, WaldenOptions options)
    {
        _name = name;
        _logger = options.LoggerFactory.CreateLogger("Walden.Integrity");
        _clock = options.TimeProvider;
        _policy = options.CorruptionPolicy;
    }

    /// <summary>Raised once, on the thread that found the corruption.</summary>
    internal event Action<WaldenCorruption>? Detected;

    internal WaldenCorruption? Corruption => Volatile.Read(ref _corruption);

    internal bool IsCorrupt => Corruption is not null;

    internal void Report(string operation, Exception exception)
    {
        var sqlite = exception as SqliteException ?? exception.InnerException as SqliteException;
        Report(operation, exception.Message, sqlite?.SqliteExtendedErrorCode);
    }

    internal void Report(string operation, string message, int? code)
    {
        var corruption = new WaldenCorruption(operation, message, _clock.GetUtcNow(), code);
        if (Interlocked.CompareExchange(ref _corruption, corruption, null) is not null)
        {
            return; // already known; the first report stands
        }

        LogMessages.CorruptionDetected(_logger, _name, operation, message);
        Detected?.Invoke(corruption);
    }

    /// <summary>The error every write gets once the database is known to be corrupt.</summary>
    internal WaldenCorruptException RefuseWrite()
    {
        var corruption = Corruption!;
        var code = corruption.SqliteErrorCode ?? Errors.SqliteErrors.Corrupt;
        var advice = _policy == WaldenCorruptionPolicy.ReadOnly
            ? "CorruptionPolicy is ReadOnly: reads are still served."
            : "Reads may still work.";
        return new WaldenCorruptException(
            $"The database '{_name}' is corrupt ({corruption.Operation}: {corruption.Message}); Walden refuses writes so that it takes no further damage. {advice} " +
            "Recover it with 'walden recover <db> --in-place' (the damaged original is kept in quarantine) or open it with CorruptionPolicy = Recover.",
            code & 0xFF, code);
    }
}
