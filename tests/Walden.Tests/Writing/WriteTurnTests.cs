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
        var path = _dir.File("db");
        using var fileA = CoordinationFile.Open(path)!;
        using var fileB = CoordinationFile.Open(path)!;
        using var probe = CoordinationFile.Open(path)!;
        using var a = new WriteTurn(fileA, "a");
        using var b = new WriteTurn(fileB, "b");

        Assert.True(a.Acquire(TimeSpan.FromSeconds(10)));
        var bGot = Task.Run(() => b.Acquire(TimeSpan.FromSeconds(30)));
        // B is queued once it holds the queue lock (it waits for the turn holding it).
        Assert.True(await BenchWorker.WaitUntilAsync(() => !Probe(probe, CoordinationFile.QueueByte), TimeSpan.FromSeconds(10)));

        for (var round = 0; round < 20; round++)
        {
            // A gives the turn back and asks again at once, as a writer with the next batch ready does: B must come first.
            a.Release();
            var aAgain = Task.Run(() => a.Acquire(TimeSpan.FromSeconds(30)));
            Assert.True(await bGot);
            Assert.False(aAgain.IsCompleted, $"round {round}: A took the turn again while B was waiting");
            Assert.True(await BenchWorker.WaitUntilAsync(() => !Probe(probe, CoordinationFile.QueueByte), TimeSpan.FromSeconds(10)));

            b.Release();
            bGot = Task.Run(() => b.Acquire(TimeSpan.FromSeconds(30)));
            Assert.True(await aAgain);
            Assert.False(bGot.IsCompleted, $"round {round}: B took the turn again while A was waiting");
            Assert.True(await BenchWorker.WaitUntilAsync(() => !Probe(probe, CoordinationFile.QueueByte), TimeSpan.FromSeconds(10)));
        }

        a.Release();
        Assert.True(await bGot);
        Assert.True(b.Waits > 0);
    }

    [Fact]
    public async Task AWaitForTheTurn_EndsAfterItsTimeout_AndATurnGrantedLaterIsGivenBack()
    {
        var path = _dir.File("db");
        using var fileA = CoordinationFile.Open(path)!;
        using var fileB = CoordinationFile.Open(path)!;
        using var probe = CoordinationFile.Open(path)!;
        using var a = new WriteTurn(fileA, "a");
        using var b = new WriteTurn(fileB, "b");

        Assert.True(a.Acquire(TimeSpan.FromSeconds(10)));
        Assert.False(b.Acquire(TimeSpan.FromMilliseconds(50))); // A holds it (a stuck process): B goes on without it
        a.Release();
        // B's abandoned wait gets the turn and gives it straight back: the turn ends up free.
        Assert.True(await BenchWorker.WaitUntilAsync(() => Probe(probe, CoordinationFile.TurnByte), TimeSpan.FromSeconds(10)));
        Assert.True(b.Acquire(TimeSpan.FromSeconds(10)));
        b.Release();
    }

    [Fact]
    public async Task AWriterThatWaitedForTheTurn_KeepsItForAtMostMaxTransactionsPerTurn_ThenTheWaitingOneGetsIt()
    {
        var path = _dir.File("db");
        using var fileA = CoordinationFile.Open(path)!;
        using var fileB = CoordinationFile.Open(path)!;
        using var probe = CoordinationFile.Open(path)!;
        using var a = new WriteTurn(fileA, "a");
        using var b = new WriteTurn(fileB, "b");

        Assert.True(b.Acquire(TimeSpan.FromSeconds(10)));
        var aGot = Task.Run(() => a.Acquire(TimeSpan.FromSeconds(30)));
        Assert.True(await BenchWorker.WaitUntilAsync(() => !Probe(probe, CoordinationFile.QueueByte), TimeSpan.FromSeconds(10)));
        Assert.False(b.TryKeep()); // B took the turn without waiting: nobody else was writing, so there is no hand-off to save
        b.Release();
        Assert.True(await aGot); // A waited for it: other processes are writing

        var bGot = Task.Run(() => b.Acquire(TimeSpan.FromSeconds(30)));
        Assert.True(await BenchWorker.WaitUntilAsync(() => !Probe(probe, CoordinationFile.QueueByte), TimeSpan.FromSeconds(10)));
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
