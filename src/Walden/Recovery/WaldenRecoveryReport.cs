namespace Walden;

/// <summary>What a recovery produced.</summary>
/// <param name="InputPath">The damaged database.</param>
/// <param name="OutputPath">The recovered database (after an in-place recovery: the original path).</param>
/// <param name="Usable">True when a database was written that passes <c>PRAGMA integrity_check</c> and has every object of the damaged file's schema (when that schema could be read), even if some rows could not be recovered.</param>
/// <param name="Tables">Rows per table in the recovered database (shadow tables of full-text indexes excluded).</param>
/// <param name="LostAndFoundRows">Rows that could not be given back to a table with confidence; kept in the <c>lost_and_found</c> table.</param>
/// <param name="RowsReattributed">Rows moved from lost_and_found back into their table (by root page or unambiguous shape).</param>
/// <param name="TablesRebuiltFromKnownSchema">Tables missing from the damaged file's schema that were recreated from <see cref="Recovery.WaldenRecoveryOptions.SchemaFrom"/>.</param>
/// <param name="InputPages">Pages in the damaged file (file size / page size).</param>
/// <param name="PagesUnreadable">Distinct pages that SQLite's integrity_check of the input named as damaged, or every page when the input could not be read as a database at all.</param>
/// <param name="PageSize">The page size the recovery used.</param>
/// <param name="PageSizeRetried">True when the header's page size was unusable and each legal page size was tried on a copy.</param>
/// <param name="FullTextIndexesRebuilt">FTS tables whose index was rebuilt from their content.</param>
/// <param name="IntegrityCheck">The result of <c>PRAGMA integrity_check</c> on the recovered database ("ok" when healthy).</param>
/// <param name="Duration">How long the recovery took.</param>
/// <param name="Quarantine">For an in-place recovery: where the damaged original was kept.</param>
/// <param name="Notes">Anything a person should know (steps skipped, rows left in lost_and_found and why).</param>
public sealed record WaldenRecoveryReport(
    string InputPath,
    string OutputPath,
    bool Usable,
    IReadOnlyDictionary<string, long> Tables,
    long LostAndFoundRows,
    long RowsReattributed,
    IReadOnlyList<string> TablesRebuiltFromKnownSchema,
    long InputPages,
    long PagesUnreadable,
    int PageSize,
    bool PageSizeRetried,
    IReadOnlyList<string> FullTextIndexesRebuilt,
    string IntegrityCheck,
    TimeSpan Duration,
    Files.WaldenQuarantine? Quarantine,
    IReadOnlyList<string> Notes)
{
    /// <summary>All rows recovered into tables.</summary>
    public long RowsRecovered => Tables.Values.Sum();

    /// <summary>
    /// The table of the recovered database that holds rows no table could be given with confidence:
    /// <c>lost_and_found</c>, or <c>lost_and_found_1</c>, <c>_2</c>... when the database has its own object of that name.
    /// </summary>
    public string LostAndFoundTable { get; init; } = "lost_and_found";

    /// <summary>
    /// Objects of the damaged file's schema that the recovered database lacks, each with its type and (for
    /// tables) its row count in the original. Any entry makes the result not <see cref="Usable"/>.
    /// </summary>
    public IReadOnlyList<string> MissingObjects { get; init; } = [];

    /// <summary>
    /// The application's own collations and functions the schema needs and Walden stood in for (BINARY order,
    /// a function returning NULL), each with the objects using it and what the application must re-check.
    /// </summary>
    public IReadOnlyList<string> StandIns { get; init; } = [];

    /// <summary>
    /// Objects of the recovered database whose content was computed with a stand-in for the application's own collation or
    /// function, and is therefore wrong for the application until it rebuilds them: an index (its order, its expression
    /// values, the rows its WHERE admits) or a STORED generated column (its values). Each names the stand-ins it depends on
    /// and the statement the application must run with its own definitions registered. Empty when the schema needs no
    /// stand-in or when <see cref="Recovery.WaldenRecoveryOptions.ConfigureConnection"/> let Walden rebuild them. An in-place
    /// recovery refuses to swap in a file for which this is not empty.
    /// </summary>
    public IReadOnlyList<string> ObjectsToRebuild { get; init; } = [];

    /// <summary>
    /// Tables of the recovered database that SQLite could not count by reading them, each named with why and what was counted
    /// instead: a virtual table of a module the application provides (an extension it loads) is not in <see cref="Tables"/>; an
    /// FTS3/FTS4 table whose tokenizer is the application's is, counted from its content shadow table. Empty when every table
    /// was counted.
    /// </summary>
    public IReadOnlyList<string> TablesNotReadable { get; init; } = [];

    /// <summary>
    /// Why the result is not <see cref="Usable"/> when its check passed and no object is missing: nothing was recovered (no row
    /// in a table or in lost_and_found) from a file whose pages could not be read. Null otherwise.
    /// </summary>
    public string? WhyNotUsable { get; init; }

    /// <summary>
    /// Committed transactions the input's <c>-wal</c> holds past a damaged frame, which SQLite ignores and the recovery therefore
    /// could not apply (a transaction after the damaged frame may depend on its page); 0 when there were none. The notes say where
    /// the chain breaks. A result that left any out is incomplete, however usable: the original keeps them (left as it was, or in
    /// quarantine with its -wal).
    /// </summary>
    public int WalCommitsIgnored { get; init; }
}
