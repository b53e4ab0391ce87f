namespace Dragonfly.PubSub.Origins.Ftp;

/// <summary>Settings of the FTP origin. User and password come from the URL (<c>ftp://user:pass@host/path</c>).</summary>
public sealed record FtpOriginOptions
{
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Checked on the control connection (data connections go to the same address).</summary>
    public EgressPolicy Egress { get; init; } = EgressPolicy.Unrestricted;

    /// <summary>Login used when the URL has no user: anonymous FTP.</summary>
    public string AnonymousUser { get; init; } = "anonymous";

    public string AnonymousPassword { get; init; } = "dragonfly@";
}
