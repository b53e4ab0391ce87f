using System.Net.Security;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace Dragonfly.PubSub.Security;

/// <summary>
/// What a process authenticates with: the CA certificate(s) it trusts (and nothing else: no system
/// roots), its own certificate with private key, the cipher choice, and an optional revocation check.
/// Immutable: a holder that renews builds a new one and swaps the reference; options built from it
/// each handshake pick up the swap.
/// </summary>
public sealed class TlsIdentity
{
    private readonly SslStreamCertificateContext _serverContext;
    private readonly SslStreamCertificateContext _clientContext;

    public TlsIdentity(X509Certificate2Collection trustedCas, X509Certificate2 certificate, TlsCiphers ciphers, Func<string, bool>? isRevoked = null, TimeProvider? time = null)
    {
        if (!certificate.HasPrivateKey)
        {
            throw new ArgumentException("the certificate must come with its private key", nameof(certificate));
        }
        TrustedCas = trustedCas;
        Certificate = certificate;
        Ciphers = ciphers;
        IsRevoked = isRevoked;
        Time = time ?? TimeProvider.System;
        Self = PeerIdentity.FromCertificate(certificate);
        // Sends the chain up to (not including) the root, and names the trusted CAs in the
        // CertificateRequest so clients pick the right certificate.
        _serverContext = SslStreamCertificateContext.Create(
            certificate, additionalCertificates: null, offline: true,
            trust: OperatingSystem.IsLinux() || OperatingSystem.IsWindows() ? SslCertificateTrust.CreateForX509Collection(trustedCas, sendTrustInHandshake: true) : null);
        _clientContext = SslStreamCertificateContext.Create(certificate, additionalCertificates: null, offline: true);
    }

    public X509Certificate2Collection TrustedCas { get; }

    public X509Certificate2 Certificate { get; }

    /// <summary>This process's own identity read from its certificate; null for a certificate not made by a Dragonfly CA.</summary>
    public PeerIdentity? Self { get; }

    public TlsCiphers Ciphers { get; }

    /// <summary>True for a peer id that must be refused although its certificate is valid.</summary>
    public Func<string, bool>? IsRevoked { get; }

    public TimeProvider Time { get; }

    /// <summary>A copy with another revocation check (the broker's list, or the agent's view of <c>dragonfly/revoked</c>).</summary>
    public TlsIdentity WithRevocation(Func<string, bool>? isRevoked) => new(TrustedCas, Certificate, Ciphers, isRevoked, Time);

    /// <summary>TLS 1.3 server options; the client certificate, when required (or, if optional, when offered), must pass <see cref="Check"/>.</summary>
    public SslServerAuthenticationOptions ServerOptions(bool requireClientCertificate) => new()
    {
        ServerCertificateContext = _serverContext,
        EnabledSslProtocols = SslProtocols.Tls13,
        CipherSuitesPolicy = Ciphers.Policy(),
        // Always ask for a client certificate (otherwise a client never sends one); optional means a
        // missing one is accepted, while a presented one must still pass the check.
        ClientCertificateRequired = true,
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        CertificateChainPolicy = ChainPolicy(),
        RemoteCertificateValidationCallback = (_, certificate, chain, _) =>
            certificate is null ? !requireClientCertificate : CheckPresented(certificate, chain).Ok,
    };

    /// <summary>
    /// TLS 1.3 client options presenting this certificate. Without <paramref name="expectedPeerId"/> the server
    /// certificate must name <paramref name="targetHost"/> (the broker); with it (the peer port, where peers
    /// are reached by address and their certificates name no address) its CN must be that peer id.
    /// </summary>
    public SslClientAuthenticationOptions ClientOptions(string targetHost, string? expectedPeerId = null) => new()
    {
        TargetHost = targetHost,
        ClientCertificateContext = _clientContext,
        EnabledSslProtocols = SslProtocols.Tls13,
        CipherSuitesPolicy = Ciphers.Policy(),
        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
        CertificateChainPolicy = ChainPolicy(),
        RemoteCertificateValidationCallback = (_, certificate, chain, errors) =>
        {
            if (certificate is null)
            {
                return false;
            }
            if (expectedPeerId is null && (errors & SslPolicyErrors.RemoteCertificateNameMismatch) != 0)
            {
                return false;
            }
            var check = CheckPresented(certificate, chain);
            return check.Ok && (expectedPeerId is null || check.Peer!.PeerId == expectedPeerId);
        },
    };

    /// <summary>Checks a presented certificate: chain to a trusted CA, in date, a Dragonfly identity, not revoked.</summary>
    public CertificateCheck Check(X509Certificate certificate)
    {
        // SslStream hands over an X509Certificate2 on .NET; anything else is copied once.
        using var copy = certificate is X509Certificate2 ? null : X509CertificateLoader.LoadCertificate(certificate.GetRawCertData());
        var cert = copy ?? (X509Certificate2)certificate;
        using var chain = new X509Chain { ChainPolicy = ChainPolicy() };
        return chain.Build(cert) ? CheckIdentity(cert) : ChainRefused(cert, chain.ChainStatus.Select(s => s.Status));
    }

    /// <summary>
    /// <see cref="Check"/> for the certificate of a handshake made with this identity's options: SslStream has
    /// already built its chain with <see cref="ChainPolicy"/> (the options' <c>CertificateChainPolicy</c>), so
    /// that chain's verdict is taken instead of building it a second time (which cost ~8 % of a handshake's CPU,
    /// both sides together). A chain built under any other policy (a library's own SslStream, system roots) is
    /// not evidence, and the certificate is checked from scratch. SslStream also asks for the TLS usage (client or
    /// server authentication) in the chain; <see cref="Check"/> never did, so a usage mismatch alone still passes.
    /// </summary>
    internal CertificateCheck CheckPresented(X509Certificate certificate, X509Chain? chain)
    {
        if (certificate is not X509Certificate2 cert || chain is null || !BuiltUnderThisTrust(chain, cert))
        {
            return Check(certificate);
        }
        var problems = chain.ChainStatus.Select(s => s.Status).Where(s => s != X509ChainStatusFlags.NotValidForUsage).ToArray();
        return problems.All(s => s == X509ChainStatusFlags.NoError) ? CheckIdentity(cert) : ChainRefused(cert, problems);
    }

    private static CertificateCheck ChainRefused(X509Certificate2 cert, IEnumerable<X509ChainStatusFlags> status) =>
        CertificateCheck.Refused($"certificate of '{cert.Subject}' is not valid for this fleet: {string.Join(", ", status.Where(s => s != X509ChainStatusFlags.NoError).Distinct())}");

    /// <summary>True if <paramref name="chain"/> was built for <paramref name="cert"/> trusting only this identity's CAs.</summary>
    private bool BuiltUnderThisTrust(X509Chain chain, X509Certificate2 cert)
    {
        var policy = chain.ChainPolicy;
        if (policy.TrustMode != X509ChainTrustMode.CustomRootTrust || policy.CustomTrustStore.Count == 0
            || chain.ChainElements.Count == 0 || !chain.ChainElements[0].Certificate.RawDataMemory.Span.SequenceEqual(cert.RawDataMemory.Span))
        {
            return false;
        }
        foreach (var anchor in policy.CustomTrustStore)
        {
            if (!TrustedCas.Any(ca => ca.RawDataMemory.Span.SequenceEqual(anchor.RawDataMemory.Span)))
            {
                return false;
            }
        }
        return true;
    }

    private CertificateCheck CheckIdentity(X509Certificate2 cert)
    {
        var peer = PeerIdentity.FromCertificate(cert);
        if (peer is null)
        {
            return CertificateCheck.Refused($"certificate of '{cert.Subject}' carries no Dragonfly peer identity (role URI)");
        }
        if (IsRevoked?.Invoke(peer.PeerId) == true)
        {
            return CertificateCheck.Refused($"certificate of peer '{peer.PeerId}' is revoked");
        }
        return CertificateCheck.Accepted(peer);
    }

    /// <summary>Loads an identity from PEM files (static <c>--tls-cert/--tls-key/--tls-ca</c>, or what enrolment wrote).</summary>
    public static TlsIdentity Load(string certPath, string keyPath, string caPath, TlsCiphers ciphers, Func<string, bool>? isRevoked = null) =>
        new(TlsFiles.LoadCertificates(caPath), TlsFiles.LoadCertificateWithKey(certPath, keyPath), ciphers, isRevoked);

    private X509ChainPolicy ChainPolicy()
    {
        var policy = new X509ChainPolicy
        {
            TrustMode = X509ChainTrustMode.CustomRootTrust,
            RevocationMode = X509RevocationMode.NoCheck,
            VerificationTime = Time.GetUtcNow().UtcDateTime,
            VerificationTimeIgnored = false,
        };
        policy.CustomTrustStore.AddRange(TrustedCas);
        return policy;
    }
}
