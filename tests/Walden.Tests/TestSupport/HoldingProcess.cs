using System.Diagnostics;

namespace Walden.Tests.TestSupport;

/// <summary>
/// Another program holding a database open until told to stop: it prints "ready" once it holds the file (a signal, not a
/// sleep), then waits for a line on stdin. Python (Debian's sqlite3 module), Node, or a walden torture worker.
/// </summary>
internal sealed class HoldingProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Task _drain;

    private HoldingProcess(Process process, Task drain)
    {
        _process = process;
        _drain = drain;
    }

    public int ProcessId => _process.Id;

    /// <summary>Starts <paramref name="file"/> with <paramref name="arguments"/> and returns once it printed "ready".</summary>
    public static async Task<HoldingProcess> StartAsync(string file, IReadOnlyDictionary<string, string>? environment, params string[] arguments)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[name] = value;
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException($"{file} did not start");
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        string? line;
        while ((line = await process.StandardOutput.ReadLineAsync(limit.Token)) is not null && line.Trim() != "ready")
        {
        }

        if (line is null)
        {
            var error = await process.StandardError.ReadToEndAsync();
            process.Dispose();
            throw new InvalidOperationException($"{file} ended before it held the database: {error}");
        }

        // Whatever it prints from now on (a torture worker prints every acknowledged write) must not fill the pipe.
        var drain = Task.Run(async () =>
        {
            while (await process.StandardOutput.ReadLineAsync() is not null)
            {
            }
        });
        return new HoldingProcess(process, drain);
    }

    /// <summary>Python's sqlite3 (3.40.1 here) running <paramref name="script"/> with the database as sys.argv[1].</summary>
    public static Task<HoldingProcess> PythonAsync(string script, string database) =>
        StartAsync(ForeignProgram.Python, null, "-c", script, database);

    /// <summary>Writes one line to its standard input (a script's cue to go on).</summary>
    public async Task SendLineAsync()
    {
        await _process.StandardInput.WriteLineAsync();
        await _process.StandardInput.FlushAsync();
    }

    /// <summary>Asks it to stop (a line, then end of input) and waits for it to exit.</summary>
    public async Task StopAsync()
    {
        if (!_process.HasExited)
        {
            try
            {
                await _process.StandardInput.WriteLineAsync();
                _process.StandardInput.Close();
            }
            catch (IOException)
            {
                // it ended meanwhile
            }

            using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(1));
            await _process.WaitForExitAsync(limit.Token);
        }

        await _drain;
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        await _drain.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _process.Dispose();
    }
}
