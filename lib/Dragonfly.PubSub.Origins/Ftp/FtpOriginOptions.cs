namespace Dragonfly.PubSub.Origins.Ftp;

/// <summary>Settings of the FTP origin. User and password come from the URL (<c>ftp://user:pass@host/path</c>).</summary>
public sealed record FtpOriginOptions
{
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Login used when the URL has no user: anonymous FTP.</summary>
    public string AnonymousUser { get; init; } = "anonymous";

    public string AnonymousPassword { get; init; } = "dragonfly@";
}
