using System.Diagnostics;
using System.Text.Json;
using Walden.Cli.Bench;

namespace Walden.Tests.TestSupport;

/// <summary>
/// Another Walden process on a file: <c>walden bench-worker</c>. It opens the database (and so takes what a Walden instance
/// takes: the checkpoint lease when it is free), says ready, writes when told to go, and reports its stats as JSON.
/// </summary>
internal sealed class BenchWorker : IDisposable
{
    private readonly Process _process;

    private BenchWorker(Process process)
    {
        _process = process;
    }

    public int ProcessId => _process.Id;

    /// <summary>Starts the worker and waits until it has opened the database.</summary>
    public static async Task<BenchWorker> StartAsync(string path, int producers, int writesPerProducer, long? walSizeLimit = null,
        IReadOnlyDictionary<string, string>? environment = null)
    {
        var arguments = new List<string>
        {
            "bench-worker", "--db", path, "--producers", $"{producers}", "--writes", $"{writesPerProducer}", "--durability", "normal",
        };
        if (walSizeLimit is { } limit)
        {
            arguments.AddRange(["--wal-size-limit", $"{limit}"]);
        }

        var info = new ProcessStartInfo(WaldenCli.DotnetPath)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[name] = value;
        }

        info.ArgumentList.Add(WaldenCli.DllPath);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("bench-worker did not start");
        var worker = new BenchWorker(process);
        using var limitTime = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var line = await process.StandardOutput.ReadLineAsync(limitTime.Token);
        if (line != ProcessWorker.Ready)
        {
            throw new InvalidOperationException($"bench-worker did not open the database: {line} {await process.StandardError.ReadToEndAsync()}");
        }

        return worker;
    }

    /// <summary>Lets it write; returns its figures once it has written everything (before it closes the database).</summary>
    public async Task<ProcessWorkerResult> RunAsync()
    {
        await _process.StandardInput.WriteLineAsync(ProcessWorker.Go);
        await _process.StandardInput.FlushAsync();
        using var limitTime = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var line = await _process.StandardOutput.ReadLineAsync(limitTime.Token)
            ?? throw new InvalidOperationException($"bench-worker ended without its figures: {await _process.StandardError.ReadToEndAsync()}");
        await _process.WaitForExitAsync(limitTime.Token);
        return JsonSerializer.Deserialize<ProcessWorkerResult>(line, Walden.Cli.Output.Json.Options)!;
    }

    /// <summary>SIGKILL, as a crash would.</summary>
    public void Kill()
    {
        _process.Kill();
        _process.WaitForExit();
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            _process.WaitForExit();
        }

        _process.Dispose();
    }

    /// <summary>Waits for <paramref name="condition"/> (checked every few ms) up to <paramref name="limit"/>: a signal with a deadline, not a timing.</summary>
    public static async Task<bool> WaitUntilAsync(Func<bool> condition, TimeSpan limit)
    {
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > limit)
            {
                return false;
            }

            await Task.Delay(5);
        }

        return true;
    }
}
