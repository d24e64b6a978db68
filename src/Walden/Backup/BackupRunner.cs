using System.Diagnostics;
using System.IO.Compression;
using Microsoft.Data.Sqlite;
using Walden.Native;

namespace Walden.Backup;

/// <summary>
/// Takes one backup end to end: copy into <c>&lt;name&gt;.partial</c>, verify the copy (integrity check,
/// page and row counts), fsync and hash it, compress it if asked, then write the manifest last and
/// apply retention. Until the manifest exists the copy is not a backup; a failure removes the partial
/// files (they are Walden's own, never the source).
/// </summary>
internal static class BackupRunner
{
    /// <summary>
    /// Takes one backup. The copy is verified with the source's application collations and functions
    /// (<see cref="BackupSource.Configure"/>); without them, stand-ins.
    /// </summary>
    internal static WaldenBackup Run(Func<BackupSource> openSource, string folder, WaldenBackupOptions options, TimeSpan busyTimeout,
        TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        try
        {
            return RunCore(openSource, folder, options, busyTimeout, timeProvider, cancellationToken);
        }
        catch (Exception ex) when (Files.IoErrors.IsFileSystem(ex))
        {
            throw Files.IoErrors.Translate(ex, $"Backing up into '{folder}'", folder); // the partial copy is already removed
        }
        catch (SqliteException ex)
        {
            throw Errors.SqliteErrors.Translate(ex, $"Verifying the copy in '{folder}'", new WaldenOptions { BusyTimeout = busyTimeout });
        }
    }

    private static WaldenBackup RunCore(Func<BackupSource> openSource, string folder, WaldenBackupOptions options, TimeSpan busyTimeout,
        TimeProvider timeProvider, CancellationToken cancellationToken)
    {
        folder = BackupFiles.EnsureFolder(folder, out var created);
        try
        {
            if (Files.OpenErrors.FolderNotWritable(folder, "A backup") is { } readOnly)
            {
                throw new WaldenConfigurationException(readOnly);
            }

            // What a killed backup left (its .partial files): removed once no living process owns them.
            Files.OwnerLock.RemoveAbandoned(folder, "*.db" + Files.OwnerLock.Suffix, BackupFiles.IsPartial);
            Files.OwnerLock? owner = null;
            try
            {
                return Run(openSource, folder, options, busyTimeout, timeProvider,
                    basePath => owner = Files.OwnerLock.Claim(basePath), cancellationToken);
            }
            finally
            {
                owner?.Dispose();
            }
        }
        catch when (created)
        {
            BackupFiles.RemoveCreatedIfEmpty(folder); // the failed backup leaves no empty folder of its own behind
            throw;
        }
    }

    /// <summary>
    /// The note on bytes past the source's last whole page (<see cref="Integrity.TrailingBytes"/>), as check, info and doctor say
    /// it: the copy holds the pages SQLite reads and not those bytes, so the backup is whole and verified all the same.
    /// </summary>
    private static IEnumerable<string> SourceTrailingBytes(string sourcePath, CopyFacts facts) =>
        Integrity.TrailingBytes.Note(Files.DatabaseFiles.SizeOf(sourcePath), facts.PageSize, facts.PageCount) is { } note ? [note] : [];

    private static WaldenBackup Run(Func<BackupSource> openSource, string folder, WaldenBackupOptions options, TimeSpan busyTimeout,
        TimeProvider timeProvider, Action<string> claim, CancellationToken cancellationToken)
    {
        var copyClock = Stopwatch.StartNew();
        string journalMode;
        string sourcePath;
        IReadOnlyList<string> sourceNotes;
        UnixFileMode? sourceMode;
        int restarts = 0;
        DateTimeOffset createdAt;
        string basePath;
        string partial;
        Action<SqliteConnection>? configure;
        using (var source = openSource())
        {
            sourcePath = source.Path;
            configure = source.Configure;
            sourceMode = Files.FileModes.Of(sourcePath);
            sourceNotes = source.Notes;
            journalMode = source.JournalMode();
            createdAt = timeProvider.GetUtcNow();
            basePath = BackupFiles.NewBackupPath(folder, sourcePath, createdAt, options.Compression);
            partial = basePath + BackupFiles.PartialSuffix;
            claim(basePath); // before the first byte of the partial exists
            // Walden's own descriptor on its own new file (0600): used to fsync the copy in slices, and closed
            // only after SQLite has closed the file, so it never drops a lock SQLite holds.
            var file = new FileStream(partial, SharedOptions(BackupFiles.OwnerOnlyOptions(FileMode.CreateNew, FileAccess.Write)));
            try
            {
                if (options.Vacuum)
                {
                    BackupCopier.CopyWithVacuumInto(source, partial);
                }
                else
                {
                    source.BeginSnapshot();
                    restarts = BackupCopier.CopyWithBackupApi(source, partial, file, options.PagesPerStep, options.MaxBytesPerSecond, busyTimeout, cancellationToken);
                }

                file.Flush(flushToDisk: true);
                file.Dispose();
                Files.TestPause.At("backup-partial");
            }
            catch (Exception ex) when (Errors.DiskSpace.IsFull(ex) && Errors.DiskSpace.TempFolderFullIn(ex) is null)
            {
                file.Dispose();
                BackupFiles.DeleteOwn(partial);
                BackupFiles.DeleteOwn(partial + "-journal"); // VACUUM INTO's own journal of the copy
                const string Outcome = "Nothing was left half-written: the partial copy was removed, and the database is untouched.";
                // SQLite's own temporary files (a VACUUM INTO's sorts and statement journals) are in the temporary folder.
                if (Errors.DiskSpace.FullTempFolder(folder, Files.DatabaseFiles.SizeOf(sourcePath) ?? 0) is { } temp)
                {
                    throw Errors.DiskSpace.TempFolderFull($"Backing up '{sourcePath}' into '{folder}'", temp,
                        "SQLite's temporary files (sorts, statement journals)", Outcome, ex);
                }

                throw new WaldenDiskFullException(
                    $"Backing up '{sourcePath}' into '{folder}' failed: the disk holding '{folder}' is full. {Outcome} Free space there " +
                    $"(the copy needs about {Files.DatabaseFiles.SizeOf(sourcePath) ?? 0:N0} bytes) or back up into a folder on another disk. " +
                    $"({ex.Message.TrimEnd('.')})", Errors.SqliteErrors.Full, Errors.SqliteErrors.Full, ex);
            }
            catch (SqliteException ex)
            {
                file.Dispose();
                BackupFiles.DeleteOwn(partial);
                throw BackupSource.Translate(ex, sourcePath, busyTimeout, definitionsOption: source.DefinitionsOption);
            }
            catch
            {
                file.Dispose();
                BackupFiles.DeleteOwn(partial);
                BackupFiles.DeleteOwn(partial + "-journal");
                throw;
            }
        }

        copyClock.Stop();
        var stored = basePath + BackupFiles.Extension(options.Compression);
        var storedPartial = stored + BackupFiles.PartialSuffix;
        try
        {
            var verifyClock = Stopwatch.StartNew();
            var facts = BackupInspector.InspectNewCopy(partial, configure, cancellationToken);
            if (!facts.IsIntact)
            {
                throw new WaldenCorruptException(
                    $"The copy of '{sourcePath}' failed its integrity check ({facts.IntegrityCheck}); it was discarded and is not a backup. " +
                    "The source itself may be damaged: run an integrity check on it.", 11, 11);
            }

            EnsureNoCompanions(partial);
            BackupFiles.Fsync(partial);
            var databaseBytes = new FileInfo(partial).Length;
            var databaseSha = BackupFiles.Sha256(partial, cancellationToken);
            var storedSha = databaseSha;
            var storedBytes = databaseBytes;
            if (options.Compression == WaldenBackupCompression.None)
            {
                File.Move(partial, stored);
            }
            else
            {
                Compress(partial, storedPartial, options.Compression, cancellationToken);
                storedSha = BackupFiles.Sha256(storedPartial, cancellationToken);
                storedBytes = new FileInfo(storedPartial).Length;
                File.Move(storedPartial, stored);
                File.Delete(partial);
            }

            var backup = new WaldenBackup
            {
                Path = stored,
                File = Path.GetFileName(stored),
                Source = sourcePath,
                CreatedAt = createdAt,
                Method = options.Vacuum ? "vacuum-into" : "backup-api",
                Compression = options.Compression,
                SourceJournalMode = journalMode,
                SqliteVersion = SqliteLibrary.Version,
                DatabaseBytes = databaseBytes,
                DatabaseSha256 = databaseSha,
                StoredBytes = storedBytes,
                StoredSha256 = storedSha,
                PageSize = facts.PageSize,
                PageCount = facts.PageCount,
                IntegrityCheck = facts.IntegrityCheck,
                TableRows = facts.TableRows,
                Notes = [.. sourceNotes, .. SourceTrailingBytes(sourcePath, facts), .. facts.Notes],
                SourceFileMode = Files.FileModes.Format(sourceMode),
                CopyDuration = copyClock.Elapsed,
                VerifyDuration = verifyClock.Elapsed,
                Restarts = restarts,
            };
            // Owner-only, and never wider than the source (a restore gives a new file the source's own bits, from the manifest).
            Files.FileModes.Apply(stored, sourceMode is { } mode ? (mode & BackupFiles.OwnerOnlyFile) | UnixFileMode.UserRead : null);
            BackupFiles.WriteManifest(backup); // last: from here on it is a backup
            var pruned = BackupRetention.Prune(folder, sourcePath, options, timeProvider.GetUtcNow());
            return backup with { Pruned = pruned };
        }
        catch
        {
            BackupFiles.DeleteOwn(partial);
            BackupFiles.DeleteOwn(storedPartial);
            if (!File.Exists(BackupFiles.ManifestPathOf(stored)))
            {
                BackupFiles.DeleteOwn(stored);
            }

            throw;
        }
    }

    /// <summary>SQLite opens the file too while Walden holds it: share it.</summary>
    private static FileStreamOptions SharedOptions(FileStreamOptions options)
    {
        options.Share = FileShare.ReadWrite;
        options.BufferSize = 0;
        return options;
    }

    private static void EnsureNoCompanions(string path)
    {
        var files = Files.DatabaseFiles.For(path);
        if (files.Companions.FirstOrDefault(File.Exists) is { } left)
        {
            throw new WaldenException($"The copy '{path}' still has '{left}' after it was closed; it is not a self-contained backup.");
        }
    }

    internal static Stream CompressionStream(Stream inner, WaldenBackupCompression compression, CompressionMode mode) => compression switch
    {
        WaldenBackupCompression.GZip => mode == CompressionMode.Compress
            ? new GZipStream(inner, CompressionLevel.Fastest, leaveOpen: true)
            : new GZipStream(inner, CompressionMode.Decompress, leaveOpen: true),
        WaldenBackupCompression.Brotli => mode == CompressionMode.Compress
            ? new BrotliStream(inner, CompressionLevel.Fastest, leaveOpen: true)
            : new BrotliStream(inner, CompressionMode.Decompress, leaveOpen: true),
        _ => throw new ArgumentOutOfRangeException(nameof(compression), compression, "Not a compression."),
    };

    /// <summary>Copies a stream in 1 MiB chunks, stopping when cancelled.</summary>
    internal static void CopyTo(Stream input, Stream output, CancellationToken cancellationToken)
    {
        var buffer = new byte[1 << 20];
        int read;
        while ((read = input.Read(buffer)) > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            output.Write(buffer, 0, read);
        }
    }

    private static void Compress(string from, string to, WaldenBackupCompression compression, CancellationToken cancellationToken)
    {
        using (var input = new FileStream(from, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20, FileOptions.SequentialScan))
        using (var output = new FileStream(to, BackupFiles.OwnerOnlyOptions(FileMode.CreateNew, FileAccess.Write)))
        {
            using (var compressor = CompressionStream(output, compression, CompressionMode.Compress))
            {
                CopyTo(input, compressor, cancellationToken);
            }

            output.Flush(flushToDisk: true);
        }
    }
}
