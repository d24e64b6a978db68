using System.Text.Json;
using System.Text.Json.Serialization;

namespace Walden.Archiving;

/// <summary>
/// When each destination's newest base object was last known whole: stored by this archiver, or read whole at an open
/// with its SHA-256 checked. Kept in the staging folder (<see cref="FileName"/>, JSON, replaced by a rename, not synced).
/// An open that continues a chain reads the base whole only when this does not know it whole within the drill interval
/// (<see cref="WaldenArchiveOptions.DrillInterval"/>; always when drills are off): a base object is as large as the
/// database (a download from an object store), so checking it at every open made the open's time and traffic grow with
/// the database (the README's "Continuing at open" has the measurement).
/// Damage to a base between two such checks is the drill's to find, and it heals it with a new base (Archiver.RunDrill).
/// A record that is missing, unreadable or of another base means "not known": the open reads the base whole.
/// </summary>
internal sealed class BasesChecked
{
    /// <summary>The file's name in the staging folder.</summary>
    internal const string FileName = "bases-checked";

    private readonly string _path;
    private readonly Lock _gate = new();
    private readonly Dictionary<string, Entry> _entries;

    private BasesChecked(string path, Dictionary<string, Entry> entries)
    {
        _path = path;
        _entries = entries;
    }

    /// <summary>One destination's newest base known whole: its id, its object's length in bytes, and when.</summary>
    internal sealed record Entry(long BaseId, long Length, DateTimeOffset At);

    /// <summary>Reads the record in <paramref name="stagingFolder"/>; an empty one when it is missing or unreadable.</summary>
    internal static BasesChecked Load(string stagingFolder)
    {
        var path = Path.Combine(stagingFolder, FileName);
        Dictionary<string, Entry>? entries = null;
        try
        {
            using var stream = File.OpenRead(path);
            entries = JsonSerializer.Deserialize(stream, BasesCheckedJson.Default.DictionaryStringEntry);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or JsonException or NotSupportedException)
        {
            // Missing (first open) or torn: nothing is known whole, every base is read whole once.
        }

        return new BasesChecked(path, entries ?? new Dictionary<string, Entry>(StringComparer.Ordinal));
    }

    /// <summary>
    /// Whether the object of base <paramref name="baseId"/> in <paramref name="destination"/>, <paramref name="length"/>
    /// bytes long, was known whole less than <paramref name="within"/> before <paramref name="now"/> (never when
    /// <paramref name="within"/> is null).
    /// </summary>
    internal bool KnownWhole(string destination, long baseId, long length, DateTimeOffset now, TimeSpan? within)
    {
        lock (_gate)
        {
            return within is { } interval && _entries.TryGetValue(destination, out var entry) && entry.BaseId == baseId &&
                entry.Length == length && entry.At <= now && now - entry.At < interval;
        }
    }

    /// <summary>
    /// Records that base <paramref name="baseId"/>'s object in <paramref name="destination"/> was whole at
    /// <paramref name="at"/>, and saves the record. A save that fails is ignored: the next open then reads the base whole.
    /// </summary>
    internal void Record(string destination, long baseId, long length, DateTimeOffset at)
    {
        lock (_gate)
        {
            if (_entries.TryGetValue(destination, out var entry) && entry.BaseId > baseId)
            {
                return; // an older base (a side base stored late) does not replace what is known of the newer one
            }

            _entries[destination] = new Entry(baseId, length, at);
            var temporary = _path + ".tmp";
            try
            {
                File.WriteAllBytes(temporary, JsonSerializer.SerializeToUtf8Bytes(_entries, BasesCheckedJson.Default.DictionaryStringEntry));
                File.Move(temporary, _path, overwrite: true);
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Only a cost: the next open reads the base whole.
            }
        }
    }
}

/// <summary>The record's JSON, source-generated (no reflection: Walden runs in trimmed and native AOT applications).</summary>
[JsonSerializable(typeof(Dictionary<string, BasesChecked.Entry>))]
internal sealed partial class BasesCheckedJson : JsonSerializerContext;
