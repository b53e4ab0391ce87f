namespace Dragonfly.PubSub.Security;

/// <summary>The verdict on a certificate a peer presented: its identity, or why it was refused (one line for the log).</summary>
public sealed record CertificateCheck(PeerIdentity? Peer, string? Failure)
{
    public bool Ok => Peer is not null;

    public static CertificateCheck Accepted(PeerIdentity peer) => new(peer, null);

    public static CertificateCheck Refused(string failure) => new(null, failure);
}
