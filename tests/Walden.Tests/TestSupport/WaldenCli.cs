using System.Diagnostics;

namespace Walden.Tests.TestSupport;

/// <summary>Runs the walden CLI (built beside the tests) as a real child process.</summary>
internal static class WaldenCli
{
    public static string DllPath => Path.Combine(AppContext.BaseDirectory, "Walden.Cli.dll");

    public static string DotnetPath =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet";

    public static Process Start(params string[] arguments) => Start(new Dictionary<string, string>(), arguments);

    /// <summary>Starts the CLI with extra environment variables (e.g. TMPDIR, or the test pause seam).</summary>
    public static Process Start(IReadOnlyDictionary<string, string> environment, params string[] arguments)
    {
        var info = new ProcessStartInfo(DotnetPath)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = environment.ContainsKey("WALDEN_TEST_HOLD_AT"),
            UseShellExecute = false,
        };
        foreach (var (name, value) in environment)
        {
            info.Environment[name] = value;
        }

        info.ArgumentList.Add(DllPath);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        return Process.Start(info) ?? throw new InvalidOperationException("The walden CLI did not start.");
    }

    /// <summary>
    /// Asserts that an error line says each sentence once: advice added by two layers read "Check the path. Check the path;".
    /// </summary>
    public static void AssertNoRepeatedSentence(string text)
    {
        var sentences = text.Split([". ", "; ", ": "], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(s => s.TrimEnd('.', ';')).Where(s => s.Length > 0).ToList();
        var repeated = sentences.GroupBy(s => s, StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        Assert.True(repeated.Count == 0, $"said twice: '{string.Join("', '", repeated)}' in: {text}");
    }

    /// <summary>Runs to the end; the limit only keeps a hung child from hanging the suite.</summary>
    public static Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(params string[] arguments) =>
        RunAsync(new Dictionary<string, string>(), arguments);

    /// <summary>Runs to the end with extra environment variables.</summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(
        IReadOnlyDictionary<string, string> environment, params string[] arguments)
    {
        using var process = Start(environment, arguments);
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

    /// <summary>
    /// Runs the CLI to the end, holding it at <paramref name="point"/> (the WALDEN_TEST_HOLD_AT seam) while
    /// <paramref name="meanwhile"/> runs; then it goes on.
    /// </summary>
    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunHoldingAtAsync(string point, Action meanwhile, params string[] arguments)
    {
        using var process = Start(new Dictionary<string, string> { ["WALDEN_TEST_HOLD_AT"] = point }, arguments);
        var stdout = process.StandardOutput.ReadToEndAsync();
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        var stderr = new System.Text.StringBuilder();
        try
        {
            while (await process.StandardError.ReadLineAsync(limit.Token) is { } line)
            {
                if (line == $"walden-holding:{point}")
                {
                    meanwhile();
                    process.StandardInput.Close();
                    break;
                }

                stderr.AppendLine(line);
            }

            stderr.Append(await process.StandardError.ReadToEndAsync(limit.Token));
            await process.WaitForExitAsync(limit.Token);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }

        return (process.ExitCode, await stdout, stderr.ToString());
    }

    /// <summary>
    /// Starts the CLI paused at a point inside an operation (the WALDEN_TEST_PAUSE_AT seam), waits for it to say it
    /// is there, then kills it with SIGKILL, as a crash or an OOM kill would.
    /// </summary>
    public static async Task KillAtAsync(string point, IReadOnlyDictionary<string, string> environment, params string[] arguments)
    {
        var withPause = new Dictionary<string, string>(environment) { ["WALDEN_TEST_PAUSE_AT"] = point };
        using var process = Start(withPause, arguments);
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        try
        {
            while (await process.StandardError.ReadLineAsync(limit.Token) is { } line)
            {
                if (line == $"walden-paused:{point}")
                {
                    process.Kill();
                    await process.WaitForExitAsync(limit.Token);
                    return;
                }
            }
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill();
            }
        }

        var output = await process.StandardOutput.ReadToEndAsync();
        throw new InvalidOperationException($"walden {string.Join(' ', arguments)} ended before reaching '{point}': {output}");
    }
}
