using Dragonfly.PubSub.Security;

namespace Dragonfly.PubSub.Broker.Configuration;

/// <summary>
/// Identity and TLS settings (issue 9). Secure is the default: without <see cref="Insecure"/> every
/// listener speaks TLS 1.3, MQTT and gRPC require a client certificate of the fleet CA.
/// </summary>
public sealed record BrokerTlsOptions
{
    public static readonly TimeSpan DefaultCertTtl = TimeSpan.FromHours(24);

    /// <summary>Plain text everywhere, as before issue 9 (<c>--insecure</c>); logged as a warning and shown on the dashboard.</summary>
    public bool Insecure { get; init; }

    /// <summary>The CA certificate(s) to trust instead of the built-in CA in &lt;data-dir&gt;/tls (<c>--tls-ca</c>).</summary>
    public string? CaFile { get; init; }

    /// <summary>The key of <see cref="CaFile"/>, when this broker may issue certificates under it (<c>--tls-ca-key</c>).</summary>
    public string? CaKeyFile { get; init; }

    /// <summary>A server certificate to use instead of one issued at start (<c>--tls-cert</c>, with <c>--tls-key</c>).</summary>
    public string? CertFile { get; init; }

    public string? KeyFile { get; init; }

    /// <summary>Extra DNS names or IP addresses for the issued server certificate (<c>--tls-san</c>).</summary>
    public IReadOnlyList<string> ExtraNames { get; init; } = [];

    /// <summary>Lifetime of the certificates the broker issues to peers (<c>--cert-ttl</c>).</summary>
    public TimeSpan CertTtl { get; init; } = DefaultCertTtl;

    public TlsCiphers Ciphers { get; init; } = TlsCiphers.Default;

    /// <summary>True when the broker uses its own CA in &lt;data-dir&gt;/tls (no <c>--tls-ca</c>).</summary>
    public bool BuiltInCa => CaFile is null;

    /// <summary>True when the broker holds a CA key and so can enrol peers and certify its seed.</summary>
    public bool CanIssue => BuiltInCa || CaKeyFile is not null;
}
