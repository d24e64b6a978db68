using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Serialization;
using Walden.Native;

namespace Walden.Backup;

/// <summary>
/// Names, permissions and manifests of backup files. Everything here touches only Walden's own
/// copies (never a live database), so reading, hashing and deleting them outside SQLite is safe.
/// </summary>
internal static class BackupFiles
{
    internal const string ManifestSuffix = ".json";
    internal const string PartialSuffix = ".partial";

    internal const UnixFileMode OwnerOnlyFile = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode OwnerOnlyFolder = OwnerOnlyFile | UnixFileMode.UserExecute;

    internal static string ManifestPathOf(string backupPath) => backupPath + ManifestSuffix;

    internal static string Extension(WaldenBackupCompression compression) => compression switch
    {
        WaldenBackupCompression.GZip => ".gz",
        WaldenBackupCompression.Brotli => ".br",
        _ => "",
    };

    /// <summary>
    /// Creates the backup folder owner-only (0700) when it does not exist (<paramref name="created"/>); an existing one keeps its mode.
    /// A folder named like a database's -wal, -shm or -journal is refused before anything is created.
    /// </summary>
    internal static string EnsureFolder(string directory, out bool created)
    {
        var full = Path.GetFullPath(directory);
        created = false;
        Files.LinkPath.EnsureResolvable(full); // a loop would read as "is a file" below
        if (File.Exists(full))
        {
            throw new WaldenConfigurationException($"The backup folder '{full}' is a file. Pass a folder (it is created if missing).");
        }

        if (Files.DatabaseFiles.FolderCompanionProblem(full, "The backup folder") is { } companion)
        {
            throw new WaldenConfigurationException(companion);
        }

        if (!Directory.Exists(full))
        {
            created = true;
            if (OperatingSystem.IsWindows())
            {
                Directory.CreateDirectory(full);
            }
            else
            {
                Directory.CreateDirectory(full, OwnerOnlyFolder);
            }
        }

        return full;
    }

    /// <summary>
    /// After a failed backup: removes <paramref name="folder"/> when this run created it and nothing is in it (the partial copy and
    /// its owner file are already gone), so a failure leaves the user's folder as it was. A folder with anything in it stays.
    /// </summary>
    internal static void RemoveCreatedIfEmpty(string folder)
    {
        try
        {
            if (Directory.Exists(folder) && !Directory.EnumerateFileSystemEntries(folder).Any())
            {
                Directory.Delete(folder);
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // Left as it is: the failure being reported matters more than an empty folder.
        }
    }

    /// <summary>
    /// Whether <paramref name="path"/> is named as <see cref="NewBackupPath"/> names copies (<c>&lt;name&gt;-&lt;UTC time&gt;.db</c>,
    /// compressed or partial): a copy Walden took, even when its manifest is missing.
    /// </summary>
    internal static bool IsBackupName(string path) =>
        System.Text.RegularExpressions.Regex.IsMatch(Path.GetFileName(path), @"^.+-[0-9]{8}T[0-9]{6}Z(-[0-9]+)?\.db(\.gz|\.br)?(\.partial)?$",
            System.Text.RegularExpressions.RegexOptions.CultureInvariant);

    /// <summary>
    /// A new, unused base name for a copy of <paramref name="source"/>: <c>&lt;name&gt;-&lt;UTC time&gt;.db</c>,
    /// with a counter when two copies are taken in the same second.
    /// </summary>
    internal static string NewBackupPath(string folder, string source, DateTimeOffset now, WaldenBackupCompression compression)
    {
        var stem = Path.GetFileNameWithoutExtension(source);
        var stamp = now.UtcDateTime.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture);
        var extension = Extension(compression);
        for (var n = 1; ; n++)
        {
            var name = n == 1 ? $"{stem}-{stamp}.db" : $"{stem}-{stamp}-{n}.db";
            var candidate = Path.Combine(folder, name);
            if (!File.Exists(candidate) && !File.Exists(candidate + extension) && !File.Exists(candidate + PartialSuffix)
                && !File.Exists(ManifestPathOf(candidate + extension)))
            {
                return candidate;
            }
        }
    }

    internal static FileStreamOptions OwnerOnlyOptions(FileMode mode, FileAccess access)
    {
        var options = new FileStreamOptions { Mode = mode, Access = access, Share = FileShare.None, BufferSize = 1 << 16 };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = OwnerOnlyFile;
        }

        return options;
    }

    /// <summary>Forces a file of Walden's own to disk.</summary>
    internal static void Fsync(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.None);
        stream.Flush(flushToDisk: true);
    }

    internal static string Sha256(string path, CancellationToken cancellationToken)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan);
        return Hex(SHA256.HashData(new CancellingStream(stream, cancellationToken)));
    }

    internal static string Hex(byte[] hash) => Convert.ToHexStringLower(hash);

    /// <summary>
    /// Writes the manifest last, through a temporary file, fsync and rename, so a crash leaves either no
    /// manifest (an unverified copy) or a complete one, never a half-written one.
    /// </summary>
    internal static void WriteManifest(WaldenBackup backup)
    {
        var manifest = ManifestPathOf(backup.Path);
        var temp = manifest + ".tmp";
        using (var stream = new FileStream(temp, OwnerOnlyOptions(FileMode.Create, FileAccess.Write)))
        {
            JsonSerializer.Serialize(stream, backup, BackupManifestJson.Default.WaldenBackup);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temp, manifest, overwrite: true);
        Posix.FsyncDirectory(Path.GetDirectoryName(manifest)!);
    }

    /// <summary>Reads a manifest; null when it is missing or unreadable (then the copy is unverified).</summary>
    internal static WaldenBackup? ReadManifest(string manifestPath, out string? problem)
    {
        problem = null;
        if (!File.Exists(manifestPath))
        {
            problem = "it has no manifest, so it was never verified (an interrupted or failed copy)";
            return null;
        }

        try
        {
            using var stream = File.OpenRead(manifestPath);
            var backup = JsonSerializer.Deserialize(stream, BackupManifestJson.Default.WaldenBackup);
            if (backup is null || string.IsNullOrEmpty(backup.File) || backup.IntegrityCheck != "ok")
            {
                problem = $"its manifest '{manifestPath}' is incomplete";
                return null;
            }

            // The copy is the file the manifest sits beside, whatever its "file" says: a copy renamed with its manifest keeps
            // its own name, and a manifest naming '../app.db' (edited, or another tool's) must never send listing, restore or
            // pruning out of the folder, onto a live database. Its checksum is what ties the manifest to the copy.
            var copy = manifestPath[..^ManifestSuffix.Length];
            return backup with { Path = copy, File = Path.GetFileName(copy) };
        }
        catch (JsonException ex)
        {
            problem = $"its manifest '{manifestPath}' cannot be read: {ex.Message}";
            return null;
        }
    }

    /// <summary>Whether a file is a temporary copy of Walden's (a .partial, with any -journal, -wal or -shm SQLite gave it).</summary>
    internal static bool IsPartial(string path)
    {
        var name = Path.GetFileName(path);
        return new[] { "", "-journal", "-wal", "-shm" }.Any(companion => name.EndsWith(PartialSuffix + companion, StringComparison.Ordinal));
    }

    /// <summary>Deletes a file of Walden's own if it exists (a failed copy, a pruned backup).</summary>
    internal static void DeleteOwn(string path)
    {
        if (File.Exists(path))
        {
            File.Delete(path);
        }
    }

    /// <summary>Lets a long hash or copy stop when cancelled.</summary>
    private sealed class CancellingStream(Stream inner, CancellationToken cancellationToken) : Stream
    {
        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => false;

        public override long Length => inner.Length;

        public override long Position { get => inner.Position; set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count)
        {
            cancellationToken.ThrowIfCancellationRequested();
            return inner.Read(buffer, offset, count);
        }

        public override int Read(Span<byte> buffer)
        {
            cancellationToken.ThrowIfCancellationRequested();
            return inner.Read(buffer);
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}

/// <summary>
/// The manifest's JSON, source-generated (no reflection: Walden runs in trimmed and native AOT applications, and in
/// applications that turn reflection-based JSON off). The options are those manifests were always written with, so
/// every manifest reads back and a new one is written byte for byte as before: the web defaults (camelCase names,
/// names read case-insensitively, numbers also read from strings), indented, enums as camelCase strings ("gZip").
/// </summary>
[JsonSourceGenerationOptions(JsonSerializerDefaults.Web, WriteIndented = true, Converters = [typeof(BackupCompressionJsonConverter)])]
[JsonSerializable(typeof(WaldenBackup))]
internal sealed partial class BackupManifestJson : JsonSerializerContext;

/// <summary>
/// <see cref="WaldenBackupCompression"/> as a camelCase string: the generic converter, which needs no code generated at
/// run time, with the naming policy manifests were written with (<c>new JsonStringEnumConverter(JsonNamingPolicy.CamelCase)</c>).
/// </summary>
internal sealed class BackupCompressionJsonConverter() : JsonStringEnumConverter<WaldenBackupCompression>(JsonNamingPolicy.CamelCase);
