using Dragonfly.PubSub.Origins.Ftp;
using Dragonfly.PubSub.Origins.Http;
using Dragonfly.PubSub.Origins.S3;

namespace Dragonfly.PubSub.Origins;

/// <summary>Settings of the origins that <see cref="OriginRegistry.CreateDefault"/> registers.</summary>
public sealed record OriginRegistryOptions
{
    public HttpOriginOptions Http { get; init; } = new();

    /// <summary>Which addresses the HTTP(S) and FTP origins may connect to (S3 goes to its configured endpoint; file:// reads local files).</summary>
    public EgressPolicy Egress { get; init; } = EgressPolicy.Unrestricted;

    public FtpOriginOptions Ftp { get; init; } = new();

    /// <summary>Null: read from the environment when the registry is created (<see cref="S3OriginOptions.FromEnvironment"/>).</summary>
    public S3OriginOptions? S3 { get; init; }
}
