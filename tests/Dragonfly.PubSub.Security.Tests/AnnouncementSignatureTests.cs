using System.Net;
using System.Runtime.Versioning;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;

namespace Dragonfly.PubSub.Security.Tests;

/// <summary>Signed announcements: the broker's signing key and certificate, and the agent's check of a signature.</summary>
public sealed class AnnouncementSignatureTests : IDisposable
{
    private static readonly byte[] Signed = Encoding.UTF8.GetBytes("dragonfly-announcement-v1\0 sequence 7 of releases/app/app.tar");

    private readonly string _dir = Directory.CreateTempSubdirectory("dfsign-").FullName;
    private readonly FleetCa _ca = FleetCa.Create("test fleet CA");

    public void Dispose()
    {
        _ca.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    [UnsupportedOSPlatform("windows")]
    public void Signature_OfTheBrokerKey_IsValid_AndTheKeyIsKeptAcrossRestarts()
    {
        byte[] publicKey;
        using (var signer = AnnouncementSigner.LoadOrCreate(_dir, _ca))
        {
            publicKey = signer.Certificate.GetECDsaPublicKey()!.ExportSubjectPublicKeyInfo();
            Assert.Equal(
                (SignatureVerdict.Valid, ""),
                AnnouncementSignatureCheck.Verify(Agent(), signer.CertificateBase64, Convert.ToBase64String(signer.Sign(Signed)), Signed));
            Assert.Equal(new PeerIdentity(AnnouncementSigner.PeerId, PeerRole.Broker, []), PeerIdentity.FromCertificate(signer.Certificate));
        }
        Assert.True(File.Exists(Path.Combine(_dir, TlsFiles.AnnouncementCertificate)));
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_dir, TlsFiles.AnnouncementKey)));

        using var restarted = AnnouncementSigner.LoadOrCreate(_dir, _ca);
        Assert.Equal(publicKey, restarted.Certificate.GetECDsaPublicKey()!.ExportSubjectPublicKeyInfo());
    }

    [Fact]
    public void ChangedContent_IsABadSignature()
    {
        using var signer = AnnouncementSigner.LoadOrCreate(_dir, _ca);
        var signature = Convert.ToBase64String(signer.Sign(Signed));
        var changed = Signed.ToArray();
        changed[^1] ^= 1;

        var (verdict, reason) = AnnouncementSignatureCheck.Verify(Agent(), signer.CertificateBase64, signature, changed);

        Assert.Equal(SignatureVerdict.BadSignature, verdict);
        Assert.Contains("does not match its content", reason, StringComparison.Ordinal);
        Assert.Equal("bad_signature", AnnouncementSignatureCheck.Label(verdict));
    }

    [Theory]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(false, false)]
    public void MissingSignerOrSignature_IsUnsigned(bool withSigner, bool withSignature)
    {
        using var signer = AnnouncementSigner.LoadOrCreate(_dir, _ca);

        var (verdict, _) = AnnouncementSignatureCheck.Verify(Agent(),
            withSigner ? signer.CertificateBase64 : null, withSignature ? Convert.ToBase64String(signer.Sign(Signed)) : null, Signed);

        Assert.Equal(SignatureVerdict.Unsigned, verdict);
    }

    [Fact]
    public void FleetMembersOwnValidSignature_IsNotTheBrokers()
    {
        // An agent (or publisher, or admin) of the fleet signs with its own certificate's key.
        using var member = _ca.IssueWithNewKey(new PeerIdentity("agent-evil", [PeerRole.Agent, PeerRole.Publisher, PeerRole.Admin], []), TimeSpan.FromDays(1));
        using var key = member.GetECDsaPrivateKey()!;
        var signature = key.SignData(Signed, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation);

        var (verdict, reason) = AnnouncementSignatureCheck.Verify(Agent(), Convert.ToBase64String(member.RawData), Convert.ToBase64String(signature), Signed);

        Assert.Equal(SignatureVerdict.UntrustedSigner, verdict);
        Assert.Contains("not the broker", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void BrokerCertificateOfAnotherFleet_IsUntrusted()
    {
        using var otherCa = FleetCa.Create("another fleet");
        using var signer = AnnouncementSigner.LoadOrCreate(Path.Combine(_dir, "other"), otherCa);

        var (verdict, reason) = AnnouncementSignatureCheck.Verify(Agent(), signer.CertificateBase64, Convert.ToBase64String(signer.Sign(Signed)), Signed);

        Assert.Equal(SignatureVerdict.UntrustedSigner, verdict);
        Assert.Contains("not trusted", reason, StringComparison.Ordinal);
    }

    [Fact]
    public void ServerCertificateFallback_SignsWithTheTlsKey()
    {
        using var server = _ca.IssueWithNewKey(new PeerIdentity("dfbroker", PeerRole.Broker, []), TimeSpan.FromDays(1), ["localhost"], [IPAddress.Loopback]);
        using var signer = AnnouncementSigner.FromCertificate(server);

        Assert.Equal(SignatureVerdict.Valid,
            AnnouncementSignatureCheck.Verify(Agent(), signer.CertificateBase64, Convert.ToBase64String(signer.Sign(Signed)), Signed).Verdict);
    }

    [Fact]
    public void GarbageSignerOrSignature_IsRefused_NotThrown()
    {
        using var signer = AnnouncementSigner.LoadOrCreate(_dir, _ca);

        Assert.Equal(SignatureVerdict.UntrustedSigner, AnnouncementSignatureCheck.Verify(Agent(), "bm90IGEgY2VydA==", "AAAA", Signed).Verdict);
        Assert.Equal(SignatureVerdict.UntrustedSigner, AnnouncementSignatureCheck.Verify(Agent(), "%%%", "AAAA", Signed).Verdict);
        Assert.Equal(SignatureVerdict.BadSignature, AnnouncementSignatureCheck.Verify(Agent(), signer.CertificateBase64, "%%%", Signed).Verdict);
        Assert.Equal(SignatureVerdict.BadSignature, AnnouncementSignatureCheck.Verify(Agent(), signer.CertificateBase64, "AAAA", Signed).Verdict);
    }

    /// <summary>An agent of this fleet: it trusts the CA (pinned at enrolment) and nothing else.</summary>
    private TlsIdentity Agent() =>
        new([X509CertificateLoader.LoadCertificate(_ca.Certificate.RawData)],
            _ca.IssueWithNewKey(new PeerIdentity("agent-1", PeerRole.Agent, []), TimeSpan.FromDays(1)), TlsCiphers.Default);
}
