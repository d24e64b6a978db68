using Amazon.Runtime;

namespace Walden;

/// <summary>
/// Where and how <see cref="WaldenS3Destination"/> stores an archive in an S3-compatible object store (AWS S3, MinIO, Ceph
/// RGW, Cloudflare R2, ...). Only <see cref="Bucket"/> is required; for AWS S3 everything else may stay at its default
/// (region and credentials from the standard AWS chain), for another server set <see cref="ServiceUrl"/>.
/// </summary>
public sealed class WaldenS3DestinationOptions
{
    /// <summary>The default for <see cref="RequestTimeout"/>: 30 seconds.</summary>
    public static readonly TimeSpan DefaultRequestTimeout = TimeSpan.FromSeconds(30);

    /// <summary>The default for <see cref="MaxAttempts"/>: 3.</summary>
    public const int DefaultMaxAttempts = 3;

    /// <summary>The default for <see cref="ListPageSize"/>: 1,000 (the most S3 returns per page).</summary>
    public const int DefaultListPageSize = 1000;

    /// <summary>The default for <see cref="MultipartThresholdBytes"/>: 64 MiB.</summary>
    public const long DefaultMultipartThresholdBytes = 64L * 1024 * 1024;

    /// <summary>The bucket. It must exist: Walden never creates one (a typo must fail, not start a second archive).</summary>
    /// <value>No default; required.</value>
    public string Bucket { get; set; } = string.Empty;

    /// <summary>
    /// The key prefix the archive lives under, like a folder: one prefix per database (e.g. <c>prod/agents/</c>). A
    /// trailing '/' is added when missing. Two databases must never share a prefix.
    /// </summary>
    /// <value>The default value is empty: the bucket's root.</value>
    public string Prefix { get; set; } = string.Empty;

    /// <summary>
    /// The server's URL for anything but AWS S3, e.g. <c>http://127.0.0.1:9000</c> for MinIO or
    /// <c>https://&lt;account&gt;.r2.cloudflarestorage.com</c>.
    /// </summary>
    /// <value>The default value is null: AWS S3 in <see cref="Region"/>.</value>
    public Uri? ServiceUrl { get; set; }

    /// <summary>The region (e.g. <c>eu-west-1</c>); with <see cref="ServiceUrl"/>, the region requests are signed for.</summary>
    /// <value>
    /// The default value is null: for AWS S3 the standard AWS chain (<c>AWS_REGION</c>, the profile); with
    /// <see cref="ServiceUrl"/>, <c>us-east-1</c> (what MinIO and most other servers expect).
    /// </value>
    public string? Region { get; set; }

    /// <summary>Path-style addressing (<c>http://host/bucket/key</c>) instead of virtual-hosted (<c>http://bucket.host/key</c>).</summary>
    /// <value>The default value is null: path-style when <see cref="ServiceUrl"/> is set (MinIO, Ceph, most self-hosted servers), virtual-hosted for AWS S3.</value>
    public bool? ForcePathStyle { get; set; }

    /// <summary>The credentials to sign with.</summary>
    /// <value>
    /// The default value is null: the standard AWS chain (<c>AWS_ACCESS_KEY_ID</c>/<c>AWS_SECRET_ACCESS_KEY</c>, the shared
    /// profile in <c>~/.aws</c> selected by <c>AWS_PROFILE</c>, web identity, container and instance roles).
    /// </value>
    public AWSCredentials? Credentials { get; set; }

    /// <summary>
    /// How long one request may take before it counts as failed. In <see cref="WaldenArchiveMode.Sync"/> this bounds how
    /// long a write waits on an unresponsive server (times <see cref="MaxAttempts"/>, plus the SDK's back-off).
    /// </summary>
    /// <value>The default value is 30 seconds. Allowed: 100 milliseconds to 1 hour.</value>
    public TimeSpan RequestTimeout { get; set; } = DefaultRequestTimeout;

    /// <summary>How many times a request is tried (the SDK's standard retry mode, with back-off) before the call fails.</summary>
    /// <value>The default value is 3. Allowed: 1 to 10.</value>
    public int MaxAttempts { get; set; } = DefaultMaxAttempts;

    /// <summary>
    /// Checks that an object does not exist (HEAD) before putting it. Every put also carries <c>If-None-Match: *</c>,
    /// which AWS S3 (since 2024), MinIO, R2 and current Ceph honor, so there this check only costs a round trip per object;
    /// keep it on for servers that ignore that header, or an existing object could be overwritten.
    /// </summary>
    /// <value>The default value is true.</value>
    public bool CheckBeforePut { get; set; } = true;

    /// <summary>How many keys one list request asks for (later pages follow the continuation token).</summary>
    /// <value>The default value is 1,000. Allowed: 1 to 1,000.</value>
    public int ListPageSize { get; set; } = DefaultListPageSize;

    /// <summary>Objects larger than this are uploaded in parts of this size (multipart upload), smaller ones in one put.</summary>
    /// <value>The default value is 64 MiB. Allowed: 5 MiB (S3's smallest part) to 5 GiB (its largest).</value>
    public long MultipartThresholdBytes { get; set; } = DefaultMultipartThresholdBytes;

    /// <summary>
    /// Reads an <c>s3://bucket/prefix</c> URL into new options (the prefix may be empty). The other options keep their
    /// defaults.
    /// </summary>
    /// <exception cref="WaldenConfigurationException">The text is not an <c>s3://</c> URL with a bucket.</exception>
    public static WaldenS3DestinationOptions FromUrl(string url)
    {
        ArgumentNullException.ThrowIfNull(url);
        const string Scheme = "s3://";
        if (!url.StartsWith(Scheme, StringComparison.OrdinalIgnoreCase) || url.Length == Scheme.Length || url[Scheme.Length] == '/')
        {
            throw new WaldenConfigurationException($"'{url}' is not an S3 location; write it as s3://<bucket>/<prefix>, e.g. s3://backups/agents/.");
        }

        var rest = url[Scheme.Length..];
        var slash = rest.IndexOf('/', StringComparison.Ordinal);
        return new WaldenS3DestinationOptions
        {
            Bucket = slash < 0 ? rest : rest[..slash],
            Prefix = slash < 0 ? string.Empty : rest[(slash + 1)..],
        };
    }

    /// <summary>True when <paramref name="location"/> is an <c>s3://</c> URL.</summary>
    internal static bool IsS3Url(string location) =>
        location is not null && location.StartsWith("s3://", StringComparison.OrdinalIgnoreCase);

    internal WaldenS3DestinationOptions Clone() => (WaldenS3DestinationOptions)MemberwiseClone();

    /// <summary>The prefix as used in keys: empty, or ending with exactly one '/'.</summary>
    internal string KeyPrefix => Prefix.Length == 0 || Prefix.EndsWith('/') ? Prefix : Prefix + "/";

    internal void Validate()
    {
        var problems = new List<string>();
        if (string.IsNullOrWhiteSpace(Bucket) || Bucket.Contains('/', StringComparison.Ordinal) || Bucket.Length > 255)
        {
            problems.Add($"Bucket must be a bucket name such as 'backups' (currently '{Bucket}').");
        }

        if (Prefix is null || Prefix.StartsWith('/') || Prefix.Contains("//", StringComparison.Ordinal))
        {
            problems.Add($"Prefix must be empty or a relative key prefix such as 'prod/agents/', without a leading or doubled '/' (currently '{Prefix}').");
        }

        if (ServiceUrl is { } url && (!url.IsAbsoluteUri || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps)))
        {
            problems.Add($"ServiceUrl must be an absolute http:// or https:// URL (currently '{url}').");
        }

        if (RequestTimeout < TimeSpan.FromMilliseconds(100) || RequestTimeout > TimeSpan.FromHours(1))
        {
            problems.Add($"RequestTimeout must be between 00:00:00.1 and 01:00:00 (currently {RequestTimeout}).");
        }

        if (MaxAttempts is < 1 or > 10)
        {
            problems.Add($"MaxAttempts must be between 1 and 10 (currently {MaxAttempts}).");
        }

        if (ListPageSize is < 1 or > 1000)
        {
            problems.Add($"ListPageSize must be between 1 and 1000 (currently {ListPageSize}).");
        }

        if (MultipartThresholdBytes < 5L * 1024 * 1024 || MultipartThresholdBytes > 5L * 1024 * 1024 * 1024)
        {
            problems.Add($"MultipartThresholdBytes must be between 5 MiB and 5 GiB (currently {MultipartThresholdBytes:N0} bytes).");
        }

        if (problems.Count > 0)
        {
            throw new WaldenConfigurationException(problems.Select(p => "WaldenS3DestinationOptions." + p).ToList());
        }
    }
}
