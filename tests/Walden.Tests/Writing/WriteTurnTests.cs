using Walden.Files;
using Walden.Tests.TestSupport;
using Walden.Writing;

namespace Walden.Tests.Writing;

/// <summary>
/// The write turn's queue. Two descriptors on one lock file conflict exactly as two processes do (open-file-description
/// locks), so two turns in this process stand for two Walden processes.
/// </summary>
public sealed class WriteTurnTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task AWriterThatGivesTheTurnBack_QueuesBehindTheOneAlreadyWaiting_InsteadOfTakingItAgain()
    {
        using var turns = new TwoTurns(_dir.File("db"));
        var (a, b) = (turns.A, turns.B);

        Assert.True(a.Acquire(TimeSpan.FromSeconds(10)));
        var bGot = Task.Run(() => b.Acquire(TimeSpan.FromSeconds(30)));
        // B is queued once it holds the queue lock (it waits for the turn holding it).
        Assert.True(await turns.SomeoneQueuedAsync());

        for (var round = 0; round < 20; round++)
        {
            // A gives the turn back and asks again at once, as a writer with the next batch ready does: B must come first.
            a.Release();
            var aAgain = Task.Run(() => a.Acquire(TimeSpan.FromSeconds(30)));
            Assert.True(await bGot);
            Assert.False(aAgain.IsCompleted, $"round {round}: A took the turn again while B was waiting");
            Assert.True(await turns.SomeoneQueuedAsync());

            b.Release();
            bGot = Task.Run(() => b.Acquire(TimeSpan.FromSeconds(30)));
            Assert.True(await aAgain);
            Assert.False(bGot.IsCompleted, $"round {round}: B took the turn again while A was waiting");
            Assert.True(await turns.SomeoneQueuedAsync());
        }

        a.Release();
        Assert.True(await bGot);
        Assert.True(b.Waits > 0);
    }

    [Fact]
    public async Task AWaitForTheTurn_EndsAfterItsTimeout_AndATurnGrantedLaterIsGivenBack()
    {
        using var turns = new TwoTurns(_dir.File("db"));
        var (a, b) = (turns.A, turns.B);

        Assert.True(a.Acquire(TimeSpan.FromSeconds(10)));
        Assert.False(b.Acquire(TimeSpan.FromMilliseconds(50))); // A holds it (a stuck process): B goes on without it
        a.Release();
        // B's abandoned wait gets the turn and gives it straight back: the turn ends up free.
        Assert.True(await BenchWorker.WaitUntilAsync(() => turns.IsFree(CoordinationFile.TurnByte), TimeSpan.FromSeconds(10)));
        Assert.True(b.Acquire(TimeSpan.FromSeconds(10)));
        b.Release();
    }

    [Fact]
    public async Task AWriterThatWaitedForTheTurn_KeepsItForAtMostMaxTransactionsPerTurn_ThenTheWaitingOneGetsIt()
    {
        using var turns = new TwoTurns(_dir.File("db"));
        var (a, b) = (turns.A, turns.B);

        Assert.True(b.Acquire(TimeSpan.FromSeconds(10)));
        var aGot = Task.Run(() => a.Acquire(TimeSpan.FromSeconds(30)));
        Assert.True(await turns.SomeoneQueuedAsync());
        Assert.False(b.TryKeep()); // B took the turn without waiting: nobody else was writing, so there is no hand-off to save
        b.Release();
        Assert.True(await aGot); // A waited for it: other processes are writing

        var bGot = Task.Run(() => b.Acquire(TimeSpan.FromSeconds(30)));
        Assert.True(await turns.SomeoneQueuedAsync());
        for (var transaction = 1; transaction < WriteTurn.MaxTransactionsPerTurn; transaction++)
        {
            Assert.True(a.TryKeep(), $"transaction {transaction}: A may keep the turn for the next one");
            Assert.False(bGot.IsCompleted);
        }

        Assert.False(a.TryKeep()); // the last transaction of this turn: B, waiting, comes next
        a.Release();
        Assert.True(await bGot);
        b.Release();
    }

    [Fact]
    public void AKeptTurnWaitsForTheNextWrites_AQuarterOfTheLastCommit_AtMost100Microseconds_AndNotAfterACommitOfNothing()
    {
        var oneMs = System.Diagnostics.Stopwatch.Frequency / 1000;

        Assert.Equal(oneMs / 16, GroupCommitWriter.KeepWaitTicks(8, oneMs / 4));
        Assert.Equal(oneMs / 16, GroupCommitWriter.KeepWaitTicks(1, oneMs / 4)); // one producer's next write is worth a wait too
        Assert.Equal(oneMs / 10, GroupCommitWriter.KeepWaitTicks(8, 4 * oneMs)); // a slow disk does not make the others wait longer
        Assert.Equal(GroupCommitWriter.MaxKeepWaitTicks, GroupCommitWriter.KeepWaitTicks(8, 1000 * oneMs));
        Assert.Equal(0, GroupCommitWriter.KeepWaitTicks(0, oneMs));
        Assert.Equal(0, GroupCommitWriter.KeepWaitTicks(8, 0));
    }

    /// <summary>Two writers' turns on one lock file, each through its own descriptor (they conflict as two processes do), and a probe.</summary>
    private sealed class TwoTurns : IDisposable
    {
        private readonly CoordinationFile _fileA;
        private readonly CoordinationFile _fileB;
        private readonly CoordinationFile _probe;

        public TwoTurns(string path)
        {
            _fileA = CoordinationFile.Open(path)!;
            _fileB = CoordinationFile.Open(path)!;
            _probe = CoordinationFile.Open(path)!;
            A = new WriteTurn(_fileA, "a");
            B = new WriteTurn(_fileB, "b");
        }

        public WriteTurn A { get; }

        public WriteTurn B { get; }

        /// <summary>Whether nobody holds <paramref name="lockByte"/> (taken and let go at once to find out).</summary>
        public bool IsFree(long lockByte)
        {
            if (!_probe.TryLock(lockByte))
            {
                return false;
            }

            _probe.Unlock(lockByte);
            return true;
        }

        /// <summary>Waits (10 s at most) until a writer is queued: it holds the queue lock while it waits for the turn.</summary>
        public Task<bool> SomeoneQueuedAsync() => BenchWorker.WaitUntilAsync(() => !IsFree(CoordinationFile.QueueByte), TimeSpan.FromSeconds(10));

        public void Dispose()
        {
            B.Dispose();
            A.Dispose();
            _probe.Dispose();
            _fileB.Dispose();
            _fileA.Dispose();
        }
    }
}
