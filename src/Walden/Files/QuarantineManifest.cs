using System.Text.Json;
using System.Text.Json.Serialization;

namespace Walden.Files;

/// <summary>
/// The quarantine.json beside quarantined files, for the person who finds the folder (Walden itself never reads it).
/// Its JSON is written as it always was, field for field: camelCase names in this order, indented.
/// </summary>
internal sealed record QuarantineManifest(
    string OriginalPath, string Reason, DateTimeOffset QuarantinedAtUtc, IReadOnlyList<QuarantinedFile> Files, string Note)
{
    internal const string FileName = "quarantine.json";

    internal const string DefaultNote = "Walden moved these files here instead of deleting them. Remove the folder once you no longer need them.";

    internal string ToJson() => JsonSerializer.Serialize(this, QuarantineManifestJson.Default.QuarantineManifest);
}

/// <summary>One file put aside: its name and its size in bytes when it was moved.</summary>
internal sealed record QuarantinedFile(string Name, long Bytes);

/// <summary>The manifest's JSON, source-generated (no reflection: Walden runs in trimmed and native AOT applications).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, WriteIndented = true)]
[JsonSerializable(typeof(QuarantineManifest))]
internal sealed partial class QuarantineManifestJson : JsonSerializerContext;
