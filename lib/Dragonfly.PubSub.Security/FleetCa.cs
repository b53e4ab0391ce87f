using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Dragonfly.PubSub.Security;

/// <summary>
/// The fleet's certificate authority: an ECDSA P-256 key and a self-signed (or imported) CA
/// certificate that issues every peer's and the broker's leaf certificate. Only identities the
/// caller passes in are written into a certificate; nothing is taken from a CSR but its public key.
/// </summary>
public sealed class FleetCa : IDisposable
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromDays(3650);

    /// <summary>Back-dating of every notBefore, so a peer whose clock runs a little behind accepts a new certificate.</summary>
    private static readonly TimeSpan ClockSkew = TimeSpan.FromMinutes(5);

    private const string SubjectKeyIdentifierOid = "2.5.29.14";

    private readonly ECDsa _key;
    private readonly TimeProvider _time;

    private FleetCa(X509Certificate2 certificate, ECDsa key, TimeProvider time)
    {
        Certificate = certificate;
        _key = key;
        _time = time;
        Pin = JoinToken.PinOf(certificate);
    }

    /// <summary>The CA certificate (public part only).</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>base64url(SHA-256(DER)) of <see cref="Certificate"/>, as in join tokens.</summary>
    public string Pin { get; }

    /// <summary>Loads <c>ca.crt</c>/<c>ca.key</c> from <paramref name="directory"/>, creating both (key 0600) on first use.</summary>
    public static FleetCa LoadOrCreate(string directory, TimeProvider? time = null)
    {
        var certPath = Path.Combine(directory, TlsFiles.CaCertificate);
        var keyPath = Path.Combine(directory, TlsFiles.CaKey);
        if (File.Exists(certPath) || File.Exists(keyPath))
        {
            return Load(certPath, keyPath, time);
        }
        var ca = Create("Dragonfly fleet CA " + Environment.MachineName, time);
        Directory.CreateDirectory(directory);
        TlsFiles.WriteSecret(keyPath, ca._key.ExportPkcs8PrivateKeyPem());
        TlsFiles.WritePublic(certPath, ca.Certificate.ExportCertificatePem());
        return ca;
    }

    /// <summary>Loads a CA from PEM files (the built-in one, or a company CA whose key the broker may use).</summary>
    public static FleetCa Load(string certPath, string keyPath, TimeProvider? time = null)
    {
        var certificate = TlsFiles.LoadCertificate(certPath);
        var key = ECDsa.Create();
        try
        {
            key.ImportFromPem(TlsFiles.ReadText(keyPath));
        }
        catch (ArgumentException e)
        {
            key.Dispose();
            throw new TlsFileException($"{keyPath} holds no ECDSA private key in PEM ({e.Message.TrimEnd('.')})", e);
        }
        using var certKey = certificate.GetECDsaPublicKey();
        if (certKey is null || !certKey.ExportSubjectPublicKeyInfo().AsSpan().SequenceEqual(key.ExportSubjectPublicKeyInfo()))
        {
            key.Dispose();
            throw new TlsFileException($"the key in {keyPath} does not belong to the certificate in {certPath}");
        }
        return new FleetCa(certificate, key, time ?? TimeProvider.System);
    }

    /// <summary>A new CA in memory (tests; <see cref="LoadOrCreate"/> for the broker).</summary>
    public static FleetCa Create(string commonName, TimeProvider? time = null)
    {
        time ??= TimeProvider.System;
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var name = new X500DistinguishedNameBuilder();
        name.AddCommonName(commonName);
        var request = new CertificateRequest(name.Build(), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, critical: true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, critical: false));
        var now = time.GetUtcNow();
        using var selfSigned = request.CreateSelfSigned(now - ClockSkew, now + Lifetime);
        // Keep only the public certificate; the key stays in _key.
        var certificate = X509CertificateLoader.LoadCertificate(selfSigned.RawData);
        return new FleetCa(certificate, key, time);
    }

    /// <summary>
    /// Issues a certificate for the public key in a PKCS#10 CSR (PEM). The CSR's signature must verify and
    /// its key must be ECDSA P-256; its subject and any extensions it asks for are ignored.
    /// </summary>
    public X509Certificate2 IssueFromCsr(string csrPem, PeerIdentity identity, TimeSpan lifetime) =>
        IssueForKey(PublicKeyOfCsr(csrPem), identity, lifetime);

    /// <summary>Issues a certificate for a public key taken from a CSR with <see cref="PublicKeyOfCsr"/>.</summary>
    public X509Certificate2 IssueForKey(PublicKey publicKey, PeerIdentity identity, TimeSpan lifetime) =>
        Issue(publicKey, identity, lifetime, [], []);

    /// <summary>The public key of a signed PKCS#10 request (PEM), checked to be ECDSA P-256; nothing else of the CSR is used.</summary>
    /// <exception cref="CsrException">Not a validly signed request, or another kind of key.</exception>
    public static PublicKey PublicKeyOfCsr(string csrPem)
    {
        CertificateRequest csr;
        try
        {
            csr = CertificateRequest.LoadSigningRequestPem(csrPem, HashAlgorithmName.SHA256, CertificateRequestLoadOptions.Default);
        }
        catch (Exception e) when (e is CryptographicException or ArgumentException)
        {
            throw new CsrException($"the CSR is not a valid signed PKCS#10 request in PEM ({e.Message.TrimEnd('.')})", e);
        }
        using (var key = csr.PublicKey.GetECDsaPublicKey())
        {
            if (key is null || key.KeySize != 256)
            {
                throw new CsrException("the CSR's key must be ECDSA P-256");
            }
        }
        return csr.PublicKey;
    }

    /// <summary>Issues a certificate with a key made here (the broker's own and its seed's), returned with its private key usable by SslStream.</summary>
    public X509Certificate2 IssueWithNewKey(PeerIdentity identity, TimeSpan lifetime, IEnumerable<string>? dnsNames = null, IEnumerable<IPAddress>? addresses = null)
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var certificate = Issue(new PublicKey(key), identity, lifetime, dnsNames ?? [], addresses ?? []);
        using var withKey = certificate.CopyWithPrivateKey(key);
        return TlsFiles.Usable(withKey);
    }

    private X509Certificate2 Issue(PublicKey publicKey, PeerIdentity identity, TimeSpan lifetime, IEnumerable<string> dnsNames, IEnumerable<IPAddress> addresses)
    {
        var name = new X500DistinguishedNameBuilder();
        name.AddCommonName(identity.PeerId);
        var request = new CertificateRequest(name.Build(), publicKey, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, critical: true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, critical: true));
        // Every peer is a TLS server (its peer port) and a client (of the broker and other peers).
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension(
            [new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], critical: false));
        request.CertificateExtensions.Add(SubjectAltNames.Build(identity.ToUris(), dnsNames, addresses));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(publicKey, critical: false));
        if (Certificate.Extensions[SubjectKeyIdentifierOid] is not null)
        {
            request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(Certificate, true, false));
        }

        var now = _time.GetUtcNow();
        var notAfter = now + lifetime;
        if (notAfter > Certificate.NotAfter.ToUniversalTime())
        {
            notAfter = Certificate.NotAfter.ToUniversalTime();
        }
        var serial = new byte[16];
        RandomNumberGenerator.Fill(serial);
        serial[0] &= 0x7F;
        return request.Create(Certificate.SubjectName, X509SignatureGenerator.CreateForECDsa(_key), now - ClockSkew, notAfter, serial);
    }

    public void Dispose()
    {
        _key.Dispose();
        Certificate.Dispose();
    }
}
