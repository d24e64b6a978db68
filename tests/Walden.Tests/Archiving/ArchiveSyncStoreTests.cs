using Walden.Tests.Configuration;
using Walden.Tests.TestSupport;
using Walden.Writing;
using static Walden.Tests.Archiving.ArchiveChecks;

namespace Walden.Tests.Archiving;

/// <summary>
/// A Sync archive's store does not wait for the thread pool: it runs on a thread of its own (Archiver.SyncStore.cs), and a
/// lone caller commits on its own thread as with no archive, so a pool filled with blocked work items (an application's,
/// or 64 producers' acknowledgements) neither delays nor stops a Sync write. These tests starve the pool of the whole
/// test process for a moment, so they run alone.
/// </summary>
[Collection(nameof(WallTimeCollection))]
public sealed class ArchiveSyncStoreTests : IDisposable
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10); // a safety net only: the write needs milliseconds
    private readonly TempDirectory _dir = new();
    private readonly FakeTimeProvider _clock = new(); // a write after a pause runs inline (GroupCommitWriter.Inline)

    public ArchiveSyncStoreTests() => Directory.CreateDirectory(Archive);

    public void Dispose() => _dir.Dispose();

    private string Archive => _dir.File("archive");

    private WaldenOptions Options(WaldenFolderDestination destination)
    {
        var options = ArchiveChecks.Options(WaldenArchiveMode.Sync, destination);
        options.Durability = WaldenDurability.Full;
        options.CheckpointIdleDelay = TimeSpan.FromHours(1);
        options.Archive.SyncTimeout = TimeSpan.FromMinutes(5); // a store stuck behind the pool must show as not completing
        options.Faults = new WriterFaults { InlineClock = _clock };
        return options;
    }

    [Fact]
    public async Task Sync_WithTheThreadPoolStarvedByBlockedWorkItems_AWriteIsStillStoredAndAcknowledged_OnNoPoolThread()
    {
        var destination = new WaldenFolderDestination(Archive);
        var storedOnPool = new List<bool>();
        destination.AppendLog.SyncResult = () =>
        {
            lock (storedOnPool)
            {
                storedOnPool.Add(Thread.CurrentThread.IsThreadPoolThread);
            }

            return 0; // the fdatasync itself is not what this test is about
        };
        await using (var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), Options(destination)))
        {
            await db.WriteAsync(c => c.Exec("CREATE TABLE t(a)"));
            lock (storedOnPool)
            {
                storedOnPool.Clear();
            }

            // None disposed: blockers the starved pool has not started yet reach release.Wait() after this test returns, and the
            // caller may still set its events when an assertion below fails first; a disposed event there is an unhandled
            // exception on a pool thread, which kills the test host (seen in CI).
            var starved = new ManualResetEventSlim();
            var release = new ManualResetEventSlim();
            var done = new ManualResetEventSlim();
            var running = new ManualResetEventSlim();
            Task<int>? write = null;
            // The caller is a pool thread taken before the pool is starved; it writes once every other one is blocked.
            var caller = Task.Run(() =>
            {
                running.Set();
                starved.Wait(Patience);
                _clock.Advance(TimeSpan.FromSeconds(1)); // after a pause: the writer is idle
                write = db.WriteAsync(c =>
                {
                    c.Exec("INSERT INTO t VALUES (1)");
                    return 1;
                });
                done.Set();
            });
            var blockers = Environment.ProcessorCount + Math.Max(ThreadPool.ThreadCount, 8) + 64;
            var blocked = 0;
            var finished = 0;
            Assert.True(running.Wait(Patience));
            try
            {
                for (var i = 0; i < blockers; i++)
                {
                    ThreadPool.UnsafeQueueUserWorkItem(_ =>
                    {
                        Interlocked.Increment(ref blocked);
                        release.Wait();
                        Interlocked.Increment(ref finished);
                    }, null);
                }

                starved.Set();
                // Blocking waits only: an await here would need the pool this test starves.
                Assert.True(done.Wait(Patience), "WriteAsync did not return while the pool was starved");
#pragma warning disable xUnit1031 // Blocking on purpose: an await would need the pool this test starves.
                Assert.True(write!.Wait(Patience), "the Sync write was not acknowledged while the pool was starved");
#pragma warning restore xUnit1031
                Assert.True(Volatile.Read(ref blocked) < blockers, "the pool ran every blocker first: it was not starved");
            }
            finally
            {
                release.Set();
            }

            // Every blocker has run before the next test: a pool still draining them would starve that one.
            Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref finished) == blockers, Patience), "the released blockers did not all run");
            await caller.WaitAsync(Patience);
            Assert.Equal(1, await write!);
            lock (storedOnPool)
            {
                Assert.NotEmpty(storedOnPool);
                Assert.DoesNotContain(true, storedOnPool); // the append log's fdatasync ran on the store thread
            }
        }

        Assert.Equal(1, Count(await RestoreCompleteAsync(Archive, _dir.File("restored.db"))));
    }

    [Fact]
    public async Task Sync_WhenTheStoreOnItsOwnThreadFails_TheBatchFailsNamingTheDestination_AndTheNextIsArchivedWithoutAGap()
    {
        var destination = new WaldenFolderDestination(Archive);
        var fail = 0;
        destination.AppendLog.SyncResult = () => Interlocked.Exchange(ref fail, 0) == 1 ? 5 : 0; // EIO once
        await using (var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), Options(destination)))
        {
            await db.WriteAsync(c => c.Exec("CREATE TABLE t(a)"));
            await Task.Run(async () =>
            {
                _clock.Advance(TimeSpan.FromSeconds(1));
                await db.WriteAsync(c => c.Exec("INSERT INTO t VALUES (1)"));

                Volatile.Write(ref fail, 1);
                _clock.Advance(TimeSpan.FromSeconds(1));
                var error = await Assert.ThrowsAsync<WaldenArchiveException>(() => db.WriteAsync(c => c.Exec("INSERT INTO t VALUES (2)")));
                Assert.Equal(Archive, error.Destination);
                Assert.Contains("not acknowledged", error.Message, StringComparison.Ordinal);
                Assert.Equal(WaldenHealthStatus.Degraded, db.GetHealth().Status);

                _clock.Advance(TimeSpan.FromSeconds(1));
                await db.WriteAsync(c => c.Exec("INSERT INTO t VALUES (3)")); // the log is faulted: a segment object instead
                HealthForTests.AssertHealthy(db);
            }).WaitAsync(Patience);
        }

        // The failed batch was committed locally; the next batch's store carries it, so the archive has no gap.
        Assert.Equal(3, Count(await RestoreCompleteAsync(Archive, _dir.File("restored.db"))));
    }
}
