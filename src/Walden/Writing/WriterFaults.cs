namespace Walden.Writing;

/// <summary>
/// Failure injection for tests (Garnet's SimulatedFlakyDevice idea). The failure is real: a commit
/// hook makes SQLite itself refuse the COMMIT, so SQLite rolls the transaction back.
/// </summary>
internal sealed class WriterFaults
{
    /// <summary>Asked at each COMMIT with the batch number (from 1); true makes that COMMIT fail.</summary>
    public Func<long, bool>? FailCommit { get; init; }

    /// <summary>Called on the writer thread before each batch begins, with the batch size (tests hold the writer here).</summary>
    public Action<int>? BeforeBatch { get; init; }
}
