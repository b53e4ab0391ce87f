using System.Text;
using Dragonfly.PubSub.Security;

namespace Dragonfly.PubSub.Agent.Configuration;

/// <summary>
/// How an agent proves who it is and checks who it talks to. Secure by default: with none of
/// these set the agent uses the certificate enrolment left in <c>&lt;data-dir&gt;/tls</c>, and fails
/// with one line when there is none. Exactly one source of identity applies, in this order:
/// <see cref="Identity"/> (a hosting process), static files, the enrolled certificate (renewed in
/// place), enrolment with <see cref="JoinToken"/>.
/// </summary>
public sealed record AgentTlsSettings
{
    /// <summary>Plain text everywhere (<c>--insecure</c>): no certificates, no encryption. Logged as a warning.</summary>
    public bool Insecure { get; init; }

    /// <summary>A join token (<c>dfj1....</c>) to enrol with when the data dir holds no valid certificate.</summary>
    public string? JoinToken { get; init; }

    /// <summary>Static PEM files (<c>--tls-cert/--tls-key/--tls-ca</c>): a certificate from the fleet CA or a company CA.</summary>
    public string? CertFile { get; init; }

    public string? KeyFile { get; init; }

    public string? CaFile { get; init; }

    /// <summary>TLS 1.3 suites offered and accepted (<c>--tls-ciphers</c>).</summary>
    public TlsCiphers Ciphers { get; init; } = TlsCiphers.Default;

    /// <summary>
    /// The identity handed over by a process hosting the agent (the broker's seed): asked at every
    /// handshake, so the host can swap it when it renews. Set, the agent neither enrols nor renews.
    /// </summary>
    public Func<TlsIdentity>? Identity { get; init; }

    /// <summary>True when static certificate files are given.</summary>
    public bool HasStaticFiles => CertFile is not null || KeyFile is not null || CaFile is not null;

    private bool PrintMembers(StringBuilder builder)
    {
        // Never print the token: it enrols a machine.
        builder.Append("Insecure = ").Append(Insecure)
            .Append(", JoinToken = ").Append(JoinToken is null ? "(none)" : "***")
            .Append(", CertFile = ").Append(CertFile).Append(", KeyFile = ").Append(KeyFile).Append(", CaFile = ").Append(CaFile)
            .Append(", Ciphers = ").Append(Ciphers).Append(", Identity = ").Append(Identity is null ? "(none)" : "(hosted)");
        return true;
    }
}
