using System.Text;

namespace Dragonfly.PubSub.Agent.Configuration;

/// <summary>
/// Origin settings from the agent's config/flags (<c>s3Endpoint</c>, <c>s3Region</c>,
/// <c>s3AccessKey</c>, <c>s3SecretKey</c>). Unset values fall back to the AWS_* environment.
/// </summary>
public sealed record OriginSettings
{
    /// <summary>An S3-compatible endpoint (http(s) URL); null = AWS_ENDPOINT_URL or AWS itself.</summary>
    public Uri? S3Endpoint { get; init; }
    public string? S3Region { get; init; }
    public string? S3AccessKey { get; init; }
    public string? S3SecretKey { get; init; }

    /// <summary>
    /// Which addresses HTTP(S) and FTP origins may be fetched from. Unrestricted for an agent (it fetches on
    /// its own host); the broker's seed gets the broker's policy (<c>dfbroker --allow-origin</c>).
    /// </summary>
    public Dragonfly.PubSub.Origins.EgressPolicy Egress { get; init; } = Dragonfly.PubSub.Origins.EgressPolicy.Unrestricted;

    private bool PrintMembers(StringBuilder builder)
    {
        // Never print secrets.
        builder.Append("S3Endpoint = ").Append(S3Endpoint).Append(", S3Region = ").Append(S3Region)
            .Append(", S3AccessKey = ").Append(S3AccessKey is null ? "(none)" : "***")
            .Append(", S3SecretKey = ").Append(S3SecretKey is null ? "(none)" : "***");
        return true;
    }
}
