using System.Diagnostics;

namespace Walden.Tests.TestSupport;

/// <summary>
/// Node with the better-sqlite3 addon (11.10.0, which bundles SQLite 3.49.2), installed once per machine with npm into
/// ~/.cache/walden-test-node (outside the repository; npm compiles the addon when no prebuilt one can be fetched, which takes
/// minutes the first time only).
/// </summary>
internal static class BetterSqlite3
{
    public const string Version = "11.10.0";

    public const string BundledSqlite = "3.49.2";

    /// <summary>Why the Node tests cannot run here (node or npm not on PATH); null when they can.</summary>
    public static string? WhyUnavailable =>
        Which("node") is null ? "skipped: node is not on PATH" : Which("npm") is null ? "skipped: npm is not on PATH" : null;

    private static string Folder => Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache",
        "walden-test-node", $"better-sqlite3-{Version}");

    /// <summary>The module folder to require(); installs it first when it is not there yet.</summary>
    public static async Task<string> EnsureInstalledAsync()
    {
        var module = Path.Combine(Folder, "node_modules", "better-sqlite3");
        if (File.Exists(Path.Combine(module, "build", "Release", "better_sqlite3.node")))
        {
            return module;
        }

        Directory.CreateDirectory(Folder);
        var info = new ProcessStartInfo("npm") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { "install", "--prefix", Folder, "--no-audit", "--no-fund", $"better-sqlite3@{Version}" })
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(15));
        await process.WaitForExitAsync(limit.Token);
        if (process.ExitCode != 0 || !File.Exists(Path.Combine(module, "build", "Release", "better_sqlite3.node")))
        {
            throw new InvalidOperationException($"npm install better-sqlite3@{Version} failed ({process.ExitCode}): {await stdout} {await stderr}");
        }

        return module;
    }

    private static string? Which(string program) => (Environment.GetEnvironmentVariable("PATH") ?? "")
        .Split(':', StringSplitOptions.RemoveEmptyEntries)
        .Select(folder => Path.Combine(folder, program))
        .FirstOrDefault(File.Exists);
}

/// <summary>A fact that needs node and npm; skipped, with the reason, where either is missing.</summary>
internal sealed class NodeFactAttribute : FactAttribute
{
    public NodeFactAttribute()
    {
        if (BetterSqlite3.WhyUnavailable is { } reason)
        {
            Skip = reason;
        }
    }
}
