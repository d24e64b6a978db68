using System.Diagnostics;

namespace Walden.Tests.TestSupport;

/// <summary>
/// The 3.54.1 sqlite3 shell as another process that holds a database open. Each command waits for a
/// marker line the shell prints after it, so the test knows the statement ran: a signal, not a sleep.
/// </summary>
internal sealed class SqliteShell : IDisposable
{
    private readonly Process _process;
    private int _marker;

    public SqliteShell(string databasePath)
    {
        var info = new ProcessStartInfo(Path.Combine(AppContext.BaseDirectory, "sqlite3"))
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(databasePath);
        _process = Process.Start(info) ?? throw new InvalidOperationException("sqlite3 did not start");
    }

    public int ProcessId => _process.Id;

    public static string BinaryPath => Path.Combine(AppContext.BaseDirectory, "sqlite3");

    /// <summary>Runs SQL (or dot-commands) and returns what the shell printed for them.</summary>
    public async Task<string> RunAsync(string sql)
    {
        var marker = $"--walden-done-{++_marker}--";
        await _process.StandardInput.WriteLineAsync(sql);
        await _process.StandardInput.WriteLineAsync($".print {marker}");
        await _process.StandardInput.FlushAsync();
        var output = new System.Text.StringBuilder();
        while (await _process.StandardOutput.ReadLineAsync() is { } line)
        {
            if (line == marker)
            {
                return output.ToString();
            }

            output.AppendLine(line);
        }

        throw new InvalidOperationException($"sqlite3 exited before finishing: {await _process.StandardError.ReadToEndAsync()}");
    }

    /// <summary>SIGKILL: the shell dies holding whatever it held, as a crashed program would.</summary>
    public void Kill()
    {
        _process.Kill();
        _process.WaitForExit();
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.StandardInput.Close();
            if (!_process.WaitForExit(10_000))
            {
                _process.Kill();
            }
        }

        _process.Dispose();
    }
}
