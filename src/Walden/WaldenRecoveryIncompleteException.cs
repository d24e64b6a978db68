namespace Walden;

/// <summary>
/// <see cref="WaldenCorruptionPolicy.Recover"/> recovered a damaged database but could not give its rows back to the
/// application's tables (tables are missing, or most rows ended in <c>lost_and_found</c>), so Walden refused to open the
/// result as if it were the database: an application would start over from empty tables. Nothing was changed at
/// <see cref="DatabasePath"/>: the damaged original is still there. What could be recovered is kept at <see cref="RecoveredPath"/>.
/// </summary>
public sealed class WaldenRecoveryIncompleteException : WaldenCorruptException
{
    /// <summary>Creates the exception.</summary>
    public WaldenRecoveryIncompleteException(string message, string databasePath, string recoveredPath, WaldenRecoveryReport report)
        : base(message, Errors.SqliteErrors.Corrupt, Errors.SqliteErrors.Corrupt)
    {
        DatabasePath = databasePath;
        RecoveredPath = recoveredPath;
        Report = report;
    }

    /// <summary>The damaged database, left in place unchanged.</summary>
    public string DatabasePath { get; }

    /// <summary>The recovered database (tables and <c>lost_and_found</c>), kept beside it for inspection.</summary>
    public string RecoveredPath { get; }

    /// <summary>What the recovery produced.</summary>
    public WaldenRecoveryReport Report { get; }
}
