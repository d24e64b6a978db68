using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Walden.Cli.Torture;

/// <summary>
/// The supervisor's side of one worker process: starts it, reads its stdout byte by byte into complete
/// lines (the acknowledgements it holds are the truth the checker uses), keeps its stderr for the log,
/// and kills it with SIGKILL (<see cref="Process.Kill()"/> on Linux) or asks it to stop by closing stdin.
/// </summary>
internal sealed class WorkerProcess : IDisposable
{
    private const int MaxNotes = 20;

    private readonly Process _process;
    private readonly Task _stdout;
    private readonly Task<string> _stderr;
    private readonly TaskCompletionSource _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    // Written by the stdout pump; read by the supervisor under the lock (progress, copy snapshot) and after the pump ended.
    private readonly Lock _lock = new();
    private readonly List<long> _acks = [];
    private readonly List<long> _ackTimes = [];
    private readonly List<string> _notes = [];
    private long _checkpoints;
    private long _reads;
    private int _errors;
    private int _corruptions;
    private int _partialBytes;

    private WorkerProcess(Process process, long workerId, WorkerRole role)
    {
        _process = process;
        WorkerId = workerId;
        Role = role;
        _stdout = Task.Run(PumpStdoutAsync);
        _stderr = process.StandardError.ReadToEndAsync();
    }

    internal long WorkerId { get; }

    internal WorkerRole Role { get; }

    internal int ProcessId => _process.Id;

    /// <summary>Completes when the worker printed "ready"; faults if it exited before.</summary>
    internal Task Ready => _ready.Task;

    internal bool Killed { get; private set; }

    internal bool SaidDone { get; private set; }

    internal int AckCount
    {
        get
        {
            lock (_lock)
            {
                return _acks.Count;
            }
        }
    }

    internal long Checkpoints => Interlocked.Read(ref _checkpoints);

    internal long Reads => Interlocked.Read(ref _reads);

    internal int Errors => Volatile.Read(ref _errors);

    internal int Corruptions => Volatile.Read(ref _corruptions);

    /// <summary>Bytes of a last line cut short by the kill: not an acknowledgement.</summary>
    internal int PartialBytes => _partialBytes;

    internal static WorkerProcess Start(WorkerLaunch launch, string databasePath, long workerId, WorkerRole role, int producers, WaldenDurability durability,
        IEnumerable<string>? extra = null)
    {
        var info = launch.StartInfo(
        [
            "torture-worker", "--db", databasePath, "--worker", workerId.ToString(CultureInfo.InvariantCulture),
            "--role", role.ToString().ToLowerInvariant(), "--producers", producers.ToString(CultureInfo.InvariantCulture),
            "--durability", durability.ToString().ToLowerInvariant(),
            .. extra ?? [],
        ]);
        var process = Process.Start(info) ?? throw new InvalidOperationException($"The worker process '{launch.FileName}' did not start.");
        return new WorkerProcess(process, workerId, role);
    }

    /// <summary>The acknowledgements received so far, in arrival order.</summary>
    internal long[] AcksSnapshot()
    {
        lock (_lock)
        {
            return [.. _acks];
        }
    }

    /// <summary>When each acknowledgement arrived (<see cref="Stopwatch.GetTimestamp"/>), in the order of <see cref="AcksSnapshot"/>.</summary>
    internal long[] AckTimesSnapshot()
    {
        lock (_lock)
        {
            return [.. _ackTimes];
        }
    }

    internal IReadOnlyList<string> Notes()
    {
        lock (_lock)
        {
            return [.. _notes];
        }
    }

    /// <summary>SIGKILL: no handler runs, no buffer is flushed, no lock is released cleanly.</summary>
    internal void Kill()
    {
        Killed = true;
        try
        {
            _process.Kill();
        }
        catch (InvalidOperationException)
        {
            // already exited
        }
    }

    /// <summary>Asks for a clean stop: the worker finishes its in-flight writes, closes the database and exits 0.</summary>
    internal void RequestStop()
    {
        try
        {
            _process.StandardInput.Close();
        }
        catch (IOException)
        {
            // it already exited; the pipe is gone
        }
    }

    /// <summary>Waits for the exit and for every byte of stdout and stderr; kills a worker that does not exit within <paramref name="limit"/>.</summary>
    /// <returns>The exit code, and whether the worker had to be killed for hanging.</returns>
    internal async Task<(int ExitCode, bool Hung, string Stderr)> WaitForExitAsync(TimeSpan limit)
    {
        var hung = false;
        using (var timeout = new CancellationTokenSource(limit))
        {
            try
            {
                await _process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                hung = true;
                _process.Kill();
                await _process.WaitForExitAsync().ConfigureAwait(false);
            }
        }

        await _stdout.ConfigureAwait(false);
        return (_process.ExitCode, hung, await _stderr.ConfigureAwait(false));
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
        }

        _process.Dispose();
    }

    private async Task PumpStdoutAsync()
    {
        var stream = _process.StandardOutput.BaseStream;
        var buffer = new byte[1 << 16];
        var pending = new List<byte>(256);
        int read;
        while ((read = await stream.ReadAsync(buffer).ConfigureAwait(false)) > 0)
        {
            var start = 0;
            for (var i = 0; i < read; i++)
            {
                if (buffer[i] != (byte)'\n')
                {
                    continue;
                }

                if (pending.Count > 0)
                {
                    pending.AddRange(buffer.AsSpan(start, i - start));
                    OnLine(Encoding.UTF8.GetString([.. pending]));
                    pending.Clear();
                }
                else
                {
                    OnLine(Encoding.UTF8.GetString(buffer, start, i - start));
                }

                start = i + 1;
            }

            pending.AddRange(buffer.AsSpan(start, read - start));
        }

        // Whatever is left had no '\n': the kill cut that line, so it is not an acknowledgement.
        _partialBytes = pending.Count;
        _ready.TrySetException(new InvalidOperationException($"Worker {WorkerId} exited before it was ready."));
    }

    private void OnLine(string line)
    {
        if (line.StartsWith(WorkerProtocol.AckPrefix, StringComparison.Ordinal))
        {
            var seq = long.Parse(line.AsSpan(WorkerProtocol.AckPrefix.Length), CultureInfo.InvariantCulture);
            lock (_lock)
            {
                _acks.Add(seq);
                _ackTimes.Add(Stopwatch.GetTimestamp());
            }
        }
        else if (line.StartsWith(WorkerProtocol.CheckpointPrefix, StringComparison.Ordinal))
        {
            Interlocked.Increment(ref _checkpoints);
        }
        else if (line.StartsWith(WorkerProtocol.ReadsPrefix, StringComparison.Ordinal))
        {
            Interlocked.Exchange(ref _reads, long.Parse(line.AsSpan(WorkerProtocol.ReadsPrefix.Length), CultureInfo.InvariantCulture));
        }
        else if (line == WorkerProtocol.Ready)
        {
            _ready.TrySetResult();
        }
        else if (line == WorkerProtocol.Done)
        {
            SaidDone = true;
        }
        else
        {
            if (line.StartsWith(WorkerProtocol.CorruptPrefix, StringComparison.Ordinal))
            {
                Interlocked.Increment(ref _corruptions);
            }
            else
            {
                Interlocked.Increment(ref _errors);
            }

            lock (_lock)
            {
                if (_notes.Count < MaxNotes)
                {
                    _notes.Add(line);
                }
            }
        }
    }
}

/// <summary>How to start this same CLI again as a worker: the apphost itself, or <c>dotnet Walden.Cli.dll</c>.</summary>
internal sealed record WorkerLaunch(string FileName, IReadOnlyList<string> Arguments)
{
    /// <summary>The runtime's switch for its debugger, profiler and EventPipe IPC files; set to 0 for every worker.</summary>
    internal const string NoDiagnosticsVariable = "DOTNET_EnableDiagnostics";

    /// <summary>Variables set for the worker on top of this process's environment (e.g. the fault VFS of --power-loss).</summary>
    internal IReadOnlyDictionary<string, string> Variables { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// How to start the worker with the hidden command <paramref name="arguments"/> (e.g. <c>torture-worker</c>, <c>bench-worker</c>):
    /// standard input, output and error redirected, <see cref="Variables"/> set.
    /// </summary>
    internal ProcessStartInfo StartInfo(IEnumerable<string> arguments)
    {
        var info = new ProcessStartInfo(FileName)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in Arguments.Concat(arguments))
        {
            info.ArgumentList.Add(argument);
        }

        // A worker is killed by design, and a killed .NET process cannot remove its diagnostic IPC files
        // (dotnet-diagnostic-<pid>-*-socket, clr-debug-pipe-<pid>-*): three per kill were left in TMPDIR for good.
        // Nobody attaches a debugger or dotnet-trace to a worker, so the runtime is told not to create them.
        info.Environment[NoDiagnosticsVariable] = "0";
        foreach (var (name, value) in Variables)
        {
            info.Environment[name] = value;
        }

        return info;
    }

    internal static WorkerLaunch FromCurrentProcess()
    {
        var processPath = Environment.ProcessPath ?? throw new InvalidOperationException("The path of this process is unknown; cannot start torture workers.");
        if (string.Equals(Path.GetFileNameWithoutExtension(processPath), "dotnet", StringComparison.OrdinalIgnoreCase))
        {
            var entry = System.Reflection.Assembly.GetEntryAssembly()?.Location;
            if (string.IsNullOrEmpty(entry))
            {
                throw new InvalidOperationException("Running under 'dotnet' without an entry assembly path; cannot start torture workers.");
            }

            return new WorkerLaunch(processPath, [entry]);
        }

        return new WorkerLaunch(processPath, []);
    }
}
