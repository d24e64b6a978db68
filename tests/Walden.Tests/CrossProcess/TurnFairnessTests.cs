using Walden.Files;
using Walden.Tests.TestSupport;
using Walden.Writing;

namespace Walden.Tests.CrossProcess;

/// <summary>
/// How long the write turn stays with one writer while another waits (issue 15 item 2). Two instances in this process stand
/// for two processes: each has its own descriptor on the lock file, and open-file-description locks conflict between
/// descriptors exactly as between processes.
/// </summary>
public sealed class TurnFairnessTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(20);
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task AWriterWithWritesQueued_RunsAtMostMaxTransactionsPerTurn_WhileAnotherWaits_ThenTheOtherWritesFirst()
    {
        var path = _dir.File("shared.db");
        await using var a = await WaldenDatabase.OpenAsync(path, Quiet(new WaldenOptions { MaxBatchSize = 1 })); // one transaction per write
        await using var b = await WaldenDatabase.OpenAsync(path, Quiet(new WaldenOptions()));
        using var scene = await Scene.BHoldsTheTurnAsync(path, a, b);
        var (probe, releaseB, aHolding, releaseA, bFirst) = (scene.Probe, scene.ReleaseB, scene.AHolding, scene.ReleaseA, scene.BFirst);

        // A's writes queue up; its writer waits for the turn (it holds the queue lock meanwhile). Its first write holds it.
        var aWrites = new List<Task>
        {
            a.WriteAsync(c =>
            {
                c.Exec("INSERT INTO t(who) VALUES ('a1')");
                aHolding.Set();
                releaseA.Wait(Patience);
            }),
        };
        for (var i = 2; i <= 6; i++)
        {
            var who = $"a{i}";
            aWrites.Add(a.WriteAsync(c => c.Exec($"INSERT INTO t(who) VALUES ('{who}')")));
        }

        Assert.True(await BenchWorker.WaitUntilAsync(() => !Probe(probe, CoordinationFile.QueueByte), Patience));
        releaseB.Set();
        await bFirst;
        Assert.True(aHolding.Wait(Patience)); // A got the turn after waiting for it

        // Now B waits for the turn while A has five more writes queued.
        var bNext = b.WriteAsync(c => c.Exec("INSERT INTO t(who) VALUES ('b1')"));
        Assert.True(await BenchWorker.WaitUntilAsync(() => !Probe(probe, CoordinationFile.QueueByte), Patience));
        releaseA.Set();
        await Task.WhenAll(aWrites.Append(bNext));

        // A ran MaxTransactionsPerTurn transactions on its turn (no hand-off between them), then B, waiting, came next.
        var expected = new List<string> { "b0" };
        const int kept = WriteTurn.MaxTransactionsPerTurn;
        expected.AddRange(Enumerable.Range(1, kept).Select(i => $"a{i}"));
        expected.Add("b1");
        expected.AddRange(Enumerable.Range(kept + 1, 6 - kept).Select(i => $"a{i}"));
        Assert.Equal(expected, await Scene.WritersInOrderAsync(a));
        await Scene.AssertNoBusyRetriesAsync(a, b);
    }

    [Fact]
    public async Task AWriterWhoseNextWritesComeBackRightAfterItsCommit_KeepsTheTurnForThem_ThenTheWaitingOneWritesFirst()
    {
        var path = _dir.File("shared.db");
        WaldenDatabase? a = null;
        var aWrites = new List<Task>();
        var keptTurnWaits = 0;
        var options = new WaldenOptions
        {
            MaxBatchSize = 1, // one transaction per write
            Faults = new WriterFaults
            {
                // The writer waits, holding the turn, for its producers' next writes: one comes back now (queued from another
                // thread: a write cannot be queued from the writer's own thread), as a producer's does after its acknowledgement.
                WhileKeepingTurn = () =>
                {
                    if (Interlocked.Increment(ref keptTurnWaits) == 1)
                    {
                        Task.Run(() => aWrites.Add(a!.WriteAsync(c => c.Exec("INSERT INTO t(who) VALUES ('a2')")))).Wait(Patience);
                    }
                },
            },
        };
        a = await WaldenDatabase.OpenAsync(path, Quiet(options));
        await using var aScope = a;
        await using var b = await WaldenDatabase.OpenAsync(path, Quiet(new WaldenOptions()));
        using var scene = await Scene.BHoldsTheTurnAsync(path, a, b);
        var (probe, releaseB, aHolding, releaseA, bFirst) = (scene.Probe, scene.ReleaseB, scene.AHolding, scene.ReleaseA, scene.BFirst);

        // A's only write waits for the turn, so A's turn counts as contended (another process is writing).
        aWrites.Add(HoldingWrite(a, "a1", aHolding, releaseA));
        Assert.True(await BenchWorker.WaitUntilAsync(() => !Probe(probe, CoordinationFile.QueueByte), Patience));
        releaseB.Set();
        await bFirst;
        Assert.True(aHolding.Wait(Patience));

        // B waits for the turn; A's queue is empty when its commit of a1 ends, and a2 comes back while A waits for it.
        var bNext = b.WriteAsync(c => c.Exec("INSERT INTO t(who) VALUES ('b1')"));
        Assert.True(await BenchWorker.WaitUntilAsync(() => !Probe(probe, CoordinationFile.QueueByte), Patience));
        releaseA.Set();
        await bNext;
        await Task.WhenAll(aWrites.ToArray());

        // a2 ran on A's turn, without a hand-off; then B, waiting, came next (A's turn ended after MaxTransactionsPerTurn).
        Assert.Equal(["b0", "a1", "a2", "b1"], await Scene.WritersInOrderAsync(a));
        await Scene.AssertNoBusyRetriesAsync(a, b);
    }

    /// <summary>
    /// No idle TRUNCATE: it takes the turn between two transactions (CheckpointScheduler) and gives it back after, so on a
    /// loaded machine, where a second passes without a commit while the test holds a write, the order changed (CI, stop 34).
    /// </summary>
    private static WaldenOptions Quiet(WaldenOptions options)
    {
        options.CheckpointIdleDelay = TimeSpan.FromHours(1);
        return options;
    }

    /// <summary>Two instances on one file, their table, a probe of the turn's queue byte, and B holding the turn in a write.</summary>
    private sealed class Scene : IDisposable
    {
        private readonly ManualResetEventSlim _bHolding = new();

        private Scene(CoordinationFile probe) => Probe = probe;

        internal CoordinationFile Probe { get; }

        internal ManualResetEventSlim ReleaseB { get; } = new();

        internal ManualResetEventSlim AHolding { get; } = new();

        internal ManualResetEventSlim ReleaseA { get; } = new();

        internal Task BFirst { get; private set; } = Task.CompletedTask;

        /// <summary>Creates the table through A, then lets B insert 'b0' and hold its transaction, and with it the turn.</summary>
        internal static async Task<Scene> BHoldsTheTurnAsync(string path, WaldenDatabase a, WaldenDatabase b)
        {
            await a.WriteAsync(c => c.Exec("CREATE TABLE t(id INTEGER PRIMARY KEY, who TEXT NOT NULL)"));
            var scene = new Scene(CoordinationFile.Open(path)!);
            scene.BFirst = HoldingWrite(b, "b0", scene._bHolding, scene.ReleaseB);
            Assert.True(scene._bHolding.Wait(Patience));
            return scene;
        }

        /// <summary>The writers of the rows, in commit order.</summary>
        internal static Task<List<string>> WritersInOrderAsync(WaldenDatabase db) => db.ReadAsync(c =>
        {
            using var command = c.CreateCommand();
            command.CommandText = "SELECT who FROM t ORDER BY id";
            using var reader = command.ExecuteReader();
            var rows = new List<string>();
            while (reader.Read())
            {
                rows.Add(reader.GetString(0));
            }

            return rows;
        });

        /// <summary>The turn, not SQLite's busy handler, ordered the writers.</summary>
        internal static async Task AssertNoBusyRetriesAsync(WaldenDatabase a, WaldenDatabase b)
        {
            Assert.Equal(0, (await a.GetStatsAsync()).BusyRetries);
            Assert.Equal(0, (await b.GetStatsAsync()).BusyRetries);
        }

        public void Dispose()
        {
            ReleaseB.Set(); // a failed assertion must not leave B's write blocked
            ReleaseA.Set();
            Probe.Dispose();
            _bHolding.Dispose();
            ReleaseB.Dispose();
            AHolding.Dispose();
            ReleaseA.Dispose();
        }
    }

    /// <summary>
    /// A write that inserts <paramref name="who"/>, sets <paramref name="holding"/> and keeps its transaction (and the turn)
    /// until <paramref name="release"/> is set. Started on the pool: a write that finds its writer idle may run on the
    /// calling thread, and this one blocks.
    /// </summary>
    private static Task HoldingWrite(WaldenDatabase db, string who, ManualResetEventSlim holding, ManualResetEventSlim release) =>
        Task.Run(() => db.WriteAsync(c =>
        {
            c.Exec($"INSERT INTO t(who) VALUES ('{who}')");
            holding.Set();
            release.Wait(Patience);
        }));

    private static bool Probe(CoordinationFile file, long lockByte)
    {
        if (!file.TryLock(lockByte))
        {
            return false;
        }

        file.Unlock(lockByte);
        return true;
    }
}
