using System.Diagnostics;
using System.Security.Cryptography;
using Amazon.Runtime;

namespace Walden.Tests.TestSupport;

/// <summary>
/// A real S3-compatible server on loopback for the S3 archive tests: s3rver, pinned with its whole dependency tree by
/// TestSupport/S3Server/package-lock.json, installed with <c>npm ci</c> once per machine (and again when the lock file
/// changes) into ~/.cache/walden-test-node/s3rver-&lt;lock hash&gt; (outside the repository), and run by node on 127.0.0.1,
/// on a free port, over a folder of its own. There is no skip: like the build, these tests need node and npm, and a
/// machine without them fails them, saying so.
/// </summary>
internal sealed class S3Server : IAsyncDisposable
{
    public const string Bucket = "walden";

    /// <summary>s3rver's fixed credentials.</summary>
    public static readonly AWSCredentials Credentials = new BasicAWSCredentials("S3RVER", "S3RVER");

    private static readonly SemaphoreSlim InstallGate = new(1, 1);
    private Process? _process;

    static S3Server()
    {
        // The SDK never looks for credentials or a region at the instance metadata address: these tests talk to loopback only.
        Environment.SetEnvironmentVariable("AWS_EC2_METADATA_DISABLED", "true");
    }

    private S3Server(string dataDirectory) => DataDirectory = dataDirectory;

    /// <summary>The folder the server keeps its buckets in (each object a file: see <see cref="ObjectFile"/>).</summary>
    public string DataDirectory { get; }

    public int Port { get; private set; }

    public Uri Url => new($"http://127.0.0.1:{Port}");

    /// <summary>The s3rver version the tests ran against (from the lock file).</summary>
    public static string Version => "3.7.1";

    /// <summary>Installs the server if needed and starts it over <paramref name="dataDirectory"/> on a free port.</summary>
    public static async Task<S3Server> StartAsync(string dataDirectory)
    {
        Directory.CreateDirectory(dataDirectory);
        var server = new S3Server(dataDirectory);
        await server.RunAsync(port: 0);
        return server;
    }

    /// <summary>The server goes down at once (SIGKILL), as a crashed or unreachable store.</summary>
    public void Kill()
    {
        if (_process is { } process)
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            process.Dispose();
            _process = null;
        }
    }

    /// <summary>The server hangs (SIGSTOP): connections are accepted by the kernel, nothing is answered.</summary>
    public void Pause() => Signal("-STOP");

    /// <summary>The hung server goes on (SIGCONT), answering what it was sent meanwhile.</summary>
    public void Resume() => Signal("-CONT");

    /// <summary>Starts the server again on the same port over the same data.</summary>
    public Task RestartAsync()
    {
        Kill();
        return RunAsync(Port);
    }

    /// <summary>A destination on this server under <paramref name="prefix"/>.</summary>
    public WaldenS3Destination Destination(string prefix, Action<WaldenS3DestinationOptions>? configure = null)
    {
        var options = Options(prefix);
        configure?.Invoke(options);
        return new WaldenS3Destination(options);
    }

    public WaldenS3DestinationOptions Options(string prefix) => new()
    {
        Bucket = Bucket,
        Prefix = prefix,
        ServiceUrl = Url,
        Credentials = Credentials,
        RequestTimeout = TimeSpan.FromSeconds(10),
        MaxAttempts = 1,
    };

    /// <summary>The file in which s3rver keeps the bytes of <paramref name="key"/> (to damage an object behind the server's back).</summary>
    public string ObjectFile(string key)
    {
        var parts = key.Split('/');
        parts[^1] += "._S3rver_object";
        return Path.Combine([DataDirectory, Bucket, .. parts]);
    }

    private void Signal(string signal)
    {
        var process = _process ?? throw new InvalidOperationException("The server is not running.");
        using var kill = Process.Start("kill", [signal, process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
        if (kill.ExitCode != 0)
        {
            throw new InvalidOperationException($"kill {signal} {process.Id} failed ({kill.ExitCode}).");
        }
    }

    public ValueTask DisposeAsync()
    {
        if (_process is not null)
        {
            Signal("-CONT"); // a paused server must be able to die
        }

        Kill();
        return ValueTask.CompletedTask;
    }

    private async Task RunAsync(int port)
    {
        var modules = await EnsureInstalledAsync();
        var script = Path.Combine(AppContext.BaseDirectory, "TestSupport", "S3Server", "server.js");
        var info = new ProcessStartInfo("node")
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.Environment["NODE_PATH"] = modules;
        // s3rver makes its ListObjectsV2 continuation tokens with DES, which Node 17+ (OpenSSL 3) has only in the legacy provider.
        foreach (var argument in new[] { "--openssl-legacy-provider", script, DataDirectory, port.ToString(System.Globalization.CultureInfo.InvariantCulture), Bucket })
        {
            info.ArgumentList.Add(argument);
        }

        var process = Process.Start(info) ?? throw new InvalidOperationException("node did not start");
        var stderr = process.StandardError.ReadToEndAsync();
        using var limit = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        string? line;
        try
        {
            line = await process.StandardOutput.ReadLineAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new InvalidOperationException($"s3rver did not start within 60 s: {await stderr}");
        }

        if (line is null || !line.StartsWith("listening ", StringComparison.Ordinal))
        {
            await process.WaitForExitAsync();
            throw new InvalidOperationException($"s3rver did not start (exit {process.ExitCode}): {line} {await stderr}");
        }

        Port = int.Parse(line["listening ".Length..], System.Globalization.CultureInfo.InvariantCulture);
        _process = process;
    }

    /// <summary>The node_modules folder holding s3rver; runs <c>npm ci</c> from the committed lock file the first time.</summary>
    private static async Task<string> EnsureInstalledAsync()
    {
        var source = Path.Combine(AppContext.BaseDirectory, "TestSupport", "S3Server");
        var lockFile = await File.ReadAllBytesAsync(Path.Combine(source, "package-lock.json"));
        var hash = Convert.ToHexStringLower(SHA256.HashData(lockFile))[..16];
        var folder = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "walden-test-node", $"s3rver-{hash}");
        var modules = Path.Combine(folder, "node_modules");
        await InstallGate.WaitAsync();
        try
        {
            if (File.Exists(Path.Combine(folder, ".installed")))
            {
                return modules;
            }

            // Installed into a folder of its own, then renamed into place: another test process never sees half an install.
            var parent = Path.GetDirectoryName(folder)!;
            Directory.CreateDirectory(parent);
            var staging = Path.Combine(parent, $".s3rver-{hash}-{Environment.ProcessId}");
            if (Directory.Exists(staging))
            {
                Directory.Delete(staging, recursive: true);
            }

            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true); // an install that did not finish (no .installed): start again
            }

            Directory.CreateDirectory(staging);
            File.Copy(Path.Combine(source, "package.json"), Path.Combine(staging, "package.json"));
            File.Copy(Path.Combine(source, "package-lock.json"), Path.Combine(staging, "package-lock.json"));
            var info = new ProcessStartInfo("npm")
            {
                WorkingDirectory = staging,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var argument in new[] { "ci", "--no-audit", "--no-fund", "--omit=dev" })
            {
                info.ArgumentList.Add(argument);
            }

            Process process;
            try
            {
                process = Process.Start(info) ?? throw new InvalidOperationException("npm did not start");
            }
            catch (System.ComponentModel.Win32Exception ex)
            {
                throw new InvalidOperationException(
                    "The S3 archive tests need npm (and node) on PATH to install their S3-compatible server (s3rver), as the build needs npm " +
                    "for the SQLite sources. Install Node.js with npm and run the tests again.", ex);
            }

            using (process)
            {
                var stdout = process.StandardOutput.ReadToEndAsync();
                var stderr = process.StandardError.ReadToEndAsync();
                using var limit = new CancellationTokenSource(TimeSpan.FromMinutes(10));
                await process.WaitForExitAsync(limit.Token);
                if (process.ExitCode != 0 || !File.Exists(Path.Combine(staging, "node_modules", "s3rver", "package.json")))
                {
                    throw new InvalidOperationException($"npm ci for the S3 test server failed ({process.ExitCode}): {await stdout} {await stderr}");
                }
            }

            await File.WriteAllTextAsync(Path.Combine(staging, ".installed"), Version);
            try
            {
                Directory.Move(staging, folder);
            }
            catch (IOException) when (File.Exists(Path.Combine(folder, ".installed")))
            {
                Directory.Delete(staging, recursive: true); // another test process installed it first
            }

            return modules;
        }
        finally
        {
            InstallGate.Release();
        }
    }
}
