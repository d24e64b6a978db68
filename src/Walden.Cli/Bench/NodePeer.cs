using System.Diagnostics;
using System.Text.Json;

namespace Walden.Cli.Bench;

/// <summary>
/// The Node peer (bench/node/group-commit.mjs): better-sqlite3, the awaited writes of one event-loop turn committed in
/// one transaction, synchronous FULL, writing the very rows Walden writes. It runs in its own process (Node), on the
/// same disk, when <c>node</c> is on the PATH and the script's folder has its package installed (<c>npm install</c>
/// in bench/node); otherwise the bench says why it was skipped. Its SQLite is the one better-sqlite3 bundles.
/// </summary>
internal sealed class NodePeer
{
    private const string Script = "group-commit.mjs";

    private readonly string _folder;
    private readonly string _node;

    private NodePeer(string folder, string node)
    {
        _folder = folder;
        _node = node;
    }

    /// <summary>
    /// Finds the script: <c>WALDEN_BENCH_NODE</c> (a folder), else bench/node in the current folder or one above it.
    /// Null with the reason when the peer cannot run here.
    /// </summary>
    internal static (NodePeer? Peer, string? SkipReason) Find()
    {
        var candidates = new List<string>();
        if (Environment.GetEnvironmentVariable("WALDEN_BENCH_NODE") is { Length: > 0 } configured)
        {
            candidates.Add(configured);
        }

        for (var dir = new DirectoryInfo(Environment.CurrentDirectory); dir is not null; dir = dir.Parent)
        {
            candidates.Add(Path.Combine(dir.FullName, "bench", "node"));
        }

        var folder = candidates.FirstOrDefault(c => File.Exists(Path.Combine(c, Script)));
        if (folder is null)
        {
            return (null, $"bench/node/{Script} not found (run from the repository, or set WALDEN_BENCH_NODE to its folder)");
        }

        if (!Directory.Exists(Path.Combine(folder, "node_modules", "better-sqlite3")))
        {
            return (null, $"better-sqlite3 is not installed: run 'npm install' in {folder}");
        }

        var node = (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator)
            .Select(p => Path.Combine(p, "node")).FirstOrDefault(File.Exists);
        return node is null ? (null, "node is not on the PATH") : (new NodePeer(folder, node), null);
    }

    internal ScenarioResult Run(BenchConfig config, Workload workload, string path, int producers)
    {
        PlainSqlite.Create(path);
        var rowsFile = path + ".rows.json";
        File.WriteAllText(rowsFile, JsonSerializer.Serialize(workload.Export()));
        try
        {
            var start = new ProcessStartInfo(_node)
            {
                WorkingDirectory = _folder,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var argument in new[] { Path.Combine(_folder, Script), path, producers.ToString(System.Globalization.CultureInfo.InvariantCulture),
                config.ScenarioDuration.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture), rowsFile,
                (config.WritesPerProducer ?? 0).ToString(System.Globalization.CultureInfo.InvariantCulture) })
            {
                start.ArgumentList.Add(argument);
            }

            using var process = Process.Start(start) ?? throw new InvalidOperationException("node did not start.");
            var error = process.StandardError.ReadToEndAsync();
            var output = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"The Node peer failed (exit {process.ExitCode}): {error.Result.Trim()}");
            }

            using var json = JsonDocument.Parse(output);
            var root = json.RootElement;
            var rows = root.GetProperty("rows").GetInt64();
            var seconds = root.GetProperty("seconds").GetDouble();
            Version = $"better-sqlite3 {root.GetProperty("betterSqlite3").GetString()}, SQLite {root.GetProperty("sqlite").GetString()}";
            return new ScenarioResult(ScenarioKind.NodeGroupCommit, producers, producers, "full", rows, PlainSqlite.CountRows(path), 0, seconds,
                seconds > 0 ? rows / seconds : 0, root.GetProperty("p50Ms").GetDouble(), root.GetProperty("p99Ms").GetDouble(),
                root.GetProperty("maxMs").GetDouble(), 0, 0, 0, 0, DurableAtAck: true);
        }
        finally
        {
            File.Delete(rowsFile);
            PlainSqlite.Delete(path);
        }
    }

    /// <summary>The library versions the script reported (after a run).</summary>
    internal string? Version { get; private set; }
}
