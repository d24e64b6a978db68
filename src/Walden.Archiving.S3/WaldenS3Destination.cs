using System.Net;
using System.Security.Cryptography;
using Amazon;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;

namespace Walden;

/// <summary>
/// An archive destination (<see cref="IWaldenArchiveDestination"/>) in an S3-compatible object store, through the AWS SDK
/// for .NET. Objects are immutable: a put carries <c>If-None-Match: *</c> and, by default, is preceded by a check that
/// the key is free (<see cref="WaldenS3DestinationOptions.CheckBeforePut"/>), so nothing is ever overwritten. Each object
/// carries its SHA-256 (as <c>x-amz-checksum-sha256</c>, which the server checks on upload where it supports it, and as
/// user metadata <c>walden-sha256</c>), and every read is checked against it before a byte is handed on. Listing follows
/// continuation tokens, so any number of objects is seen. Every failure surfaces as an <see cref="IOException"/> that
/// names the location and the request (a missing key on read as <see cref="FileNotFoundException"/>), which the archive
/// treats like a full or missing disk.
/// </summary>
/// <remarks>
/// The SDK's own default checksums (CRC32 in an aws-chunked trailer, since SDK 4) are turned off: many S3-compatible
/// servers refuse them, and the explicit SHA-256 above covers the same ground end to end. The SDK is asynchronous; the
/// archive calls destinations from its own threads, which wait here for each request.
/// </remarks>
public sealed class WaldenS3Destination : IWaldenArchiveDestination, IDisposable
{
    private const string ShaMetadata = "walden-sha256";
    // Larger objects (a sealed or compacted segment of up to 16 MiB, a base) are checked into a scratch file, not memory: a
    // restore then reads them a part at a time from there (Archiving/SegmentApplier.cs), holding none of them whole.
    private const long InMemoryReadBytes = 1L * 1024 * 1024;
    private readonly WaldenS3DestinationOptions _options;
    private readonly AmazonS3Client _client;
    private readonly string _prefix;

    /// <summary>Creates a destination; no request is made until the archive uses it.</summary>
    /// <exception cref="WaldenConfigurationException">An option is out of range; the message lists every problem.</exception>
    public WaldenS3Destination(WaldenS3DestinationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options.Clone();
        _prefix = _options.KeyPrefix;
        var config = new AmazonS3Config
        {
            Timeout = _options.RequestTimeout,
            RetryMode = RequestRetryMode.Standard,
            MaxErrorRetry = _options.MaxAttempts - 1,
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
            ForcePathStyle = _options.ForcePathStyle ?? _options.ServiceUrl is not null,
        };
        if (_options.ServiceUrl is { } url)
        {
            config.ServiceURL = url.ToString();
            config.AuthenticationRegion = _options.Region ?? "us-east-1";
        }
        else if (_options.Region is { } region)
        {
            config.RegionEndpoint = RegionEndpoint.GetBySystemName(region);
        }

        _client = _options.Credentials is { } credentials ? new AmazonS3Client(credentials, config) : new AmazonS3Client(config);
        Name = $"s3://{_options.Bucket}/{_prefix}" + (_options.ServiceUrl is { } endpoint ? $" at {endpoint}" : string.Empty);
    }

    /// <inheritdoc />
    /// <value><c>s3://bucket/prefix/</c>, followed by <c> at &lt;ServiceUrl&gt;</c> when one is set.</value>
    public string Name { get; }

    /// <inheritdoc />
    public void Put(string name, Stream content)
    {
        ArgumentNullException.ThrowIfNull(content);
        var key = Key(name);
        Stream? spooled = null;
        try
        {
            if (!content.CanSeek)
            {
                spooled = Spool(content);
                content = spooled;
            }

            var start = content.Position;
            var length = content.Length - start;
            var sha = SHA256.HashData(content);
            content.Position = start;
            if (_options.CheckBeforePut && Exists(key, name))
            {
                throw AlreadyExists(name);
            }

            if (length > _options.MultipartThresholdBytes)
            {
                PutMultipart(key, name, content, length, sha);
                return;
            }

            var request = new PutObjectRequest
            {
                BucketName = _options.Bucket,
                Key = key,
                InputStream = content,
                AutoCloseStream = false,
                AutoResetStreamPosition = false,
                UseChunkEncoding = false,
                IfNoneMatch = "*",
                ContentType = "application/octet-stream",
                ChecksumSHA256 = Convert.ToBase64String(sha),
            };
            request.Metadata.Add(ShaMetadata, Convert.ToHexStringLower(sha));
            Call("PUT", name, () => _client.PutObjectAsync(request));
        }
        finally
        {
            spooled?.Dispose();
        }
    }

    /// <inheritdoc />
    public IReadOnlyList<WaldenArchiveObject> List(string prefix)
    {
        ArgumentNullException.ThrowIfNull(prefix);
        var result = new List<WaldenArchiveObject>();
        var request = new ListObjectsV2Request { BucketName = _options.Bucket, Prefix = _prefix + prefix, MaxKeys = _options.ListPageSize };
        while (true)
        {
            var page = Call("LIST", prefix.Length == 0 ? "(all)" : prefix, () => _client.ListObjectsV2Async(request));
            foreach (var item in page.S3Objects ?? [])
            {
                result.Add(new WaldenArchiveObject(item.Key[_prefix.Length..], item.Size ?? 0));
            }

            if (page.IsTruncated != true || string.IsNullOrEmpty(page.NextContinuationToken))
            {
                return result;
            }

            request.ContinuationToken = page.NextContinuationToken;
        }
    }

    /// <inheritdoc />
    /// <exception cref="InvalidDataException">The object's bytes do not match the SHA-256 or the length recorded when it was stored.</exception>
    public Stream OpenRead(string name)
    {
        var key = Key(name);
        using var response = Call("GET", name, () => _client.GetObjectAsync(new GetObjectRequest { BucketName = _options.Bucket, Key = key }));
        var expectedLength = response.ContentLength;
        Stream copy = expectedLength <= InMemoryReadBytes ? new MemoryStream((int)Math.Max(expectedLength, 0)) : TemporaryFile();
        try
        {
            using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
            var buffer = new byte[1 << 16];
            try
            {
                int read;
                while ((read = response.ResponseStream.Read(buffer)) > 0)
                {
                    hash.AppendData(buffer, 0, read);
                    copy.Write(buffer, 0, read);
                }
            }
            catch (AmazonClientException ex) when (ex.Message.Contains("hash", StringComparison.OrdinalIgnoreCase))
            {
                // The SDK checks a single-part object's body against its MD5 ETag as it streams: damaged, like a SHA-256 mismatch.
                throw new InvalidDataException(
                    $"'{name}' in {Name} does not match the checksum (MD5 ETag) the server recorded when it was stored (damaged in the store or in transit).", ex);
            }
#pragma warning disable CA1031 // The body's stream fails like the request: reported as this destination's IOException.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                throw Failure("GET", name, ex);
            }

            if (copy.Length != expectedLength)
            {
                throw new InvalidDataException($"'{name}' in {Name} is {copy.Length:N0} bytes, not the {expectedLength:N0} the server announced (truncated).");
            }

            var actual = Convert.ToHexStringLower(hash.GetHashAndReset());
            if (response.Metadata[ShaMetadata] is { Length: > 0 } expected && !string.Equals(expected, actual, StringComparison.OrdinalIgnoreCase))
            {
                throw new InvalidDataException(
                    $"'{name}' in {Name} does not match the SHA-256 recorded when it was stored (damaged in the store or in transit).");
            }

            copy.Position = 0;
            return copy;
        }
        catch
        {
            copy.Dispose();
            throw;
        }
    }

    /// <inheritdoc />
    public void Delete(string name)
    {
        var key = Key(name);
        Call("DELETE", name, () => _client.DeleteObjectAsync(new DeleteObjectRequest { BucketName = _options.Bucket, Key = key }));
    }

    /// <inheritdoc />
    public override string ToString() => Name;

    /// <summary>Releases the S3 client (its HTTP connections).</summary>
    public void Dispose() => _client.Dispose();

    private void PutMultipart(string key, string name, Stream content, long length, byte[] sha)
    {
        var initiate = new InitiateMultipartUploadRequest { BucketName = _options.Bucket, Key = key, ContentType = "application/octet-stream" };
        initiate.Metadata.Add(ShaMetadata, Convert.ToHexStringLower(sha));
        var uploadId = Call("PUT (multipart start)", name, () => _client.InitiateMultipartUploadAsync(initiate)).UploadId;
        try
        {
            var parts = new List<PartETag>();
            var partBytes = _options.MultipartThresholdBytes;
            var buffer = new byte[partBytes];
            for (var number = 1; length > 0; number++)
            {
                var size = (int)Math.Min(partBytes, length);
                content.ReadExactly(buffer, 0, size);
                length -= size;
                using var part = new MemoryStream(buffer, 0, size, writable: false);
                var request = new UploadPartRequest
                {
                    BucketName = _options.Bucket,
                    Key = key,
                    UploadId = uploadId,
                    PartNumber = number,
                    InputStream = part,
                    PartSize = size,
                    UseChunkEncoding = false,
                    ChecksumSHA256 = Convert.ToBase64String(SHA256.HashData(buffer.AsSpan(0, size))),
                };
                var response = Call($"PUT (part {number})", name, () => _client.UploadPartAsync(request));
                parts.Add(new PartETag(number, response.ETag));
            }

            Call("PUT (multipart complete)", name, () => _client.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
            {
                BucketName = _options.Bucket,
                Key = key,
                UploadId = uploadId,
                PartETags = parts,
                IfNoneMatch = "*",
            }));
        }
        catch
        {
            try
            {
                Call("PUT (multipart abort)", name, () => _client.AbortMultipartUploadAsync(
                    new AbortMultipartUploadRequest { BucketName = _options.Bucket, Key = key, UploadId = uploadId }));
            }
            catch (IOException)
            {
                // The server keeps the parts of an unfinished upload until its lifecycle rule removes them; the object is absent.
            }

            throw;
        }
    }

    private bool Exists(string key, string name)
    {
        try
        {
            Call("HEAD", name, () => _client.GetObjectMetadataAsync(new GetObjectMetadataRequest { BucketName = _options.Bucket, Key = key }));
            return true;
        }
        catch (FileNotFoundException)
        {
            return false;
        }
    }

    private string Key(string name)
    {
        if (string.IsNullOrEmpty(name) || name.Contains("..", StringComparison.Ordinal) || name.StartsWith('/'))
        {
            throw new ArgumentException($"'{name}' is not a relative object name.", nameof(name));
        }

        return _prefix + name;
    }

    private T Call<T>(string what, string name, Func<Task<T>> request)
    {
        try
        {
            return request().GetAwaiter().GetResult();
        }
#pragma warning disable CA1031 // Whatever the SDK or the network throws is this destination's failure, reported as an IOException.
        catch (Exception ex) when (ex is not ArgumentException)
#pragma warning restore CA1031
        {
            throw Failure(what, name, ex);
        }
    }

    private IOException Failure(string what, string name, Exception ex)
    {
        var where = $"{what} '{name}' in {Name}";
        if (ex is AmazonS3Exception s3)
        {
            return s3.StatusCode switch
            {
                HttpStatusCode.NotFound when s3.ErrorCode == "NoSuchBucket" => new IOException(
                    $"{where} failed: the bucket '{_options.Bucket}' does not exist. Create it (Walden never creates buckets), or fix the bucket name.", ex),
                HttpStatusCode.NotFound => new FileNotFoundException($"{where}: there is no such object.", name, ex),
                HttpStatusCode.PreconditionFailed or HttpStatusCode.Conflict when what.StartsWith("PUT", StringComparison.Ordinal) => AlreadyExists(name, ex),
                HttpStatusCode.Forbidden or HttpStatusCode.Unauthorized => new IOException(
                    $"{where} was refused ({s3.ErrorCode}: {s3.Message}). Check the credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, " +
                    "AWS_PROFILE) and that they may read, write, list and delete under the prefix.", ex),
                _ => new IOException($"{where} failed: HTTP {(int)s3.StatusCode} {s3.ErrorCode}: {s3.Message}", ex),
            };
        }

        return new IOException(
            $"{where} failed: {ex.GetBaseException().Message} (after {_options.MaxAttempts} attempt(s), {_options.RequestTimeout.TotalSeconds:0.###} s each at most). " +
            "Is the server reachable?", ex);
    }

    private IOException AlreadyExists(string name, Exception? inner = null) =>
        new($"'{name}' already exists in {Name}; archive objects are never overwritten. Is another database archiving to the same prefix?", inner);

    private static FileStream TemporaryFile() =>
        new(Path.Combine(Path.GetTempPath(), $"walden-s3-{Guid.NewGuid():N}.tmp"), FileMode.CreateNew, FileAccess.ReadWrite, FileShare.None,
            1 << 16, FileOptions.DeleteOnClose);

    private static Stream Spool(Stream content)
    {
        var file = TemporaryFile();
        content.CopyTo(file);
        file.Position = 0;
        return file;
    }
}
