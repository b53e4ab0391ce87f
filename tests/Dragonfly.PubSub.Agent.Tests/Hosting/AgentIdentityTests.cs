using System.Security.Cryptography.X509Certificates;
using Dragonfly.PubSub.Agent.Announcements;
using Dragonfly.PubSub.Agent.Hosting;
using Dragonfly.PubSub.Security;

namespace Dragonfly.PubSub.Agent.Tests.Hosting;

/// <summary>Which revocations the peer port applies, for an agent and for one hosted in another process (the broker's seed).</summary>
public sealed class AgentIdentityTests
{
    [Fact]
    public void HostedIdentity_PeerPortRefusesThePeersItsHostRevoked()
    {
        // The broker's seed follows no MQTT list: its identity carries the broker's own revocation check.
        using var ca = FleetCa.Create("test fleet");
        var hostRevoked = new HashSet<string> { "agent-revoked" };
        var seed = new TlsIdentity(
            [X509CertificateLoader.LoadCertificate(ca.Certificate.RawData)],
            ca.IssueWithNewKey(new PeerIdentity("seed-1", PeerRole.Seed, []), TimeSpan.FromHours(1)),
            TlsCiphers.Default, hostRevoked.Contains);

        var peerTls = AgentIdentity.Hosted(() => seed, new RevokedPeers()).PeerTls();

        Assert.True(peerTls.IsRevoked("agent-revoked"));
        Assert.False(peerTls.IsRevoked("agent-good"));
    }

    [Fact]
    public void Agent_PeerPortRefusesThePeersOnTheFleetList()
    {
        using var ca = FleetCa.Create("test fleet");
        var revoked = new RevokedPeers();
        var agent = new TlsIdentity(
            [X509CertificateLoader.LoadCertificate(ca.Certificate.RawData)],
            ca.IssueWithNewKey(new PeerIdentity("agent-1", PeerRole.Agent, []), TimeSpan.FromHours(1)),
            TlsCiphers.Default, revoked.Contains);
        var peerTls = AgentIdentity.FromIdentity(agent, revoked, tlsDir: null).PeerTls();

        revoked.Replace(["agent-revoked"]);

        Assert.True(peerTls.IsRevoked("agent-revoked"));
        Assert.False(peerTls.IsRevoked("agent-good"));
    }
}
