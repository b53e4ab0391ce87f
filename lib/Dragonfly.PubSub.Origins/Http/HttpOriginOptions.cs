using System.Security.Cryptography.X509Certificates;

namespace Dragonfly.PubSub.Origins.Http;

/// <summary>Settings of the one shared HTTP connection pool; per-request settings are in <see cref="OriginRequestOptions"/>.</summary>
public sealed record HttpOriginOptions
{
    /// <summary>
    /// Certificate authorities trusted in addition to the system store, e.g. a private CA of an
    /// internal origin (and the CA a test makes). Host names are still checked.
    /// </summary>
    public X509Certificate2Collection? TrustedCaCertificates { get; init; }

    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Checked on every connection, redirects included.</summary>
    public EgressPolicy Egress { get; init; } = EgressPolicy.Unrestricted;

    /// <summary>Redirects followed per request; 0 turns following off.</summary>
    public int MaxRedirects { get; init; } = 10;

    public string UserAgent { get; init; } = "Dragonfly.PubSub";

    /// <summary>How long a pooled connection lives, so DNS changes of an origin are picked up.</summary>
    public TimeSpan PooledConnectionLifetime { get; init; } = TimeSpan.FromMinutes(5);
}
