using Walden.Tests.TestSupport;

namespace Walden.Tests.CrossProcess;

public sealed class CrossProcessWriteTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public async Task TwoChildProcessesAndThisOne_WriteOneFileConcurrently_WithoutBusyErrorsOrLostRows()
    {
        const int Producers = 8;
        const int Writes = 300;
        var path = _dir.File("shared.db");
        await using (var setup = await WaldenDatabase.OpenAsync(path))
        {
            await setup.WriteAsync(c => c.Exec(Walden.Cli.Commands.DemoCommand.Schema));
        }

        var children = new[] { "child-1", "child-2" }.Select(source => WaldenCli.RunAsync(
            "demo", "--db", path, "--producers", $"{Producers}", "--writes", $"{Writes}", "--source", source, "--json")).ToList();

        await using (var db = await WaldenDatabase.OpenAsync(path))
        {
            var mine = Enumerable.Range(0, Producers).Select(p => Task.Run(async () =>
            {
                for (var s = 0; s < Writes; s++)
                {
                    var seq = s;
                    await db.WriteAsync(c =>
                    {
                        var insert = c.GetCachedCommand("INSERT INTO demo_log(source, producer, seq, ts, body) VALUES ('parent', $p, $s, 0, 'x')");
                        insert.Parameters.AddWithValue("$p", p);
                        insert.Parameters.AddWithValue("$s", seq);
                        return insert.ExecuteNonQuery();
                    });
                }
            }));
            await Task.WhenAll(mine); // any WaldenBusyException would surface here
        }

        foreach (var child in await Task.WhenAll(children))
        {
            Assert.True(child.ExitCode == 0, $"child failed ({child.ExitCode}): {child.Stderr}{child.Stdout}");
        }

        using var check = Sql.OpenDirect(path);
        foreach (var source in new[] { "parent", "child-1", "child-2" })
        {
            Assert.Equal(Producers * Writes, check.Scalar<long>($"SELECT count(*) FROM demo_log WHERE source = '{source}'"));
            Assert.Equal(Producers * Writes, check.Scalar<long>($"SELECT count(*) FROM (SELECT DISTINCT producer, seq FROM demo_log WHERE source = '{source}')"));
        }

        Assert.Equal("ok", check.Scalar<string>("PRAGMA integrity_check"));
    }
}
