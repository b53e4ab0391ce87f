using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Dragonfly.PubSub.Testing;

/// <summary>A throw-away CA and a server certificate it signed, for 127.0.0.1 only.</summary>
public sealed class TestCertificates : IDisposable
{
    private TestCertificates(X509Certificate2 ca, string serverChainPem, string serverKeyPem)
    {
        Ca = ca;
        CaPem = ca.ExportCertificatePem() + "\n";
        ServerChainPem = serverChainPem;
        ServerKeyPem = serverKeyPem;
    }

    /// <summary>The CA certificate, without its private key: what a client trusts.</summary>
    public X509Certificate2 Ca { get; }

    /// <summary>The CA certificate as PEM, e.g. for a bundle that <c>SSL_CERT_FILE</c> points at.</summary>
    public string CaPem { get; }

    public string ServerChainPem { get; }

    public string ServerKeyPem { get; }

    public static TestCertificates Create()
    {
        var now = DateTimeOffset.UtcNow;
        using var caKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var caRequest = new CertificateRequest("CN=Dragonfly Origins Test CA", caKey, HashAlgorithmName.SHA256);
        caRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        caRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        caRequest.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(caRequest.PublicKey, false));
        using var ca = caRequest.CreateSelfSigned(now.AddMinutes(-5), now.AddDays(1));

        using var serverKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var serverRequest = new CertificateRequest("CN=127.0.0.1", serverKey, HashAlgorithmName.SHA256);
        serverRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        serverRequest.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        serverRequest.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1")], false));
        serverRequest.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(ca, true, false));
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback); // no DNS name: https://localhost must fail the host check
        serverRequest.CertificateExtensions.Add(names.Build());
        using var server = serverRequest.Create(ca, now.AddMinutes(-5), now.AddDays(1), RandomNumberGenerator.GetBytes(12));

        return new TestCertificates(
            X509CertificateLoader.LoadCertificate(ca.RawData),
            server.ExportCertificatePem() + "\n" + ca.ExportCertificatePem() + "\n",
            serverKey.ExportPkcs8PrivateKeyPem() + "\n");
    }

    /// <summary>
    /// Writes a CA bundle with only this CA to <paramref name="path"/>. A process started with
    /// <c>SSL_CERT_FILE</c> pointing at it (.NET on Linux reads its root store through OpenSSL,
    /// which honours the variable) trusts the test's HTTPS origin and nothing else.
    /// </summary>
    public string WriteCaBundle(string path)
    {
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        File.WriteAllText(path, CaPem);
        return path;
    }

    public void Dispose() => Ca.Dispose();
}
