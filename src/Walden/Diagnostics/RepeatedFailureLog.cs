using Microsoft.Extensions.Logging;

namespace Walden.Diagnostics;

/// <summary>
/// Keeps a failure that repeats (a full disk fails every batch and every checkpoint) from flooding the log:
/// the first failure of a kind is logged in full, identical ones after it only counted, and once per
/// <see cref="Interval"/> one line says how many there were. A different failure is logged at once.
/// Identical means the same exception type, SQLite extended code and SQLite message.
/// </summary>
internal sealed class RepeatedFailureLog(ILogger logger, TimeProvider clock)
{
    /// <summary>How often a repeating failure is logged again, with its count.</summary>
    internal static readonly TimeSpan Interval = TimeSpan.FromMinutes(1);

    private readonly Lock _lock = new();
    private string? _key;
    private long _loggedAt;
    private int _repeats;

    /// <summary>Logs <paramref name="failure"/> with <paramref name="log"/> unless an identical one was logged within the interval.</summary>
    internal void Failed(Exception failure, string what, Action<ILogger, Exception> log)
    {
        // SQLite's own message when there is one: Walden's may carry figures that change each time (free bytes).
        var cause = failure.InnerException as Microsoft.Data.Sqlite.SqliteException ?? failure as Microsoft.Data.Sqlite.SqliteException;
        var key = $"{failure.GetType().FullName}|{cause?.SqliteExtendedErrorCode}|{cause?.Message ?? failure.Message}";
        int repeats;
        lock (_lock)
        {
            var now = clock.GetTimestamp();
            if (key == _key && clock.GetElapsedTime(_loggedAt, now) < Interval)
            {
                _repeats++;
                return;
            }

            repeats = key == _key ? _repeats + 1 : 0;
            _key = key;
            _loggedAt = now;
            _repeats = 0;
        }

        if (repeats == 0)
        {
            log(logger, failure);
        }
        else
        {
            LogMessages.FailureRepeated(logger, what, repeats, Interval.TotalSeconds, failure.Message);
        }
    }

    /// <summary>The failure ended (an operation succeeded): the next one is logged in full.</summary>
    internal void Succeeded()
    {
        lock (_lock)
        {
            _key = null;
            _repeats = 0;
        }
    }
}
