using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Dragonfly.PubSub.Security;

/// <summary>
/// Checks a <see cref="PeerTicket"/> a puller presents on the peer port: signed by a broker certificate
/// of this fleet (chain to the trusted CA, role broker, not revoked), for the caller's own peer id, not
/// expired. Signer certificates that passed are remembered for a few minutes, so a ticket costs one
/// signature check. Thread-safe.
/// </summary>
public sealed class PeerTicketVerifier(Func<TlsIdentity> identity)
{
    private const int MaxSigners = 32;
    private static readonly TimeSpan SignerRecheck = TimeSpan.FromMinutes(5);

    private readonly ConcurrentDictionary<string, (X509Certificate2 Certificate, DateTimeOffset CheckedAt)> _signers = new(StringComparer.Ordinal);

    /// <summary>The ticket when it lets <paramref name="callerPeerId"/> pull its task now; otherwise null and why (one line).</summary>
    public PeerTicket? Verify(ReadOnlySpan<byte> bytes, string callerPeerId, out string? problem)
    {
        var ticket = PeerTicket.TryParse(bytes, out problem);
        if (ticket is null)
        {
            return null;
        }
        var current = identity();
        var now = current.Time.GetUtcNow();
        if (ticket.PeerId != callerPeerId)
        {
            problem = $"a ticket issued to peer {ticket.PeerId}, presented by peer {callerPeerId}";
            return null;
        }
        if (ticket.Expires <= now)
        {
            problem = $"a ticket that expired at {ticket.Expires:u}";
            return null;
        }
        if (Signer(ticket.Signer, current, now, out problem) is not { } signer)
        {
            return null;
        }
        if (!ticket.IsSignedBy(signer))
        {
            problem = "a ticket whose signature does not verify";
            return null;
        }
        return ticket;
    }

    private X509Certificate2? Signer(byte[] der, TlsIdentity current, DateTimeOffset now, out string? problem)
    {
        problem = null;
        var key = Convert.ToHexString(SHA256.HashData(der));
        if (_signers.TryGetValue(key, out var known) && now - known.CheckedAt < SignerRecheck && now < known.Certificate.NotAfter)
        {
            return known.Certificate;
        }
        X509Certificate2 certificate;
        try
        {
            certificate = X509CertificateLoader.LoadCertificate(der);
        }
        catch (CryptographicException)
        {
            problem = "a ticket whose signer is not a certificate";
            return null;
        }
        var check = current.Check(certificate);
        if (!check.Ok)
        {
            problem = "a ticket not signed by this fleet's broker: " + check.Failure;
            return null;
        }
        if (!check.Peer!.Has(PeerRole.Broker))
        {
            problem = $"a ticket signed by peer {check.Peer.PeerId} (role {check.Peer.RoleNames}), not by a broker";
            return null;
        }
        if (_signers.Count >= MaxSigners)
        {
            _signers.Clear();
        }
        _signers[key] = (certificate, now);
        return certificate;
    }
}
