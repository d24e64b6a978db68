using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;
using Walden.Native;
using Walden.Tests.TestSupport;

namespace Walden.Tests.Native;

/// <summary>Loads a second SQLite into the test process, so it runs alone, after the parallel tests.</summary>
[CollectionDefinition(nameof(SecondSqliteCollection), DisableParallelization = true)]
public sealed class SecondSqliteCollection
{
}

[Collection(nameof(SecondSqliteCollection))]
public sealed class SqliteNeighboursTests
{
    [Fact]
    public async Task OpenAsync_WhenAnotherSqliteLibraryIsLoaded_WarnsNamingBothVersions()
    {
        using var dir = new TempDirectory();
        using var stock = StockSqlite.Load();
        var logs = new ListLoggerFactory();

        await using (var database = await WaldenDatabase.OpenAsync(dir.File("app.db"), new WaldenOptions { LoggerFactory = logs }))
        {
            var health = database.GetHealth();
            Assert.Equal(WaldenHealthStatus.Degraded, health.Status);
            Assert.Contains(health.Reasons, r => r.Contains("Another SQLite library is loaded", StringComparison.Ordinal) &&
                r.Contains(stock.Version, StringComparison.Ordinal));
        }

        var warning = Assert.Single(logs.Lines, line => line.EventId.Id == 1700);
        Assert.Equal(LogLevel.Warning, warning.Level);
        Assert.Contains("SQLite 3.54.1", warning.Message, StringComparison.Ordinal);
        Assert.Contains($"SQLite {stock.Version}", warning.Message, StringComparison.Ordinal);
        Assert.Contains(NativeLoaderTests.StockLibraryPath, warning.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task OpenAsync_WhenAnotherSqliteLibraryHasTheFileOpen_Refuses()
    {
        using var dir = new TempDirectory();
        var path = dir.File("shared.db");
        using var stock = StockSqlite.Load();
        var other = stock.Open(path); // the other library holds the file, as an EF Core context of the same application would
        try
        {
            var error = await Assert.ThrowsAsync<WaldenConfigurationException>(() => WaldenDatabase.OpenAsync(path));
            Assert.Contains("two SQLite libraries are loaded", error.Message, StringComparison.Ordinal);
            Assert.Contains(stock.Version, error.Message, StringComparison.Ordinal);
            Assert.Contains("3.54.1", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            stock.Close(other);
        }

        // Once the other library let go of the file, Walden opens it (and only warns).
        await using var database = await WaldenDatabase.OpenAsync(path);
    }

    [Fact]
    public void Find_SeesOnlyWaldensLibrary_WhenNoOtherIsLoaded() =>
        Assert.DoesNotContain(SqliteNeighbours.Find(), library => library.Path == SqliteLibrary.LoadedPath);

    /// <summary>The stock libe_sqlite3.so, loaded and called through its own exports (never through SQLitePCLRaw).</summary>
    private sealed unsafe class StockSqlite : IDisposable
    {
        private readonly IntPtr _handle;

        private StockSqlite(IntPtr handle)
        {
            _handle = handle;
            var libversion = (delegate* unmanaged[Cdecl]<IntPtr>)NativeLibrary.GetExport(handle, "sqlite3_libversion");
            Version = Marshal.PtrToStringUTF8(libversion())!;
        }

        public string Version { get; }

        public static StockSqlite Load() => new(NativeLibrary.Load(NativeLoaderTests.StockLibraryPath));

        public IntPtr Open(string path)
        {
            var open = (delegate* unmanaged[Cdecl]<byte*, IntPtr*, int, IntPtr, int>)NativeLibrary.GetExport(_handle, "sqlite3_open_v2");
            var exec = (delegate* unmanaged[Cdecl]<IntPtr, byte*, IntPtr, IntPtr, IntPtr, int>)
                NativeLibrary.GetExport(_handle, "sqlite3_exec");
            IntPtr db;
            var name = System.Text.Encoding.UTF8.GetBytes(path + "\0");
            var sql = "PRAGMA journal_mode=WAL; CREATE TABLE IF NOT EXISTS t(x);\0"u8.ToArray();
            fixed (byte* n = name)
            fixed (byte* s = sql)
            {
                Assert.Equal(0, open(n, &db, 0x02 | 0x04, IntPtr.Zero)); // SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE
                Assert.Equal(0, exec(db, s, IntPtr.Zero, IntPtr.Zero, IntPtr.Zero));
            }

            return db;
        }

        public void Close(IntPtr db) =>
            ((delegate* unmanaged[Cdecl]<IntPtr, int>)NativeLibrary.GetExport(_handle, "sqlite3_close_v2"))(db);

        public void Dispose() => NativeLibrary.Free(_handle);
    }
}
