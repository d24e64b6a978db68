using Walden.Tests.TestSupport;

namespace Walden.Tests.Cli;

/// <summary>
/// An option out of range is refused naming the option as typed, its range in the option's own unit and the value typed;
/// never the engine's property (KeepFor, KeepLast) or a .NET TimeSpan. Nothing is written.
/// </summary>
public sealed class OptionErrorTests
{
    [Theory]
    [InlineData("--keep-days", "0", "0.000695 (1 minute) and 36500", "you gave 0)")]
    [InlineData("--keep-days", "0.00001", "0.000695 (1 minute) and 36500", "you gave 0.00001)")]
    [InlineData("--keep-days", "40000", "0.000695 (1 minute) and 36500", "you gave 40000)")]
    [InlineData("--keep-last", "0", "between 1 and 100000", "you gave 0)")]
    [InlineData("--keep-last", "100001", "between 1 and 100000", "you gave 100001)")]
    public async Task Backup_WithAKeepOptionOutOfRange_NamesTheOptionItsRangeAndTheValueTyped_AndWritesNothing(string option, string value, string range, string typed)
    {
        using var temp = new TempDirectory();
        var database = temp.File("app.db");
        using (var connection = Sql.OpenDirect(database))
        {
            connection.Exec("CREATE TABLE t(x)");
        }

        var (exitCode, _, stderr) = await WaldenCli.RunAsync("backup", database, temp.File("bk"), option, value);

        Assert.Equal(2, exitCode);
        Assert.Contains($"{option} must be", stderr, StringComparison.Ordinal);
        Assert.Contains(range, stderr, StringComparison.Ordinal);
        Assert.Contains(typed, stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("KeepFor", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("KeepLast", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("00:00:00", stderr, StringComparison.Ordinal);
        Assert.False(Directory.Exists(temp.File("bk")));
    }
}
