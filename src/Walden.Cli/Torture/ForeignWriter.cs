using System.Diagnostics;
using System.Globalization;

namespace Walden.Cli.Torture;

/// <summary>
/// A writer that is not Walden's, for <c>walden torture --foreign-writer</c>: the sqlite3 shell (built with Walden's SQLite)
/// committing one row per statement into <c>foreign_record</c> beside the Walden workers, with SQLite's own busy timeout and
/// its own auto-checkpoint, as another program on the same file would. It sees only SQLite's locks, never Walden's lock file.
/// A <c>.print</c> after each statement tells the supervisor the row was committed.
/// </summary>
internal sealed class ForeignWriter : IDisposable
{
    internal const string Schema =
        "CREATE TABLE IF NOT EXISTS foreign_record(id INTEGER PRIMARY KEY, run INTEGER NOT NULL, n INTEGER NOT NULL, payload BLOB NOT NULL)";

    private readonly Process _process;
    private readonly Task _feeding;
    private readonly Task _reading;
    private readonly CancellationTokenSource _stop = new();
    private long _committed;
    private long _errors;

    private ForeignWriter(Process process, long run)
    {
        _process = process;
        _feeding = Task.Run(() => FeedAsync(run));
        _reading = Task.Run(ReadAsync);
        _ = Task.Run(ReadErrorsAsync);
    }

    /// <summary>Rows the shell reported committed.</summary>
    internal long Committed => Interlocked.Read(ref _committed);

    /// <summary>Statements that failed in the shell (for example "database is locked" after its busy timeout).</summary>
    internal long Errors => Interlocked.Read(ref _errors);

    internal int ProcessId => _process.Id;

    internal static ForeignWriter Start(string shell, string databasePath, long run)
    {
        var info = new ProcessStartInfo(shell)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(databasePath);
        var process = Process.Start(info) ?? throw new InvalidOperationException($"The foreign writer '{shell}' did not start.");
        return new ForeignWriter(process, run);
    }

    private async Task FeedAsync(long run)
    {
        try
        {
            var input = _process.StandardInput;
            await input.WriteLineAsync(".timeout 5000").ConfigureAwait(false);
            for (long n = 0; !_stop.IsCancellationRequested; n++)
            {
                await input.WriteLineAsync(string.Create(CultureInfo.InvariantCulture,
                    $"INSERT INTO foreign_record(run, n, payload) VALUES ({run}, {n}, randomblob({64 + (n % 7 * 150)}));\n.print ok")).ConfigureAwait(false);
                if (n % 16 == 0)
                {
                    await input.FlushAsync().ConfigureAwait(false);
                    // Keep at most a few hundred statements queued in the pipe, so a kill leaves little unsent.
                    while (n - Committed - Errors > 256 && !_stop.IsCancellationRequested && !_process.HasExited)
                    {
                        await Task.Delay(1).ConfigureAwait(false);
                    }
                }
            }
        }
        catch (IOException)
        {
            // killed: the pipe is gone
        }
    }

    private async Task ReadAsync()
    {
        while (await _process.StandardOutput.ReadLineAsync().ConfigureAwait(false) is { } line)
        {
            if (line == "ok")
            {
                Interlocked.Increment(ref _committed);
            }
        }
    }

    private async Task ReadErrorsAsync()
    {
        while (await _process.StandardError.ReadLineAsync().ConfigureAwait(false) is { } line)
        {
            if (line.Length > 0)
            {
                Interlocked.Increment(ref _errors);
            }
        }
    }

    /// <summary>SIGKILL (mid-transaction or not, as a crash would) and waits until it is gone.</summary>
    internal async Task KillAsync()
    {
        _stop.Cancel();
        if (!_process.HasExited)
        {
            _process.Kill();
        }

        await _process.WaitForExitAsync().ConfigureAwait(false);
        await Task.WhenAll(_feeding, _reading).ConfigureAwait(false);
    }

    public void Dispose()
    {
        _stop.Cancel();
        if (!_process.HasExited)
        {
            _process.Kill();
        }

        _process.Dispose();
        _stop.Dispose();
    }
}
