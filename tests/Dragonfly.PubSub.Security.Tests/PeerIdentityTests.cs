using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Dragonfly.PubSub.Security.Tests;

public sealed class PeerIdentityTests
{
    [Fact]
    public void Uris_PercentEncodeTopicFilters_SoThatSlashPlusAndHashRoundTrip()
    {
        var identity = new PeerIdentity("seed-1", PeerRole.Seed, ["a/+/c", "d/#", "with space"]);

        var uris = identity.ToUris().ToList();

        Assert.Equal(
            ["urn:dragonfly:peer:seed-1", "urn:dragonfly:role:seed", "urn:dragonfly:topic:a%2F%2B%2Fc", "urn:dragonfly:topic:d%2F%23", "urn:dragonfly:topic:with%20space"],
            uris);
        using var ca = FleetCa.Create("ca");
        using var cert = ca.IssueWithNewKey(identity, TimeSpan.FromHours(1));
        Assert.Equal(identity, PeerIdentity.FromCertificate(cert));
    }

    [Fact]
    public void SeveralRoles_AreOneUriEach_AndRoundTrip()
    {
        var identity = new PeerIdentity("agent-1", [PeerRole.Agent, PeerRole.Publisher], ["releases/#"]);

        Assert.Equal(["urn:dragonfly:role:agent", "urn:dragonfly:role:publisher"], identity.ToUris().Where(u => u.StartsWith(PeerIdentity.RoleUriPrefix, StringComparison.Ordinal)));
        using var ca = FleetCa.Create("ca");
        using var cert = ca.IssueWithNewKey(identity, TimeSpan.FromHours(1));
        var read = PeerIdentity.FromCertificate(cert)!;
        Assert.Equal(identity, read);
        Assert.True(read.Has(PeerRole.Publisher) && !read.Has(PeerRole.Seed));
        Assert.Equal("agent,publisher", read.RoleNames);
    }

    [Fact]
    public void FromCertificate_WithARepeatedRole_IsNull()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=agent-a", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(SubjectAltNames.Build(["urn:dragonfly:role:agent", "urn:dragonfly:role:agent"], [], []));
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddHours(1));

        Assert.Null(PeerIdentity.FromCertificate(cert));
    }

    [Theory]
    [InlineData("agent,publisher", new[] { PeerRole.Agent, PeerRole.Publisher })]
    [InlineData("seed", new[] { PeerRole.Seed })]
    [InlineData(" agent , agent ", new[] { PeerRole.Agent })]
    public void RoleLists_Parse(string text, PeerRole[] expected)
    {
        Assert.True(PeerRoles.TryParseList(text, out var roles));
        Assert.Equal(expected, roles);
    }

    [Theory]
    [InlineData("")]
    [InlineData("agent,")]
    [InlineData("agent,bogus")]
    public void RoleLists_WithAnEmptyOrUnknownName_AreRefused(string text)
    {
        Assert.False(PeerRoles.TryParseList(text, out var roles));
        Assert.Empty(roles);
    }

    [Fact]
    public void FromCertificate_WithoutRoleUri_IsNull()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        using var plain = new CertificateRequest("CN=somebody", key, HashAlgorithmName.SHA256)
            .CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddHours(1));

        Assert.Null(PeerIdentity.FromCertificate(plain));
    }

    [Fact]
    public void FromCertificate_PeerUriDisagreeingWithCn_IsNull()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=agent-a", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(SubjectAltNames.Build(["urn:dragonfly:peer:agent-b", "urn:dragonfly:role:agent"], [], []));
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddHours(1));

        Assert.Null(PeerIdentity.FromCertificate(cert));
    }

    [Theory]
    [InlineData("agent", PeerRole.Agent)]
    [InlineData("seed", PeerRole.Seed)]
    [InlineData("publisher", PeerRole.Publisher)]
    [InlineData("admin", PeerRole.Admin)]
    public void Roles_RoundTripByName(string name, PeerRole role)
    {
        Assert.True(PeerRoles.TryParse(name, out var parsed));
        Assert.Equal(role, parsed);
        Assert.Equal(name, role.Name());
        Assert.False(PeerRoles.TryParse("Agent", out _));
    }
}
