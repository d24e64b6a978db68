using System.Diagnostics;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Cli;

/// <summary>
/// A hot -journal or a -wal with content that this user may not read (another user's, mode 0600): every reading command,
/// backup and recover included, names that file and what to change, exits 2, and changes nothing; never "the backup folder"
/// or "the output". Tests run as root, which file modes do not stop, so the command runs as the user nobody (setpriv).
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class UnreadableCompanionTests : IDisposable
{

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData("-journal", "backup")]
    [InlineData("-journal", "recover")]
    [InlineData("-journal", "check")]
    [InlineData("-journal", "stats")]
    [InlineData("-wal", "backup")]
    [InlineData("-wal", "info")]
    public async Task ACommand_OnADatabaseWhoseJournalOrWalThisUserMayNotRead_NamesThatFile_AndChangesNothing(string companion, string command)
    {
        File.SetUnixFileMode(_dir.Path, (UnixFileMode)0x1FF); // nobody works in the test's folder
        var folder = Directory.CreateDirectory(_dir.File("data")).FullName;
        var path = Path.Combine(folder, "app.db");
        await ForeignProgram.RunPythonAsync(companion == "-wal" ? ForeignProgram.KilledInWalWithOneRow : ForeignProgram.KilledMidTransaction, path);
        var file = path + companion;
        Assert.True(File.Exists(file), $"the killed writer left no {companion}");
        Run("chown", "nobody", path);
        if (File.Exists(path + "-shm"))
        {
            Run("chown", "nobody", path + "-shm");
        }

        File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite); // root's, 0600
        var before = ForeignProgram.Snapshot(folder);
        string[] arguments = command switch
        {
            "backup" => ["backup", path, _dir.File("backups")],
            "recover" => ["recover", path, "--output", _dir.File("recovered.db")],
            _ => [command, path],
        };

        var (exitCode, stdout, stderr) = await RunAsNobodyAsync(arguments);

        var error = stderr.ReplaceLineEndings(" ");
        Assert.True(exitCode == 2, $"exit {exitCode}: {stdout} {error}");
        Assert.Contains($"'{file}' is ", error, StringComparison.Ordinal);
        Assert.Contains("may not read it (mode 0600)", error, StringComparison.Ordinal);
        Assert.DoesNotContain("backups", error, StringComparison.Ordinal);
        Assert.DoesNotContain("recovered.db", error, StringComparison.Ordinal);
        Assert.Equal(before, ForeignProgram.Snapshot(folder));
    }

    private static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsNobodyAsync(string[] arguments)
    {
        var info = new ProcessStartInfo("setpriv") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in new[] { "--reuid=65534", "--regid=65534", "--clear-groups", "env", "HOME=/tmp", WaldenCli.DotnetPath, WaldenCli.DllPath }
            .Concat(arguments))
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout, await stderr);
    }

    private static void Run(string file, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(file, arguments) { UseShellExecute = false })!;
        process.WaitForExit();
        Assert.Equal(0, process.ExitCode);
    }
}
