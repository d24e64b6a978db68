using System.Diagnostics;
using Walden.Native;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Native;

/// <summary>
/// What a platform without Walden's own build gets, tried on Linux by forcing the stock library
/// (WALDEN_SQLITE_LIBRARY=stock) in a child process: the engine runs, recovery refuses naming what is missing.
/// </summary>
public sealed class StockSqliteFallbackTests
{
    [Fact]
    public async Task OnTheStockLibrary_TheEngineWritesAndReads_AndRecoveryRefusesNamingWhatIsMissing()
    {
        using var dir = new TempDirectory();
        var db = dir.File("stock.db");

        var demo = await RunStockAsync("demo", "--db", db, "--producers", "8", "--writes", "25", "--json");
        Assert.True(demo.ExitCode == 0, demo.Stdout + demo.Stderr);

        var info = await RunStockAsync("info", db, "--json");
        Assert.True(info.ExitCode == 0, info.Stdout + info.Stderr);
        Assert.Contains("\"3.53.", info.Stdout, StringComparison.Ordinal); // the SQLite package's stock build, not 3.54.1
        Assert.DoesNotContain("3.54.1", info.Stdout, StringComparison.Ordinal);

        var recover = await RunStockAsync("recover", db, "--output", dir.File("out.db"));
        Assert.NotEqual(0, recover.ExitCode);
        Assert.Contains("needs Walden's own SQLite build", recover.Stderr, StringComparison.Ordinal);
        Assert.Contains("recover extension", recover.Stderr, StringComparison.Ordinal);
        Assert.Contains("sqlite_dbpage", recover.Stderr, StringComparison.Ordinal);
        Assert.False(File.Exists(dir.File("out.db")));
    }

    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunStockAsync(params string[] arguments)
    {
        var info = new ProcessStartInfo(WaldenCli.DotnetPath)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.Environment[NativeLoader.ChoiceVariable] = "stock";
        info.Environment["COLUMNS"] = "400"; // keep error lines unwrapped
        info.ArgumentList.Add(WaldenCli.DllPath);
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(limit.Token);
        return (process.ExitCode, await stdout, await stderr);
    }
}
