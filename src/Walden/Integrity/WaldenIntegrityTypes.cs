namespace Walden;

/// <summary>Which integrity check runs when a database is opened.</summary>
public enum WaldenIntegrityCheck
{
    /// <summary>No check beyond SQLite's own checks as pages are read.</summary>
    None,

    /// <summary><c>PRAGMA quick_check</c>: every page and record, without matching indexes to tables (O(N)).</summary>
    Quick,

    /// <summary><c>PRAGMA integrity_check</c>: everything quick_check does, plus index contents and constraints.</summary>
    Full,
}

/// <summary>What Walden does when it finds the database corrupt at open.</summary>
public enum WaldenCorruptionPolicy
{
    /// <summary>Refuse to open: <see cref="WaldenDatabase.OpenAsync"/> throws <see cref="WaldenCorruptException"/> with the findings.</summary>
    Fail,

    /// <summary>
    /// Recover in place (the damaged original is kept in quarantine), then open the recovered database; the schema comes from
    /// <see cref="WaldenOptions.RecoverySchemaFrom"/> or the newest verified backup. A result that lost tables or most rows is
    /// not swapped in: see <see cref="WaldenOptions.OpenIncompleteRecoveryReadOnly"/>.
    /// </summary>
    Recover,

    /// <summary>Open anyway and serve reads of what is readable; every write is refused with <see cref="WaldenCorruptException"/>.</summary>
    ReadOnly,
}

/// <summary>The result of one integrity check.</summary>
/// <param name="Kind">Quick or Full.</param>
/// <param name="IsHealthy">True when SQLite reported "ok" and the header is sound.</param>
/// <param name="Findings">What was found (SQLite's messages, header problems); empty when healthy.</param>
/// <param name="Duration">How long the check took.</param>
/// <param name="CompletedAt">When it finished.</param>
/// <param name="Trigger">"open", "background" or "on demand".</param>
public sealed record WaldenIntegrityReport(
    WaldenIntegrityCheck Kind,
    bool IsHealthy,
    IReadOnlyList<string> Findings,
    TimeSpan Duration,
    DateTimeOffset CompletedAt,
    string Trigger);

/// <summary>How corruption was detected.</summary>
/// <param name="Operation">What found it (the open check, a read, a write batch, the background check).</param>
/// <param name="Message">SQLite's message or the check's findings.</param>
/// <param name="DetectedAt">When.</param>
/// <param name="SqliteErrorCode">SQLite's extended result code when an SQLite call reported it.</param>
public sealed record WaldenCorruption(string Operation, string Message, DateTimeOffset DetectedAt, int? SqliteErrorCode);
