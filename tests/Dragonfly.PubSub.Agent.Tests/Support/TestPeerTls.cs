using System.Security.Cryptography.X509Certificates;
using Dragonfly.PubSub.Security;
using Dragonfly.PubSub.Transfer.Pieces;

namespace Dragonfly.PubSub.Agent.Tests.Support;

/// <summary>Peer-port TLS for a test peer: a certificate of <c>ca</c> naming the peer id, and the fleet's revocation list.</summary>
public static class TestPeerTls
{
    private static readonly TimeSpan Lifetime = TimeSpan.FromHours(1);

    /// <summary>The peer port's TLS options as the agent builds them: client certificates required, the parent's must name the expected peer id.</summary>
    internal static PeerTls Create(FleetCa ca, string peerId, ISet<string> revoked, TlsCiphers? ciphers = null, FleetCa? trustAlso = null, bool bulkChannel = true)
    {
        var identity = Identity(ca, peerId, revoked, ciphers ?? TlsCiphers.Default, trustAlso);
        return new PeerTls
        {
            ServerOptions = () => identity.ServerOptions(requireClientCertificate: true),
            ClientOptions = id => identity.ClientOptions(id, expectedPeerId: id),
            IsRevoked = revoked.Contains,
            BulkChannel = bulkChannel,
        };
    }

    public static TlsIdentity Identity(FleetCa ca, string peerId, ISet<string> revoked, TlsCiphers ciphers, FleetCa? trustAlso = null)
    {
        var trusted = new X509Certificate2Collection(ca.Certificate);
        if (trustAlso is not null)
        {
            trusted.Add(trustAlso.Certificate);
        }
        return new TlsIdentity(trusted, ca.IssueWithNewKey(new PeerIdentity(peerId, PeerRole.Agent, []), Lifetime), ciphers, revoked.Contains);
    }
}
