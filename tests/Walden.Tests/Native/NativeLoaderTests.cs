using Walden.Native;

namespace Walden.Tests.Native;

public sealed class NativeLoaderTests
{
    /// <summary>The stock library of the SQLite package, beside every Walden application (the fallback; what Microsoft.Data.Sqlite 11 brings).</summary>
    internal static string StockLibraryPath => Path.Combine(AppContext.BaseDirectory, "runtimes", "linux-x64", "native", "libe_sqlite3.so");

    [Fact]
    public void Walden_LoadsItsOwnBuildByFullPath_EvenWithAStockLibeSqlite3InTheApplication()
    {
        Assert.True(File.Exists(StockLibraryPath), $"the SQLite package's stock library should be in the output: {StockLibraryPath}");
        Assert.NotNull(NativeLoader.WaldenPath);
        Assert.True(Path.IsPathFullyQualified(NativeLoader.WaldenPath));
        Assert.Equal(NativeLoader.WaldenFileName, Path.GetFileName(NativeLoader.WaldenPath));

        // The file SQLitePCLRaw's calls really go to (found from the address of the version string) is Walden's.
        Assert.Equal(NativeLoader.WaldenPath, SqliteLibrary.LoadedPath);
        Assert.True(SqliteLibrary.IsWaldenBuild);
        Assert.Empty(SqliteLibrary.MissingFeatures());
        Assert.Contains("Walden's build", SqliteLibrary.Description, StringComparison.Ordinal);
    }

    [Fact]
    public void ProcessMaps_FindsTheFileHoldingAnAddress()
    {
        var maps = ProcessMaps.Parse([
            "7f0000000000-7f0000001000 r--p 00000000 08:01 123 /usr/lib/libwalden_sqlite3.so",
            "7f0000001000-7f0000002000 rw-p 00000000 00:00 0 ",
            "7f0000002000-7f0000003000 r-xp 00001000 08:01 124 /opt/app/runtimes/linux-x64/native/libe_sqlite3.so",
            "7ffd00000000-7ffd00001000 rw-p 00000000 00:00 0 [stack]",
        ]);

        Assert.Equal(2, maps.Count);
        Assert.Equal("/usr/lib/libwalden_sqlite3.so", ProcessMaps.FileAt(maps, 0x7f0000000800));
        Assert.Null(ProcessMaps.FileAt(maps, 0x7f0000001800));
        Assert.Equal("/opt/app/runtimes/linux-x64/native/libe_sqlite3.so", ProcessMaps.FileAt(maps, 0x7f0000002000));
    }
}
