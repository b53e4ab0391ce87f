namespace Dragonfly.PubSub.Origins;

/// <summary>
/// A failed origin request. The message is one line a user can act on and names the URL with
/// credentials and signatures removed (<see cref="OriginUrl.Redact"/>); header values and secrets
/// never appear in it.
/// </summary>
public sealed class OriginException : Exception
{
    public OriginException(OriginErrorKind kind, string message, string? redactedUrl = null, int? statusCode = null, Exception? inner = null)
        : base(message, inner)
    {
        Kind = kind;
        Url = redactedUrl;
        StatusCode = statusCode;
    }

    public OriginErrorKind Kind { get; }

    /// <summary>The URL the request was for, redacted.</summary>
    public string? Url { get; }

    /// <summary>The protocol's status: HTTP status code, FTP reply code; null when there was no answer.</summary>
    public int? StatusCode { get; }

    /// <summary>True when trying again later may succeed (the origin was unavailable or too slow).</summary>
    public bool IsTransient => Kind is OriginErrorKind.Unavailable or OriginErrorKind.Timeout;

    internal static OriginException NotFound(Uri url, int? statusCode = null) =>
        new(OriginErrorKind.NotFound, $"not found at origin: {OriginUrl.Redact(url)}", OriginUrl.Redact(url), statusCode);
}
