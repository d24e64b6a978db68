using Walden.Tests.TestSupport;
using static Walden.Tests.Archiving.ArchiveChecks;

namespace Walden.Tests.Archiving;

/// <summary>
/// A restore asked for a moment the archive cannot reach (before its first moment, after its last transaction, in a run of
/// transactions it holds only inside a later base, or in the unknown time between two bases) is refused before anything is
/// built, naming the moments it can reach; nothing is written.
/// </summary>
public sealed class ArchiveRestoreTargetTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private string Archive => _dir.File("archive");

    /// <summary>An archive of one base and a few transactions; returns its first and last transaction and their times.</summary>
    private async Task<(long First, long Last, DateTimeOffset FirstTime, DateTimeOffset LastTime)> OneBaseAsync()
    {
        Directory.CreateDirectory(Archive);
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 30, 12, 0, 0, TimeSpan.Zero));
        await using (var db = await WaldenDatabase.OpenAsync(_dir.File("app.db"), Options(WaldenArchiveMode.Sync, new WaldenFolderDestination(Archive), time)))
        {
            await db.WriteAsync(c => c.Exec("CREATE TABLE t(a)"));
            for (var i = 0; i < 5; i++)
            {
                time.Advance(TimeSpan.FromSeconds(1));
                await Insert(db, i);
            }
        }

        var status = await WaldenArchive.GetStatusAsync(Archive);
        var only = Assert.Single(status.Bases);
        return (only.Txid, only.LastTxid, only.Time, only.LastTime);
    }

    public static TheoryData<string> OutsideTxids => ["0", "-1", "min", "last+1", "max"];

    [Theory]
    [MemberData(nameof(OutsideTxids))]
    public async Task Restore_OfATxidOutsideTheArchive_IsRefusedNamingTheFirstAndLastRestorableTransactions_AndWritesNothing(string which)
    {
        var (first, last, _, _) = await OneBaseAsync();
        var txid = which switch
        {
            "min" => long.MinValue,
            "max" => long.MaxValue,
            "last+1" => last + 1,
            _ => long.Parse(which, System.Globalization.CultureInfo.InvariantCulture),
        };
        var output = _dir.File("out.db");

        var error = await Assert.ThrowsAsync<WaldenArchiveException>(() =>
            WaldenArchive.RestoreAsync(Archive, output, new WaldenArchiveRestoreOptions { Txid = txid }));

        Assert.Contains($"transactions {first}..{last}", error.Message, StringComparison.Ordinal);
        Assert.Contains($"Ask for a transaction from {first} to {last}", error.Message, StringComparison.Ordinal);
        Assert.Contains("Nothing was written", error.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dir.Path, "out.db*"));
    }

    public static TheoryData<string> EarlyTimes => ["tick", "day", "min"];

    [Theory]
    [MemberData(nameof(EarlyTimes))]
    public async Task Restore_AtATimeBeforeTheFirstRestorableMoment_IsRefusedNamingTheFirstAndLastMoments_AndWritesNothing(string which)
    {
        var (first, last, firstTime, lastTime) = await OneBaseAsync();
        var at = which switch
        {
            "tick" => firstTime.AddTicks(-10),
            "day" => firstTime.AddDays(-1),
            _ => DateTimeOffset.MinValue,
        };

        var error = await Assert.ThrowsAsync<WaldenArchiveException>(() =>
            WaldenArchive.RestoreAsync(Archive, _dir.File("out.db"), new WaldenArchiveRestoreOptions { At = at }));

        Assert.Contains("before the first restorable moment", error.Message, StringComparison.Ordinal);
        Assert.Contains($"{first}..{last} (from {firstTime:O} to {lastTime:O})", error.Message, StringComparison.Ordinal);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dir.Path, "out.db*"));
    }

    [Theory]
    [InlineData("--txid", "0")]
    [InlineData("--txid", "-3")]
    [InlineData("--txid", "abc")]
    [InlineData("--txid", "1.5")]
    [InlineData("--txid", "99999999")]
    [InlineData("--at", "yesterday")]
    [InlineData("--at", "2020-01-01T00:00:00Z")]
    [InlineData("--at", "11/30/2026 12:00:03")] // inside the archive's span, but not ISO-8601: it restored
    [InlineData("--at", "Nov 30 2026 12:00:03")]
    public async Task RestoreCommand_OfAMomentItCannotReachOrRead_SaysTheFirstAndLastRestorableTransactions_AndWritesNothing(string option, string value)
    {
        var (first, last, _, _) = await OneBaseAsync();
        var output = _dir.File("out.db");

        var (exitCode, _, stderr) = await WaldenCli.RunAsync("restore", Archive, output, option, value);

        Assert.Equal(2, exitCode);
        Assert.DoesNotContain("System.", stderr, StringComparison.Ordinal);
        Assert.Matches($"{first}( to |\\.\\.){last}", stderr);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dir.Path, "out.db*"));
    }

    [Theory]
    [InlineData("2026-11-30T12:00:03")] // no offset: UTC
    [InlineData("2026-11-30T13:00:03+01:00")]
    [InlineData("2026-11-30T12:00:03.000Z")]
    public async Task RestoreCommand_AtAnIsoMoment_RestoresTheStateThen(string at)
    {
        await OneBaseAsync();
        var output = _dir.File("out.db");

        var (exitCode, stdout, stderr) = await WaldenCli.RunAsync("restore", Archive, output, "--at", at, "--json");

        Assert.True(exitCode == 0, stderr);
        using var json = System.Text.Json.JsonDocument.Parse(stdout);
        Assert.Equal(new DateTimeOffset(2026, 11, 30, 12, 0, 3, TimeSpan.Zero), json.RootElement.GetProperty("time").GetDateTimeOffset());
    }

    /// <summary>
    /// Two bases with transactions the archive never took one by one between them: a destination that was gone for more than
    /// MaxPendingBytes (the pending commits are dropped and a new base takes them), or another program that committed while
    /// the database was closed (its commit is only in the base the next open takes).
    /// </summary>
    private async Task<(long LastOfFirst, DateTimeOffset LastOfFirstTime, long NextBase, DateTimeOffset NextBaseTime)> TwoBasesAsync(string kind)
    {
        Directory.CreateDirectory(Archive);
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 11, 30, 12, 0, 0, TimeSpan.Zero));
        var path = _dir.File("app.db");
        var options = Options(WaldenArchiveMode.Async, new WaldenFolderDestination(Archive), time);
        options.Archive.MaxPendingBytes = 1L << 20;
        await using (var db = await WaldenDatabase.OpenAsync(path, options))
        {
            await db.WriteAsync(c => c.Exec("CREATE TABLE t(a, b)"));
            for (var i = 0; i < 3; i++)
            {
                time.Advance(TimeSpan.FromSeconds(1));
                await db.WriteAsync(c => c.Exec($"INSERT INTO t(a) VALUES ({i})"));
            }

            Assert.Null(db.Archiver!.ShipAll());
            if (kind == "destination gone")
            {
                Directory.Move(Archive, Archive + ".away");
                for (var i = 0; i < 12; i++)
                {
                    time.Advance(TimeSpan.FromSeconds(1));
                    await db.WriteAsync(c => c.Exec($"INSERT INTO t(a, b) VALUES ({100 + i}, randomblob(200000))"));
                    db.Archiver!.ShipAll();
                }

                Directory.Move(Archive + ".away", Archive);
                time.Advance(TimeSpan.FromSeconds(10));
                await db.WriteAsync(c => c.Exec("INSERT INTO t(a) VALUES (200)"));
                Assert.Null(db.Archiver!.ShipAll());
            }
        }

        if (kind == "foreign commit while closed")
        {
            using (var foreign = Sql.OpenDirect(path))
            {
                foreign.Exec("INSERT INTO t(a) VALUES (300)");
            }

            time.Advance(TimeSpan.FromSeconds(10));
            ForgetPageMap(path); // a base at open (ArchiveContinueTests has the continued chain's own window)
            await using var db = await WaldenDatabase.OpenAsync(path, options);
            time.Advance(TimeSpan.FromSeconds(1));
            await db.WriteAsync(c => c.Exec("INSERT INTO t(a) VALUES (301)"));
        }

        var status = await WaldenArchive.GetStatusAsync(Archive);
        Assert.Equal(2, status.Bases.Count);
        return (status.Bases[0].LastTxid, status.Bases[0].LastTime, status.Bases[1].Txid, status.Bases[1].Time);
    }

    [Fact]
    public async Task Restore_OfATxidHeldOnlyInsideALaterBase_IsRefusedNamingTheNearestRestorableMoments_WhichBothRestore()
    {
        var (lastOfFirst, lastOfFirstTime, nextBase, nextBaseTime) = await TwoBasesAsync("destination gone");
        Assert.True(nextBase > lastOfFirst + 2, $"no gap: {lastOfFirst} then base {nextBase}");

        foreach (var txid in new[] { lastOfFirst + 1, (lastOfFirst + nextBase) / 2, nextBase - 1 })
        {
            var error = await Assert.ThrowsAsync<WaldenArchiveException>(() =>
                WaldenArchive.RestoreAsync(Archive, _dir.File("gap.db"), new WaldenArchiveRestoreOptions { Txid = txid }));
            Assert.Contains($"transaction {lastOfFirst} (committed {lastOfFirstTime:O})", error.Message, StringComparison.Ordinal);
            Assert.Contains($"transaction {nextBase} (the base taken at {nextBaseTime:O})", error.Message, StringComparison.Ordinal);
            Assert.Empty(Directory.EnumerateFileSystemEntries(_dir.Path, "gap.db*"));
        }

        foreach (var txid in new[] { lastOfFirst, nextBase })
        {
            var result = await WaldenArchive.RestoreAsync(Archive, _dir.File($"near-{txid}.db"), new WaldenArchiveRestoreOptions { Txid = txid });
            Assert.True(result.Complete, result.Problem);
            Assert.Equal(txid, result.Txid);
        }
    }

    [Theory]
    [InlineData("destination gone")]
    [InlineData("foreign commit while closed")]
    public async Task Restore_AtATimeBetweenTwoBases_IsRefusedAsUnknown_NotAnsweredWithAStateThatMayMissACommit(string kind)
    {
        var (lastOfFirst, lastOfFirstTime, nextBase, nextBaseTime) = await TwoBasesAsync(kind);

        foreach (var at in new[] { lastOfFirstTime.AddTicks(10), lastOfFirstTime + ((nextBaseTime - lastOfFirstTime) / 2), nextBaseTime.AddTicks(-10) })
        {
            var error = await Assert.ThrowsAsync<WaldenArchiveException>(() =>
                WaldenArchive.RestoreAsync(Archive, _dir.File("between.db"), new WaldenArchiveRestoreOptions { At = at }));
            Assert.Contains($"transaction {lastOfFirst} ({lastOfFirstTime:O}) and transaction {nextBase} ({nextBaseTime:O})", error.Message,
                StringComparison.Ordinal);
            Assert.Empty(Directory.EnumerateFileSystemEntries(_dir.Path, "between.db*"));
        }

        var after = await WaldenArchive.RestoreAsync(Archive, _dir.File("after.db"), new WaldenArchiveRestoreOptions { At = nextBaseTime });
        Assert.True(after.Complete, after.Problem);
        if (kind == "foreign commit while closed")
        {
            Assert.Equal(1, Count(_dir.File("after.db"), "t WHERE a = 300"));
        }
    }

    /// <summary>
    /// A segment of the OLDER base damaged: the latest state restores, so a verification that only restores it said "ok"
    /// while every restore to a moment in that base's span failed (and status listed those moments as restorable). Verify on
    /// demand now checks every chain and says which transactions no point-in-time restore can reach; exit 1.
    /// </summary>
    [Fact]
    public async Task Verify_OfAnArchiveWhoseOlderBaseHasADamagedSegment_SaysThePointInTimeHistoryIsDamaged()
    {
        var (lastOfFirst, _, _, _) = await TwoBasesAsync("foreign commit while closed");
        var whole = await WaldenArchive.VerifyAsync(Archive);
        Assert.True(whole.Complete, whole.Problem);
        Assert.Empty(whole.HistoryProblems);

        var oldest = Directory.EnumerateDirectories(Archive).Where(d => long.TryParse(Path.GetFileName(d), out _)).Order(StringComparer.Ordinal).First();
        var segment = Directory.EnumerateFiles(oldest, "*.wseg").Order(StringComparer.Ordinal).First();
        var bytes = await File.ReadAllBytesAsync(segment);
        bytes[bytes.Length / 2] ^= 0x01;
        await File.WriteAllBytesAsync(segment, bytes);

        var result = await WaldenArchive.VerifyAsync(Archive);
        Assert.True(result.Complete, result.Problem); // the latest state is sound
        var problem = Assert.Single(result.HistoryProblems);
        Assert.Contains(Path.GetFileName(segment), problem, StringComparison.Ordinal);
        Assert.Contains("cannot be restored to by point in time", problem, StringComparison.Ordinal);
        Assert.False((await WaldenArchive.RestoreAsync(Archive, _dir.File("older.db"), new WaldenArchiveRestoreOptions { Txid = lastOfFirst })).Complete);

        var (exit, _, stderr) = await WaldenCli.RunAsync("archive", "verify", Archive);
        Assert.Equal(1, exit);
        Assert.Contains("point-in-time history is damaged", stderr, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("a byte flipped in its middle")]
    [InlineData("cut short")]
    [InlineData("its header overwritten")]
    [InlineData("removed, its segments left")]
    public async Task Restore_WhenTheNewestBaseIsUnusable_IsNotCompleteFromTheOlderBase_AndNamesIt(string how)
    {
        var (lastOfFirst, _, nextBase, _) = await TwoBasesAsync("foreign commit while closed");
        var newest = Directory.EnumerateDirectories(Archive).Order(StringComparer.Ordinal).Last();
        var file = Path.Combine(newest, "base.wbase");
        var bytes = await File.ReadAllBytesAsync(file);
        switch (how)
        {
            case "a byte flipped in its middle":
                bytes[bytes.Length / 2] ^= 0xFF;
                await File.WriteAllBytesAsync(file, bytes);
                break;
            case "cut short":
                await File.WriteAllBytesAsync(file, bytes[..(bytes.Length / 2)]);
                break;
            case "its header overwritten":
                Array.Clear(bytes, 0, 64);
                await File.WriteAllBytesAsync(file, bytes);
                break;
            default:
                File.Delete(file);
                break;
        }

        var latest = await WaldenArchive.RestoreAsync(Archive, _dir.File("latest.db"));
        Assert.False(latest.Complete, "an older state restored as the latest");
        Assert.Contains(Path.GetFileName(newest), latest.Problem, StringComparison.Ordinal);
        Assert.True(latest.Txid < nextBase);
        Assert.False((await WaldenArchive.VerifyAsync(Archive)).Complete);

        var older = await WaldenArchive.RestoreAsync(Archive, _dir.File("older.db"), new WaldenArchiveRestoreOptions { Txid = lastOfFirst });
        Assert.True(older.Complete, older.Problem);
        Assert.Equal(lastOfFirst, older.Txid);
    }

    [Fact]
    public async Task ARestoreKilledBeforeItsEnd_LeavesNoOutput_AndTheNextRestoreRemovesItsScratchFile()
    {
        await OneBaseAsync();
        var output = _dir.File("out.db");

        await WaldenCli.KillAtAsync("archive-restore-built", new Dictionary<string, string>(), "restore", Archive, output);
        Assert.False(File.Exists(output));
        Assert.NotEmpty(Directory.EnumerateFileSystemEntries(_dir.Path, ".out.db.restoring-*")); // the killed one's scratch file

        var (exitCode, stdout, stderr) = await WaldenCli.RunAsync("restore", Archive, output);

        Assert.True(exitCode == 0, stdout + stderr);
        Assert.Empty(Directory.EnumerateFileSystemEntries(_dir.Path, ".out.db*"));
        Assert.Equal(5, Count(output));
    }
}
