using System.Security.Cryptography.X509Certificates;

namespace Dragonfly.PubSub.Security;

/// <summary>What the broker answered to an enrolment or renewal, with the key the client made for it (PEM).</summary>
public sealed record EnrolledCertificate(
    string PeerId, string Role, IReadOnlyList<string> Topics, string CertificatePem, string KeyPem, string CaCertificatePem, DateTimeOffset NotAfter)
{
    /// <summary>Writes <c>agent.crt</c>, <c>agent.key</c> (0600) and <c>ca.crt</c> into <paramref name="tlsDir"/>, each atomically; the key first, the certificate last.</summary>
    public void WriteTo(string tlsDir)
    {
        TlsFiles.WriteSecret(Path.Combine(tlsDir, TlsFiles.AgentKey), KeyPem);
        TlsFiles.WritePublic(Path.Combine(tlsDir, TlsFiles.CaCertificate), CaCertificatePem);
        TlsFiles.WritePublic(Path.Combine(tlsDir, TlsFiles.AgentCertificate), CertificatePem);
    }

    /// <summary>An identity from this certificate, its key and the CA.</summary>
    public TlsIdentity ToIdentity(TlsCiphers ciphers, Func<string, bool>? isRevoked = null)
    {
        var cas = new X509Certificate2Collection();
        cas.ImportFromPem(CaCertificatePem);
        using var pem = X509Certificate2.CreateFromPem(CertificatePem, KeyPem);
        return new TlsIdentity(cas, TlsFiles.Usable(pem), ciphers, isRevoked);
    }
}
