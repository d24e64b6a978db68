using System.CommandLine;

namespace Walden.Cli.Commands;

/// <summary>
/// Where an archive is, for <c>walden restore</c> and <c>walden archive verify|status</c>: a folder, or an
/// <c>s3://bucket/prefix</c> URL with <c>--endpoint</c> (any S3-compatible server; without it, AWS S3) and <c>--region</c>.
/// Credentials come from the standard AWS chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, roles).
/// </summary>
internal sealed class ArchiveLocation
{
    private ArchiveLocation(Option<string?> endpoint, Option<string?> region)
    {
        Endpoint = endpoint;
        Region = region;
    }

    internal Option<string?> Endpoint { get; }

    internal Option<string?> Region { get; }

    /// <summary>New --endpoint and --region options for one command (an option belongs to one command only).</summary>
    internal static ArchiveLocation CreateOptions(string? only = null) => new(
        new Option<string?>("--endpoint")
        {
            Description = $"{only}For an s3://bucket/prefix archive: the S3-compatible server's URL, e.g. http://127.0.0.1:9000 " +
                "(path-style addressing; default: AWS S3). Credentials come from the standard AWS chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE).",
        },
        new Option<string?>("--region")
        {
            Description = $"{only}For an s3:// archive: the region (default: AWS_REGION or the profile's for AWS S3, us-east-1 with --endpoint).",
        });

    internal static bool IsS3(string location) => WaldenS3DestinationOptions.IsS3Url(location);

    /// <summary>
    /// Opens the destination; null with a message when the location cannot be used. <paramref name="writing"/>: a destination
    /// to archive into (<c>demo --archive</c>), else an archive to read.
    /// </summary>
    internal static IWaldenArchiveDestination? Open(string location, string? endpoint, string? region, out string? problem, bool writing = false)
    {
        problem = null;
        if (!IsS3(location))
        {
            if (endpoint is not null || region is not null)
            {
                problem = "--endpoint and --region are for s3:// archives only.";
                return null;
            }

            var folder = Path.GetFullPath(location);
            if (WaldenFolderDestination.FolderProblem(folder, writing) is { } missing)
            {
                problem = missing;
                return null;
            }

            return new WaldenFolderDestination(folder);
        }

        try
        {
            var options = WaldenS3DestinationOptions.FromUrl(location);
            options.Region = region;
            if (endpoint is not null)
            {
                if (!Uri.TryCreate(endpoint, UriKind.Absolute, out var url))
                {
                    problem = $"--endpoint '{endpoint}' is not a URL; write it like http://127.0.0.1:9000.";
                    return null;
                }

                options.ServiceUrl = url;
            }

            return new WaldenS3Destination(options);
        }
        catch (WaldenConfigurationException ex)
        {
            problem = ex.Message;
            return null;
        }
    }
}
