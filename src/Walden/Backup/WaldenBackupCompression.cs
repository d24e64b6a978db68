namespace Walden;

/// <summary>How a backup copy is stored on disk.</summary>
public enum WaldenBackupCompression
{
    /// <summary>The copy is a plain SQLite file that opens as it is.</summary>
    None = 0,

    /// <summary>The copy is compressed with gzip (<c>.gz</c>; readable by <c>gunzip</c>).</summary>
    GZip = 1,

    /// <summary>The copy is compressed with Brotli (<c>.br</c>; smaller than gzip, slower to write).</summary>
    Brotli = 2,
}
