using System.Diagnostics;

namespace Walden.Tests.TestSupport;

/// <summary>Runs the walden CLI (built beside the tests) as a real child process.</summary>
internal static class WaldenCli
{
    public static string DllPath => Path.Combine(AppContext.BaseDirectory, "Walden.Cli.dll");

    public static string DotnetPath =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    public static Process Start(params string[] arguments)
    {
        var info = new ProcessStartInfo(DotnetPath)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(DllPath);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        return Process.Start(info) ?? throw new InvalidOperationException("The walden CLI did not start.");
    }

    /// <summary>Runs to the end; the limit only keeps a hung child from hanging the suite.</summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(params string[] arguments)
    {
        using var process = Start(arguments);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"walden {string.Join(' ', arguments)} did not finish within 5 minutes.");
        }

        return (process.ExitCode, await stdout, await stderr);
    }
}
