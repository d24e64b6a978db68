using System.Diagnostics;

namespace Walden.Tests.TestSupport;

/// <summary>
/// Another program reading the database: a python3 child (Debian's sqlite3 module) that runs <c>BEGIN; SELECT count(*)</c>
/// on a table and then keeps that read transaction, and with it its snapshot and its WAL read lock, until told to end.
/// </summary>
internal sealed class PythonSnapshotReader : IAsyncDisposable
{
    private const string Script = """
        import sqlite3, sys
        c = sqlite3.connect(sys.argv[1], isolation_level=None)
        c.execute("BEGIN")
        n = c.execute("SELECT count(*) FROM " + sys.argv[2]).fetchone()[0]
        print("ready", n, flush=True)
        sys.stdin.readline()
        c.execute("COMMIT")
        c.close()
        print("done", flush=True)
        """;

    private readonly Process _process;

    private PythonSnapshotReader(Process process, long rowsSeen)
    {
        _process = process;
        RowsSeen = rowsSeen;
    }

    public int ProcessId => _process.Id;

    /// <summary>The count its snapshot saw.</summary>
    public long RowsSeen { get; }

    /// <summary>Starts the child and returns once it holds its snapshot.</summary>
    public static async Task<PythonSnapshotReader> StartAsync(string database, string table)
    {
        // Debian's own interpreter when present: a pyenv shim on PATH takes seconds to start.
        var start = new ProcessStartInfo(ForeignProgram.Python)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add(Script);
        start.ArgumentList.Add(database);
        start.ArgumentList.Add(table);
        var process = Process.Start(start)!;
        var line = await process.StandardOutput.ReadLineAsync();
        if (line is null || !line.StartsWith("ready ", StringComparison.Ordinal))
        {
            var error = await process.StandardError.ReadToEndAsync();
            process.Kill();
            process.Dispose();
            throw new InvalidOperationException($"The python3 reader did not start: {line} {error}");
        }

        return new PythonSnapshotReader(process, long.Parse(line["ready ".Length..], System.Globalization.CultureInfo.InvariantCulture));
    }

    /// <summary>Ends the read transaction (COMMIT), closes the connection and waits for the child to exit.</summary>
    public async Task EndAsync()
    {
        if (_process.HasExited)
        {
            return;
        }

        await _process.StandardInput.WriteLineAsync();
        await _process.StandardInput.FlushAsync();
        await _process.WaitForExitAsync();
        Assert.Equal(0, _process.ExitCode);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill();
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }
}
