namespace Dragonfly.PubSub.Broker.UrlTasks;

/// <summary>
/// Which <c>s3://bucket/key</c> URLs RegisterUrlTask accepts. The broker's seed reads them with the broker's
/// S3 endpoint and credentials for anyone who can reach the gRPC port, so by default none are; with
/// <c>--s3-bucket</c> only objects of the named buckets (issue 11, attack 3). Other schemes pass.
/// Immutable and thread-safe.
/// </summary>
public sealed class S3BucketPolicy
{
    public const string Disabled = "s3:// origins are disabled on this broker; allow a bucket with --s3-bucket";

    public S3BucketPolicy(IEnumerable<string> buckets)
    {
        Buckets = [.. buckets];
    }

    /// <summary>No s3:// origin is allowed.</summary>
    public static S3BucketPolicy None { get; } = new([]);

    public IReadOnlyList<string> Buckets { get; }

    /// <returns>Null when <paramref name="url"/> is not s3:// or names an allowed bucket; otherwise one line for the user.</returns>
    public string? Check(Uri url)
    {
        ArgumentNullException.ThrowIfNull(url);
        if (!url.Scheme.Equals("s3", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }
        if (Buckets.Count == 0)
        {
            return Disabled;
        }
        // Bucket names are lower case (S3's rules); the URI parser lowers the host anyway.
        return Buckets.Contains(url.Host, StringComparer.OrdinalIgnoreCase)
            ? null
            : $"s3 bucket '{url.Host}' is not one this broker fetches from; allow it with --s3-bucket {url.Host}";
    }

    /// <summary>Null when <paramref name="bucket"/> can be an S3 bucket name (3-63 of a-z, 0-9, '.', '-'); otherwise why not.</summary>
    public static string? Validate(string? bucket) =>
        bucket is { Length: >= 3 and <= 63 } && bucket.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c is '.' or '-')
            ? null
            : $"'{bucket}' is not an S3 bucket name (3 to 63 of a-z, 0-9, '.' and '-')";
}
