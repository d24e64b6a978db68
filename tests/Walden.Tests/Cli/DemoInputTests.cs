using Walden.Tests.TestSupport;
using Xunit.Abstractions;

namespace Walden.Tests.Cli;

/// <summary>
/// <c>walden demo</c> with a <c>--db</c> it cannot use exits 2 (it could not run on its input, the README's rule), in one
/// line that says each thing once and names what the path is. Found by a newcomer: a --db whose folder does not exist
/// exited 1, as if the run had found a problem, and a file that is no database read "Check the path. Check the path;".
/// </summary>
public sealed class DemoInputTests : IDisposable
{
    private readonly TempDirectory _dir = new();
    private readonly ITestOutputHelper _output;

    public DemoInputTests(ITestOutputHelper output) => _output = output;

    public void Dispose() => _dir.Dispose();

    public static TheoryData<string> Kinds => ["in a folder that does not exist", "a folder", "a text file", "under a file"];

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task Demo_WithADbItCannotUse_SaysWhatItIsOnce_AndExits2(string kind)
    {
        File.WriteAllText(_dir.File("notes.txt"), "remember the milk");
        var (db, said) = kind switch
        {
            "in a folder that does not exist" => (_dir.File("nofolder/demo.db"), "does not exist"),
            "a folder" => (_dir.Path, "is a directory"),
            "a text file" => (_dir.File("notes.txt"), "is not an SQLite database"),
            _ => (_dir.File("notes.txt/demo.db"), "on its path is a file, not a folder"),
        };

        var (exitCode, stdout, stderr) = await WaldenCli.RunAsync("demo", "--db", db, "--producers", "1", "--writes", "1");

        Assert.True(exitCode == 2, $"exit {exitCode}: {stdout} {stderr}");
        Assert.Single(stderr.Trim().Split('\n'));
        Assert.Contains(said, stderr, StringComparison.Ordinal);
        WaldenCli.AssertNoRepeatedSentence(stderr);
        Assert.Equal("remember the milk", File.ReadAllText(_dir.File("notes.txt")));
    }

    [Fact]
    public async Task Demo_WithADbInAReadOnlyFolder_Exits2()
    {
        using var mount = SmallMount.TryCreate(1, out var reason);
        if (mount is null)
        {
            _output.WriteLine(reason);
            return;
        }

        mount.MakeReadOnly();
        var (exitCode, stdout, stderr) = await WaldenCli.RunAsync("demo", "--db", mount.File("demo.db"), "--producers", "1", "--writes", "1");

        Assert.True(exitCode == 2, $"exit {exitCode}: {stdout} {stderr}");
        Assert.Single(stderr.Trim().Split('\n'));
        WaldenCli.AssertNoRepeatedSentence(stderr);
    }
    /// <summary>
    /// An app's file whose schema needs the app's own collation (Android's LOCALIZED): the library's advice (register it with
    /// WaldenOptions.ConfigureConnection) is for code, and the tool cannot act on it; it says what the tool can do instead.
    /// </summary>
    [Theory]
    [InlineData("demo")]
    [InlineData("soak")]
    public async Task ACommandThatWrites_OnAnAppsFileThatNeedsItsCollation_SaysWhatTheToolCanDo_AndExits2(string command)
    {
        var path = _dir.File("contacts.db");
        await ForeignProgram.PythonAsync(
            "import sqlite3, sys\ncon = sqlite3.connect(sys.argv[1])\ncon.execute('PRAGMA journal_mode=WAL')\n" +
            "con.create_collation('LOCALIZED', lambda a, b: (a.lower() > b.lower()) - (a.lower() < b.lower()))\n" +
            "con.execute('CREATE TABLE contacts(_id INTEGER PRIMARY KEY, name TEXT COLLATE LOCALIZED)')\n" +
            "con.execute('CREATE INDEX contacts_name ON contacts(name COLLATE LOCALIZED)')\n" +
            "con.executemany('INSERT INTO contacts(name) VALUES (?)', [('n%d@x.org' % i,) for i in range(50)])\ncon.commit()\ncon.close()\n",
            path);
        var before = await File.ReadAllBytesAsync(path);

        var (exitCode, stdout, stderr) = command == "demo"
            ? await WaldenCli.RunAsync("demo", "--db", path, "--producers", "1", "--writes", "1")
            : await WaldenCli.RunAsync("soak", "--db", path, "--minutes", "0.01", "--producers", "1", "--readers", "1");

        Assert.True(exitCode == 2, $"exit {exitCode}: {stdout} {stderr}");
        Assert.Contains("The walden tool cannot register an application's definitions", stderr, StringComparison.Ordinal);
        Assert.DoesNotContain("connection.Create", stderr, StringComparison.Ordinal); // code, which a tool's user cannot run
        WaldenCli.AssertNoRepeatedSentence(stderr);
        Assert.Equal(before, await File.ReadAllBytesAsync(path));
    }
}
