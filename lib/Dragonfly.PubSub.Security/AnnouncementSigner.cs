using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Dragonfly.PubSub.Security;

/// <summary>
/// The broker's announcement-signing key (ECDSA P-256) with a certificate that proves it is the broker's:
/// issued by the fleet CA for the identity <see cref="PeerId"/> with the broker role, which no join token
/// can obtain. Agents believe a signature only from a certificate that chains to the CA they trust and
/// carries that role; the certificate travels with each announcement, the trust comes from the pinned CA.
/// </summary>
public sealed class AnnouncementSigner : IDisposable
{
    public const string PeerId = "dfbroker-announcements";

    private readonly ECDsa _key;

    private AnnouncementSigner(ECDsa key, X509Certificate2 certificate)
    {
        _key = key;
        Certificate = certificate;
        CertificateBase64 = Convert.ToBase64String(certificate.RawData);
    }

    /// <summary>The certificate of the signing key (public part only).</summary>
    public X509Certificate2 Certificate { get; }

    /// <summary>The certificate as announcements carry it: base64 of its DER.</summary>
    public string CertificateBase64 { get; }

    /// <summary>
    /// Loads <c>announce.key</c> from <paramref name="tlsDirectory"/> (creating it, 0600, on first use) and has
    /// <paramref name="ca"/> issue a fresh certificate for it (written to <c>announce.crt</c> for operators to inspect).
    /// The key stays across restarts; the certificate lives as long as the CA allows.
    /// </summary>
    public static AnnouncementSigner LoadOrCreate(string tlsDirectory, FleetCa ca)
    {
        ArgumentNullException.ThrowIfNull(ca);
        var keyPath = Path.Combine(tlsDirectory, TlsFiles.AnnouncementKey);
        var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        try
        {
            if (File.Exists(keyPath))
            {
                try
                {
                    key.ImportFromPem(TlsFiles.ReadText(keyPath));
                }
                catch (ArgumentException e)
                {
                    throw new TlsFileException($"{keyPath} holds no ECDSA private key in PEM ({e.Message.TrimEnd('.')}); delete it to make a new one", e);
                }
                if (key.KeySize != 256)
                {
                    throw new TlsFileException($"{keyPath} is not an ECDSA P-256 key; delete it to make a new one");
                }
            }
            else
            {
                TlsFiles.WriteSecret(keyPath, key.ExportPkcs8PrivateKeyPem());
            }
            var certificate = ca.IssueForKey(new PublicKey(key), new PeerIdentity(PeerId, PeerRole.Broker, []), FleetCa.Lifetime);
            TlsFiles.WritePublic(Path.Combine(tlsDirectory, TlsFiles.AnnouncementCertificate), certificate.ExportCertificatePem());
            return new AnnouncementSigner(key, certificate);
        }
        catch
        {
            key.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Signs with the key of the broker's own TLS certificate: for a broker given a CA without its key
    /// (<c>--tls-ca</c> with <c>--tls-cert/--tls-key</c>), which cannot issue a signing certificate.
    /// That certificate must be ECDSA and carry the broker role (<c>urn:dragonfly:role:broker</c>) for agents to accept it.
    /// </summary>
    public static AnnouncementSigner FromCertificate(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        var key = certificate.GetECDsaPrivateKey()
            ?? throw new TlsFileException($"the broker certificate '{certificate.Subject}' has no ECDSA key, so it cannot sign announcements; give --tls-ca-key so the broker issues its own signing certificate, or use an ECDSA certificate");
        return new AnnouncementSigner(key, X509CertificateLoader.LoadCertificate(certificate.RawData));
    }

    /// <summary>ECDSA over SHA-256 of <paramref name="data"/>, IEEE P1363 form (64 bytes).</summary>
    public byte[] Sign(ReadOnlySpan<byte> data) => _key.SignData(data, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);

    public void Dispose()
    {
        _key.Dispose();
        Certificate.Dispose();
    }
}
