using System.Globalization;
using System.Text;
using Walden.Native;

namespace Walden.Archiving;

/// <summary>
/// Which database an archive belongs to, whatever its path. Two databases that share a destination (the same path on two
/// machines or containers archiving to one share or bucket prefix, or two paths in one bucket, where no <c>archive-of</c>
/// path check can tell them apart) would number their bases and segments on top of each other, and a restore would
/// return a mix of the two while saying it is complete. So every database that archives gets a lineage: a random id kept
/// beside it in <c>&lt;db&gt;-archive-staging/lineage</c>, and each destination holds the id of the one database it archives
/// as an object <c>lineage-&lt;id&gt;</c> (written once, never changed: any destination can store it, and it names the
/// database's path in its body). At open a destination holding another id is refused, before anything is written to it.
/// A restore (<see cref="WaldenArchive.RestoreAsync(IWaldenArchiveDestination, string, WaldenArchiveRestoreOptions?, CancellationToken)"/>)
/// writes the archive's id beside the restored file, so the restored database continues its archive. The same idea as
/// Litestream's generations (litestream.io/how-it-works), except that a second database is refused rather than given a
/// generation of its own that a restore might pick.
/// </summary>
internal static class ArchiveLineage
{
    /// <summary>The name prefix of the lineage objects in a destination.</summary>
    internal const string Prefix = "lineage-";

    /// <summary>The file in the staging folder that holds the database's lineage id.</summary>
    internal const string LocalFile = "lineage";

    /// <summary>The staging folder beside a database file (the archive's working files and its lineage).</summary>
    internal static string StagingFolder(string databasePath) => databasePath + "-archive-staging";

    /// <summary>The database's lineage id, or null when it has never archived (or its staging folder was removed).</summary>
    /// <exception cref="InvalidDataException">The lineage file holds no valid id.</exception>
    internal static string? ReadLocal(string stagingFolder)
    {
        var path = Path.Combine(stagingFolder, LocalFile);
        // Not a missing lineage (another database, a new id) nor a destination's failure: a local file to put right.
        var kind = Directory.Exists(path) ? "a folder"
            : File.Exists(path) && !Files.FileKind.IsRegularOrUnknown(path) ? "a named pipe, socket or device" : null;
        if (kind is not null)
        {
            throw new InvalidDataException($"'{path}' is {kind}, not the file that holds this database's archive lineage: remove it, and " +
                                           $"if this database archived before, write the id of its archive (the name of the object under '{Prefix}' " +
                                           "in its destination) into a file there.");
        }

        if (!File.Exists(path))
        {
            return null;
        }

        var id = File.ReadAllText(path).Trim().ToLowerInvariant(); // an id written back by hand may be in capitals
        return IsId(id)
            ? id
            : throw new InvalidDataException($"'{path}' does not hold an archive lineage (32 hexadecimal digits): write the id of " +
                                             $"this database's archive (the name of the object under '{Prefix}' in its destination) into it.");
    }

    /// <summary>Writes <paramref name="id"/> as the database's lineage: written whole and durable (temporary file, fsync, rename).</summary>
    internal static void WriteLocal(string stagingFolder, string id)
    {
        Directory.CreateDirectory(stagingFolder);
        var path = Path.Combine(stagingFolder, LocalFile);
        var temporary = path + ".tmp";
        using (var file = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            file.Write(Encoding.ASCII.GetBytes(id + "\n"));
            file.Flush(flushToDisk: true);
        }

        File.Move(temporary, path, overwrite: true);
        Posix.FsyncDirectory(stagingFolder);
    }

    /// <summary>The lineage ids a destination holds (one, normally; none for an archive begun before lineages).</summary>
    /// <exception cref="IOException">The destination cannot be listed now.</exception>
    internal static IReadOnlyList<string> InArchive(IWaldenArchiveDestination destination) =>
        [.. destination.List(Prefix).Select(o => IdOf(o.Name)).OfType<string>().Order(StringComparer.Ordinal)];

    /// <summary>The lineage id an object named <paramref name="name"/> holds (<c>lineage-&lt;id&gt;</c>), or null when it is none.</summary>
    internal static string? IdOf(string name) =>
        name.StartsWith(Prefix, StringComparison.Ordinal) && IsId(name[Prefix.Length..]) ? name[Prefix.Length..] : null;

    /// <summary>
    /// Claims <paramref name="destination"/> for the database: returns null when it holds this database's lineage (written
    /// now if it held none), or why it is refused. The local id is made durable before the destination's object, so a crash
    /// between the two leaves an archive this database can still claim.
    /// </summary>
    /// <exception cref="IOException">The destination cannot be read or written now (the next open claims it).</exception>
    /// <exception cref="InvalidDataException">The local lineage file is damaged.</exception>
    internal static string? Claim(IWaldenArchiveDestination destination, string stagingFolder, string databasePath)
    {
        var local = ReadLocal(stagingFolder); // first: a damaged lineage file is refused even while the destination is unreachable
        var held = InArchive(destination);
        if (local is not null && held.Contains(local, StringComparer.Ordinal))
        {
            return held.Count == 1 ? null : Mixed(destination, held);
        }

        if (held.Count == 0)
        {
            if (local is null)
            {
                local = Guid.NewGuid().ToString("N", CultureInfo.InvariantCulture);
                WriteLocal(stagingFolder, local);
            }

            using var body = new MemoryStream(Encoding.UTF8.GetBytes(databasePath + "\n"));
            destination.Put(Prefix + local, body);
            // Two databases claiming an empty destination at once both wrote: this one may not go on, and its object goes
            // again (nothing else of it was written), so a database that saw its own alone and went on is not refused at
            // its next open, nor left without a lineage to hand on at a restore. When both withdraw, the next open claims.
            held = InArchive(destination);
            if (held.Count == 1 && held[0] == local)
            {
                return null;
            }

            destination.Delete(Prefix + local);
            held = InArchive(destination);
            if (held.Count == 0)
            {
                return $"The archive destination '{destination.Name}' was claimed by another database at the same moment as by " +
                       $"'{databasePath}', and both withdrew, so nothing was written. Give each database a destination of its own, " +
                       "then open this one again.";
            }

            if (held.Count > 1 || held[0] == local)
            {
                return Mixed(destination, held);
            }
        }

        var owner = OwnerPath(destination, held[0]);
        var whose = owner is null ? $"lineage {held[0]}" : $"'{owner}' (lineage {held[0]})";
        var localFile = Path.Combine(stagingFolder, LocalFile);
        return local is null
            ? $"The archive destination '{destination.Name}' holds the archive of another database, {whose}, and '{databasePath}' has " +
              $"no lineage of its own ('{localFile}' is missing): it is either another database (the same path on another machine " +
              "or container, sharing the destination) or its staging folder was removed. A restore would mix the two databases' " +
              "histories, so nothing was written. Give this database a destination of its own; if it is the database that archive " +
              $"belongs to, write {held[0]} into '{localFile}' (a restore with 'walden restore' does that itself)."
            : $"The archive destination '{destination.Name}' holds the archive of another database, {whose}, not of '{databasePath}' " +
              $"(lineage {local}, in '{localFile}'): one destination holds one database's archive (a restore would mix the two " +
              "databases' histories), so nothing was written. Give this database a destination (folder, or bucket prefix) of its own.";
    }

    /// <summary>
    /// What else a database moved from <paramref name="ownerPath"/> to <paramref name="databasePath"/> needs to continue the
    /// archive in <paramref name="destination"/>, beside the new path in <c>archive-of</c>: its lineage, which stays in the
    /// old path's staging folder when only the file was moved. Empty when the database already holds the archive's lineage
    /// (its staging folder came with it) or the archive holds none (begun before lineages); so one refusal names every step,
    /// instead of a second refusal at the next open naming the lineage.
    /// </summary>
    internal static string AfterMove(IWaldenArchiveDestination destination, string ownerPath, string databasePath)
    {
        IReadOnlyList<string> held;
        try
        {
            held = InArchive(destination);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return string.Empty; // the lineage's own refusal, if any, names it once the destination can be read
        }

        var staging = StagingFolder(databasePath);
        if (held is not [var id] || LocalOrNull(staging) == id)
        {
            return string.Empty;
        }

        var ownerStaging = StagingFolder(ownerPath);
        var localFile = Path.Combine(staging, LocalFile);
        return LocalOrNull(ownerStaging) == id
            ? Directory.Exists(staging)
                ? $", move '{staging}' away and move '{ownerStaging}' (its lineage and working files) to '{staging}'"
                : $", and move '{ownerStaging}' (its lineage and working files) to '{staging}'"
            : $", and write {id} (its lineage) into '{localFile}'";
    }

    /// <summary>As <see cref="ReadLocal"/>, null also when the file cannot be read or holds no valid id.</summary>
    internal static string? LocalOrNull(string stagingFolder)
    {
        try
        {
            return ReadLocal(stagingFolder);
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static string Mixed(IWaldenArchiveDestination destination, IReadOnlyList<string> held) =>
        $"The archive destination '{destination.Name}' holds the archives of {held.Count} databases (lineages " +
        $"{string.Join(", ", held)}, objects '{Prefix}<id>'): two databases claimed it at once. Give each database a destination of " +
        $"its own, and delete from this one the '{Prefix}<id>' object of the database that moves.";

    private static string? OwnerPath(IWaldenArchiveDestination destination, string id)
    {
        try
        {
            using var stream = destination.OpenRead(Prefix + id);
            using var reader = new StreamReader(stream, Encoding.UTF8);
            return reader.ReadLine()?.Trim() is { Length: > 0 and < 4096 } path ? path : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null; // the message names the id alone
        }
    }

    private static bool IsId(string id) => id.Length == 32 && id.All(char.IsAsciiHexDigitLower);
}
