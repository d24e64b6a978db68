using Walden.Tests.TestSupport;

namespace Walden.Tests.Cli;

/// <summary>
/// An empty path (an unset shell variable: <c>walden check "$DB"</c>) is bad usage for every path argument and option of
/// every command: one line naming the argument as typed and what to give, exit 2, never "Unexpected error ... report it".
/// </summary>
public sealed class EmptyPathTests
{
    [Theory]
    [InlineData("<db>", "check", "")]
    [InlineData("<db>", "info", "")]
    [InlineData("<db>", "stats", " ")]
    [InlineData("<db>", "doctor", "")]
    [InlineData("<db>", "checkpoint", "")]
    [InlineData("<archive>", "archive", "status", "")]
    [InlineData("<archive>", "archive", "verify", " ")]
    [InlineData("<backup>", "restore", "", "out.db")]
    [InlineData("<db>", "restore", "/nonexistent-backup", "")]
    [InlineData("<db>", "backup", "", "/nonexistent-folder")]
    [InlineData("<dir>", "backup", "/nonexistent.db", "")]
    [InlineData("<dir>", "backups", "")]
    [InlineData("--output", "recover", "/nonexistent.db", "--output", "")]
    [InlineData("--schema-from", "recover", "/nonexistent.db", "--schema-from", "")]
    [InlineData("--db", "demo", "--db", "")]
    [InlineData("--archive", "demo", "--archive", "")]
    [InlineData("--db", "soak", "--db", " ")]
    [InlineData("--dir", "bench", "--dir", "")]
    [InlineData("--output", "bench", "--output", "")]
    [InlineData("--dir", "torture", "--dir", "")]
    [InlineData("--foreign-writer", "torture", "--foreign-writer", "")]
    [InlineData("--dir", "backup-bench", "--dir", "")]
    public async Task EmptyPath_IsRefusedNamingTheArgument_WithExit2(string named, params string[] arguments)
    {
        var (exitCode, stdout, stderr) = await WaldenCli.RunAsync(arguments);

        Assert.True(exitCode == 2, $"exit {exitCode}: {stderr}{stdout}");
        Assert.DoesNotContain("Unexpected", stderr, StringComparison.Ordinal);
        Assert.Contains($"{named} is empty: give the path of", stderr, StringComparison.Ordinal);
    }
}
