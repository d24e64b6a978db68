using System.Security.Cryptography;
using Walden.Archiving;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Archiving;

/// <summary>
/// The page map is updated in place (its changed entries, then its header) after every round; a kill between the two left
/// a map whose entries did not match its header, and the next open took a whole base (`walden torture --archive async`,
/// seed 1345920932, cycle 113). The update's journal, written first in one write, completes it at the next load.
/// </summary>
public sealed class PageMapJournalTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static PageMap MapOf(int pages)
    {
        var map = PageMap.Empty(4096);
        for (uint page = 1; page <= pages; page++)
        {
            map.Set(page, (UInt128)page * 7919);
        }

        map.At(1796200000, 100, RandomNumberGenerator.GetBytes(32));
        return map;
    }

    [Theory]
    [InlineData(0)] // no entry written yet: the old state, whole
    [InlineData(1)] // some entries written, not the header
    [InlineData(3)] // every entry written, not the header
    public void AnUpdateInPlaceCutShortBeforeItsHeader_IsCompletedFromItsJournal(int entriesWritten)
    {
        var path = _dir.File("pages");
        var map = MapOf(200);
        map.Save(path); // whole, by rename
        var before = File.ReadAllBytes(path);

        var newChain = RandomNumberGenerator.GetBytes(32);
        uint[] changed = [5, 6, 150];
        foreach (var page in changed)
        {
            map.Set(page, (UInt128)page * 104729);
        }

        map.At(map.BaseId, 101, newChain);
        map.Save(path); // in place, with its journal
        var after = File.ReadAllBytes(path);

        // The kill: the old file with only the first entriesWritten changed entries of the new one, and the old header.
        var torn = (byte[])before.Clone();
        foreach (var page in changed.Take(entriesWritten))
        {
            Array.Copy(after, 128 + ((page - 1) * 16), torn, 128 + ((page - 1) * 16), 16);
        }

        File.WriteAllBytes(path, torn);
        var loaded = PageMap.TryLoad(path, out var why);
        Assert.True(loaded is not null, why);
        if (entriesWritten == 0)
        {
            Assert.Equal(100, loaded.Txid); // whole as it was: the map before the update, which the pages in flight follow
            Assert.Equal((UInt128)5 * 7919, loaded.Digest(5));
            return;
        }

        Assert.Equal(101, loaded.Txid);
        Assert.Equal(newChain, loaded.Chain);
        foreach (var page in changed)
        {
            Assert.Equal((UInt128)page * 104729, loaded.Digest(page));
        }

        Assert.Equal((UInt128)7 * 7919, loaded.Digest(7));
    }

    [Fact]
    public void ATornUpdateWithADamagedJournal_IsNotTrusted()
    {
        var path = _dir.File("pages");
        var map = MapOf(50);
        map.Save(path);
        var before = File.ReadAllBytes(path);
        map.Set(9, 1);
        map.At(map.BaseId, 101, RandomNumberGenerator.GetBytes(32));
        map.Save(path);
        var after = File.ReadAllBytes(path);

        var torn = (byte[])before.Clone();
        Array.Copy(after, 128 + (8 * 16), torn, 128 + (8 * 16), 16);
        File.WriteAllBytes(path, torn);
        var journal = File.ReadAllBytes(path + PageMap.JournalSuffix);
        journal[^20] ^= 1;
        File.WriteAllBytes(path + PageMap.JournalSuffix, journal);

        Assert.Null(PageMap.TryLoad(path, out var why));
        Assert.Contains("do not match its header", why, StringComparison.Ordinal);
    }

    /// <summary>
    /// A torn update completed from its journal at load, then the next round's save, then a load: the file itself was
    /// still torn after the first load (only the map in memory was mended), the next update in place wrote only its own
    /// entries over it and its journal replaced the first, so the load after it found the entries not matching and the
    /// open took a whole base (`walden torture --archive async`, seed 1386912576, cycle 52). Fails without the whole
    /// rewrite after a replay.
    /// </summary>
    [Fact]
    public void AMapCompletedFromItsJournal_ThenSavedAgain_LoadsWhole()
    {
        var path = _dir.File("pages");
        var map = MapOf(200);
        map.Save(path);
        var before = File.ReadAllBytes(path);
        map.Set(5, 11);
        map.Set(150, 12);
        map.At(map.BaseId, 101, RandomNumberGenerator.GetBytes(32));
        map.Save(path);
        var after = File.ReadAllBytes(path);
        var torn = (byte[])before.Clone();
        Array.Copy(after, 128 + (4 * 16), torn, 128 + (4 * 16), 16); // page 5 written, page 150 and the header not
        File.WriteAllBytes(path, torn);

        var loaded = PageMap.TryLoad(path, out var why);
        Assert.True(loaded is not null, why);
        loaded.Set(7, 13); // the next round, another page
        loaded.At(loaded.BaseId, 102, RandomNumberGenerator.GetBytes(32));
        loaded.Save(path);

        var again = PageMap.TryLoad(path, out why);
        Assert.True(again is not null, why);
        Assert.Equal(102, again.Txid);
        Assert.Equal((UInt128)12, again.Digest(150));
        Assert.Equal((UInt128)13, again.Digest(7));
    }
}
