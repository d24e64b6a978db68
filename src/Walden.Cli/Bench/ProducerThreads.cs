namespace Walden.Cli.Bench;

/// <summary>
/// Dedicated threads for the synchronous baselines (a blocked SQLite call, or Microsoft.Data.Sqlite's
/// 150 ms busy sleep, must not starve the thread pool and distort the baseline). All threads are
/// created and parked first; the measurement starts just before they are released together.
/// </summary>
internal static class ProducerThreads
{
    internal static void Run(int count, Action<int> produce, Action beforeRelease)
    {
        using var ready = new CountdownEvent(count);
        using var release = new ManualResetEventSlim();
        Exception? failure = null;
        var threads = new Thread[count];
        for (var i = 0; i < count; i++)
        {
            var producer = i;
            threads[i] = new Thread(() =>
            {
                ready.Signal();
                release.Wait();
                try
                {
                    produce(producer);
                }
                catch (Exception ex)
                {
                    Interlocked.CompareExchange(ref failure, ex, null);
                }
            }, maxStackSize: 256 * 1024)
            { IsBackground = true, Name = $"bench-producer-{producer}" };
            threads[i].UnsafeStart();
        }

        ready.Wait();
        beforeRelease();
        release.Set();
        foreach (var thread in threads)
        {
            thread.Join();
        }

        if (failure is not null)
        {
            throw new InvalidOperationException($"A producer thread failed: {failure.Message}", failure);
        }
    }
}
