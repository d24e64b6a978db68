using Walden.Tests.TestSupport;

namespace Walden.Tests.Faults;

/// <summary>
/// Power cuts inside the test process, through the fault VFS: the disk freezes at the N-th write (nothing after it reaches
/// a file), the database is closed, and the files are left as the page-cache model says a cut leaves them (unsynced sectors
/// kept, dropped, torn or garbled, seeded). The multi-process version is <c>walden torture --power-loss</c>.
/// </summary>
[Collection(nameof(FaultVfsCollection))]
public sealed class PowerCutTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Theory]
    [InlineData(40, 0.0, 1.0)]   // every unsynced sector lost
    [InlineData(90, 0.5, 0.5)]   // torn: half of them kept
    [InlineData(150, 0.34, 0.33)] // a third kept, a third lost, a third garbage
    [InlineData(260, 1.0, 0.0)]  // everything kept
    public async Task Full_AfterAPowerCutAtTheNthWrite_EveryAcknowledgedWriteIsThereAndTheFileIsIntact(int cutAfterWrites, double keep, double drop)
    {
        var (acknowledged, rows, integrity) = await CutAsync(WaldenDurability.Full, $"cut_after_writes={cutAfterWrites}", cutAfterWrites, keep, drop);
        Assert.Equal("ok", integrity);
        var lost = acknowledged.Where(a => !rows.Contains(a)).ToList();
        Assert.True(lost.Count == 0, $"{lost.Count} of {acknowledged.Count} acknowledged writes lost, e.g. {string.Join(", ", lost.Take(5))}");
    }

    [Theory]
    [InlineData(120)]
    [InlineData(300)]
    public async Task Normal_AfterAPowerCut_TheFileIsIntact_AndOnlyTheLastUnsyncedCommitsAreLost(int cutAfterWrites)
    {
        var (acknowledged, rows, integrity) = await CutAsync(WaldenDurability.Normal, $"cut_after_writes={cutAfterWrites}", cutAfterWrites, 0, 1);
        Assert.Equal("ok", integrity);
        // Lost writes are the newest of each producer: no gap before a write that survived.
        foreach (var producer in acknowledged.GroupBy(a => a.Producer))
        {
            var survived = producer.Where(rows.Contains).Select(a => a.Seq).DefaultIfEmpty(-1).Max();
            Assert.All(producer.Where(a => a.Seq < survived), a => Assert.Contains(a, rows));
        }
    }

    [Fact]
    public async Task TheCheckSeesLoss_WhenFsyncIsSkipped_AsSynchronousOffWould()
    {
        // The hazard: a disk (or synchronous=OFF) that acknowledges without syncing loses acknowledged writes at a cut.
        var (acknowledged, rows, _) = await CutAsync(WaldenDurability.Full, "sync=off;cut_after_writes=200", 200, 0, 1);
        Assert.Contains(acknowledged, a => !rows.Contains(a));
    }

    private async Task<(List<(int Producer, int Seq)> Acknowledged, HashSet<(int Producer, int Seq)> Rows, string Integrity)> CutAsync(
        WaldenDurability durability, string faults, int cutAfterWrites, double keep, double drop)
    {
        using var disk = new FaultDisk(_dir.Path);
        var path = _dir.File("app.db");
        var acknowledged = new List<(int, int)>();
        var db = await WaldenDatabase.OpenAsync(path, new WaldenOptions { Durability = durability });
        await using (db)
        {
            await db.WriteAsync(c => c.Exec(Sql.LogTable));
            await db.CheckpointAsync(WaldenCheckpointMode.Truncate); // under Normal, the table is durable from the first checkpoint
            disk.Set(faults);
            var outcomes = await Task.WhenAll(Enumerable.Range(0, 64).Select(producer => Task.Run(async () =>
            {
                var mine = new List<(int, int)>();
                for (var seq = 0; seq < 400; seq++)
                {
                    try
                    {
                        var s = seq;
                        await db.WriteAsync(c => Sql.Insert(c, producer, s));
                        mine.Add((producer, seq));
                    }
                    catch (WaldenException)
                    {
                        break; // the disk froze: this producer's later writes would fail too
                    }
                }

                return mine;
            })));
            foreach (var mine in outcomes)
            {
                acknowledged.AddRange(mine);
            }

            Assert.True(disk.Writes >= cutAfterWrites, $"the disk saw {disk.Writes} writes; the cut at {cutAfterWrites} never came");
        }

        disk.Clear();
        disk.PowerCut((ulong)cutAfterWrites, keep, drop);
        var reopened = await WaldenDatabase.OpenAsync(path, new WaldenOptions { IntegrityCheck = WaldenIntegrityCheck.Full });
        await using (reopened)
        {
            var (integrity, rows) = await reopened.ReadAsync(c =>
            {
                using var check = c.CreateCommand();
                check.CommandText = "PRAGMA integrity_check";
                var verdict = (string)check.ExecuteScalar()!;
                using var select = c.CreateCommand();
                select.CommandText = "SELECT producer, seq FROM log";
                using var reader = select.ExecuteReader();
                var present = new HashSet<(int, int)>();
                while (reader.Read())
                {
                    present.Add((reader.GetInt32(0), reader.GetInt32(1)));
                }

                return (verdict, present);
            });
            return (acknowledged, rows, integrity);
        }
    }
}
