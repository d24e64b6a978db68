using System.Diagnostics;

namespace Walden.Tests.TestSupport;

/// <summary>A small tmpfs volume of its own (needs root): a disk that really fills up.</summary>
internal sealed class SmallVolume : IDisposable
{
    private static readonly Lazy<string?> Unavailable = new(Probe);

    public SmallVolume(string folder, int megabytes)
    {
        Path = folder;
        Directory.CreateDirectory(folder);
        Run("mount", "-t", "tmpfs", "-o", $"size={megabytes}m", "tmpfs", folder);
    }

    public string Path { get; }

    /// <summary>Why a tmpfs cannot be mounted here, or null when it can.</summary>
    public static string? WhyUnavailable => Unavailable.Value;

    public void Dispose() => Run("umount", "-l", Path);

    private static string? Probe()
    {
        var folder = Directory.CreateTempSubdirectory("walden-tmpfs-probe-").FullName;
        try
        {
            using var volume = new SmallVolume(folder, 1);
            return null;
        }
        catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            return $"A tmpfs cannot be mounted here (needs root and mount): {ex.Message}";
        }
        finally
        {
            try
            {
                Directory.Delete(folder);
            }
            catch (IOException)
            {
            }
        }
    }

    private static void Run(string file, params string[] arguments)
    {
        using var process = Process.Start(new ProcessStartInfo(file, arguments) { RedirectStandardError = true, UseShellExecute = false })!;
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} failed: {error.Trim()}");
        }
    }
}

/// <summary>A fact that needs a real small volume; skipped, with the reason, where none can be mounted.</summary>
internal sealed class SmallVolumeFactAttribute : FactAttribute
{
    public SmallVolumeFactAttribute()
    {
        if (SmallVolume.WhyUnavailable is { } reason)
        {
            Skip = reason;
        }
    }
}
