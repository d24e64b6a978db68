namespace Walden.Recovery;

/// <summary>How <see cref="WaldenRecovery"/> recovers a damaged database.</summary>
public sealed class WaldenRecoveryOptions
{
    /// <summary>
    /// Where the application's schema comes from when the damaged file's own schema (page 1) may be gone:
    /// the path of a healthy copy or backup of the database (its <c>sqlite_schema</c>, including root page
    /// numbers, is read), or of a <c>.sql</c> file with the CREATE statements. With it, Walden recreates
    /// tables whose schema entry is lost and moves orphaned rows from <c>lost_and_found</c> back into them
    /// when their root page or shape leaves no doubt.
    /// </summary>
    /// <value>The default value is null: only the schema found in the damaged file is used.</value>
    public string? SchemaFrom { get; set; }

    /// <summary>The application's schema as SQL text (CREATE statements); used like a <c>.sql</c> <see cref="SchemaFrom"/>.</summary>
    /// <value>The default value is null.</value>
    public string? SchemaSql { get; set; }

    /// <summary>
    /// Whether rows that cannot be given back to a table with confidence are kept in a
    /// <c>lost_and_found</c> table of the recovered database (never invented into a table).
    /// </summary>
    /// <value>The default value is true.</value>
    public bool KeepLostAndFound { get; set; } = true;

    /// <summary>The clock for the report's times and the quarantine folder's name.</summary>
    /// <value>The default value is <see cref="TimeProvider.System"/>.</value>
    public TimeProvider TimeProvider { get; set; } = TimeProvider.System;

    /// <summary>
    /// The application's own collations and SQL functions, registered the way <see cref="WaldenOptions.ConfigureConnection"/>
    /// registers them (e.g. <c>connection.CreateCollation("LOCALIZED", ...)</c>). Without them, Walden reads and writes the
    /// schema with stand-ins (BINARY order, functions returning NULL), and every index or STORED generated column they
    /// computed is listed in <see cref="WaldenRecoveryReport.ObjectsToRebuild"/>, which refuses an in-place recovery. With
    /// them, Walden rebuilds those objects with the real definitions, so the recovered database comes out whole.
    /// Runs on a private in-memory connection too, to learn which names it defines. Do not change the database here.
    /// </summary>
    /// <value>The default value is null: stand-ins only.</value>
    public Action<Microsoft.Data.Sqlite.SqliteConnection>? ConfigureConnection { get; set; }

    /// <summary>Test seam: false recovers without stand-ins for the application's collations and functions, as Walden once did.</summary>
    internal bool StandInsEnabled { get; set; } = true;

    /// <summary>
    /// For the recovery at open: judges a usable result before it is swapped in; a reason refuses the swap, keeps the
    /// recovered file beside the untouched original and fails with <see cref="WaldenRecoveryIncompleteException"/>.
    /// </summary>
    internal Func<WaldenRecoveryReport, string?>? RefuseSwap { get; set; }

    internal WaldenRecoveryOptions Clone() => (WaldenRecoveryOptions)MemberwiseClone();
}
