using Walden.Configuration;

namespace Walden.Recovery;

/// <summary>
/// What every step of one recovery shares: the stand-ins for the application's own collations and
/// functions (registered on each connection the recovery opens) and the name of the lost-and-found
/// table, chosen so that it is not a name the user's schema already has; which statistics tables the original had.
/// </summary>
internal sealed record RecoveryContext(StandIns StandIns, string LostAndFound)
{
    internal const string PreferredLostAndFound = "lost_and_found";

    /// <summary>The original's statistics tables (<see cref="RecoveredStatistics"/>): the recovered file gets these and no others.</summary>
    internal IReadOnlySet<string> Statistics { get; init; } = new HashSet<string>();

    /// <summary>The input's tables as the recover extension creates them: each row it refuses in one is kept (<see cref="RefusedRows"/>).</summary>
    internal IReadOnlyList<RefusedRows.Table> Tables { get; init; } = [];

    /// <summary>
    /// Root pages of tables whose CREATE statement is damaged and that no known schema recreated: their rows are in lost_and_found
    /// under these roots and stay there, never given to another table of the same shape.
    /// </summary>
    internal IReadOnlySet<long> DamagedRoots { get; init; } = new HashSet<long>();

    /// <summary>The output's work table for the rows the extension refused: a name of the lost-and-found's family, dropped before the end.</summary>
    internal string RefusedTable => LostAndFound + "_refused";

    /// <summary>The lost-and-found table's name quoted for SQL.</summary>
    internal string LostAndFoundSql => LostAndFoundMapper.Quote(LostAndFound);

    /// <summary>
    /// <c>lost_and_found</c>, or <c>lost_and_found_1</c>, <c>_2</c>... when a table, index, view or trigger of
    /// the input or the known schema already has that name (SQLite compares names case-insensitively).
    /// </summary>
    internal static string FreeLostAndFoundName(IEnumerable<string> taken)
    {
        var names = new HashSet<string>(taken, StringComparer.OrdinalIgnoreCase);
        var name = PreferredLostAndFound;
        for (var i = 1; names.Contains(name) || names.Contains(name + "_0"); i++)
        {
            name = $"{PreferredLostAndFound}_{i}";
        }

        return name;
    }
}
