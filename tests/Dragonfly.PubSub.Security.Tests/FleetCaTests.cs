using System.Runtime.Versioning;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Dragonfly.PubSub.Security.Tests;

public sealed class FleetCaTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("dfsec-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    [UnsupportedOSPlatform("windows")]
    public void LoadOrCreate_FirstStart_WritesCaWithKeyOwnerOnly_AndReloadsTheSameCa()
    {
        string pin;
        using (var ca = FleetCa.LoadOrCreate(_dir))
        {
            pin = ca.Pin;
            Assert.True(ca.Certificate.Extensions.OfType<X509BasicConstraintsExtension>().Single().CertificateAuthority);
            Assert.NotNull(ca.Certificate.GetECDsaPublicKey());
        }
        var keyMode = File.GetUnixFileMode(Path.Combine(_dir, TlsFiles.CaKey));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, keyMode);
        Assert.Empty(Directory.GetFiles(_dir, "*.tmp"));

        using var again = FleetCa.LoadOrCreate(_dir);
        Assert.Equal(pin, again.Pin);
    }

    [Fact]
    public void Load_KeyOfAnotherCa_IsRefusedWithTheFileNames()
    {
        using (FleetCa.LoadOrCreate(_dir))
        {
        }
        var other = Path.Combine(_dir, "other");
        using (FleetCa.LoadOrCreate(other))
        {
        }
        var e = Assert.Throws<TlsFileException>(() => FleetCa.Load(Path.Combine(_dir, TlsFiles.CaCertificate), Path.Combine(other, TlsFiles.CaKey)));
        Assert.Contains("does not belong", e.Message);
    }

    [Fact]
    public void IssueFromCsr_IgnoresTheCsrSubject_AndWritesOnlyTheGivenIdentity()
    {
        using var ca = FleetCa.Create("test CA");
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=i-want-to-be-the-broker", key, HashAlgorithmName.SHA256);
        var sans = new SubjectAlternativeNameBuilder();
        sans.AddIpAddress(System.Net.IPAddress.Parse("10.0.0.1"));
        request.CertificateExtensions.Add(sans.Build());
        var identity = new PeerIdentity("agent-0123456789ab", PeerRole.Agent, ["images/#", "a/+/b"]);

        using var issued = ca.IssueFromCsr(request.CreateSigningRequestPem(), identity, TimeSpan.FromHours(24));

        Assert.Equal("CN=agent-0123456789ab", issued.Subject);
        Assert.Equal(identity, PeerIdentity.FromCertificate(issued));
        Assert.Empty(issued.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single().EnumerateIPAddresses());
        Assert.Equal(ca.Certificate.SubjectName.RawData, issued.IssuerName.RawData);
        Assert.InRange(issued.NotAfter.ToUniversalTime() - DateTime.UtcNow, TimeSpan.FromHours(23.9), TimeSpan.FromHours(24.1));
    }

    [Fact]
    public void IssueFromCsr_RsaKeyOrBrokenPem_IsRefused()
    {
        using var ca = FleetCa.Create("test CA");
        using var rsa = RSA.Create(2048);
        var rsaCsr = new CertificateRequest("CN=x", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1).CreateSigningRequestPem();
        var identity = new PeerIdentity("agent-1", PeerRole.Agent, []);

        Assert.Contains("ECDSA P-256", Assert.Throws<CsrException>(() => ca.IssueFromCsr(rsaCsr, identity, TimeSpan.FromHours(1))).Message);
        Assert.Throws<CsrException>(() => ca.IssueFromCsr("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----", identity, TimeSpan.FromHours(1)));
    }

    [Fact]
    public void IssueWithNewKey_CarriesDnsAndIpNames_AndAKeySslStreamCanUse()
    {
        using var ca = FleetCa.Create("test CA");
        using var cert = ca.IssueWithNewKey(
            new PeerIdentity("broker-1", PeerRole.Broker, []), TimeSpan.FromDays(1), ["localhost"], [System.Net.IPAddress.Loopback]);

        Assert.True(cert.HasPrivateKey);
        var san = cert.Extensions.OfType<X509SubjectAlternativeNameExtension>().Single();
        Assert.Equal(["localhost"], san.EnumerateDnsNames());
        Assert.Equal([System.Net.IPAddress.Loopback], san.EnumerateIPAddresses());
        Assert.True(cert.MatchesHostname("localhost"));
        Assert.Equal([PeerRole.Broker], PeerIdentity.FromCertificate(cert)!.Roles);
    }
}
