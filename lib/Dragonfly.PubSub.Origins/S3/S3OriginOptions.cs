using System.Text;

namespace Dragonfly.PubSub.Origins.S3;

/// <summary>
/// Where the S3 origin sends requests and with which credentials. <see cref="FromEnvironment"/>
/// reads the usual AWS variables; without an access key requests are anonymous (public buckets).
/// The instance-metadata credential chain is never consulted.
/// </summary>
public sealed record S3OriginOptions
{
    /// <summary>An S3-compatible endpoint (MinIO, Ceph, s3rver); null for AWS itself.</summary>
    public Uri? Endpoint { get; init; }

    public string Region { get; init; } = "us-east-1";

    /// <summary>Path-style addressing (<c>endpoint/bucket/key</c>), which most S3-compatible servers need.</summary>
    public bool ForcePathStyle { get; init; }

    public string? AccessKeyId { get; init; }

    public string? SecretAccessKey { get; init; }

    public string? SessionToken { get; init; }

    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// From <c>AWS_ACCESS_KEY_ID</c>, <c>AWS_SECRET_ACCESS_KEY</c>, <c>AWS_SESSION_TOKEN</c>,
    /// <c>AWS_REGION</c>/<c>AWS_DEFAULT_REGION</c>, the endpoint from <c>DRAGONFLY_S3_ENDPOINT</c>,
    /// <c>AWS_ENDPOINT_URL_S3</c> or <c>AWS_ENDPOINT_URL</c>, and <c>DRAGONFLY_S3_PATH_STYLE</c>
    /// (true/false; default true when an endpoint is set).
    /// </summary>
    /// <exception cref="FormatException">An endpoint variable holds no absolute http(s) URL.</exception>
    public static S3OriginOptions FromEnvironment(Func<string, string?>? getVariable = null)
    {
        getVariable ??= Environment.GetEnvironmentVariable;
        string? Get(string name) => getVariable(name) is { Length: > 0 } value ? value.Trim() : null;

        Uri? endpoint = null;
        foreach (var name in (string[])["DRAGONFLY_S3_ENDPOINT", "AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"])
        {
            if (Get(name) is { } text)
            {
                if (!Uri.TryCreate(text, UriKind.Absolute, out endpoint) || endpoint.Scheme is not ("http" or "https"))
                {
                    throw new FormatException($"{name} must be an http:// or https:// URL");
                }
                break;
            }
        }
        var pathStyle = Get("DRAGONFLY_S3_PATH_STYLE") is { } style
            ? bool.TryParse(style, out var parsed) ? parsed : throw new FormatException("DRAGONFLY_S3_PATH_STYLE must be true or false")
            : endpoint is not null;
        return new S3OriginOptions
        {
            Endpoint = endpoint,
            Region = Get("AWS_REGION") ?? Get("AWS_DEFAULT_REGION") ?? "us-east-1",
            ForcePathStyle = pathStyle,
            AccessKeyId = Get("AWS_ACCESS_KEY_ID"),
            SecretAccessKey = Get("AWS_SECRET_ACCESS_KEY"),
            SessionToken = Get("AWS_SESSION_TOKEN"),
        };
    }

    private bool PrintMembers(StringBuilder builder)
    {
        // Never print secrets: records would otherwise put them into every log line that shows the options.
        builder.Append("Endpoint = ").Append(Endpoint).Append(", Region = ").Append(Region)
            .Append(", ForcePathStyle = ").Append(ForcePathStyle)
            .Append(", AccessKeyId = ").Append(AccessKeyId is null ? "(none)" : "***")
            .Append(", SecretAccessKey = ").Append(SecretAccessKey is null ? "(none)" : "***")
            .Append(", SessionToken = ").Append(SessionToken is null ? "(none)" : "***");
        return true;
    }
}
