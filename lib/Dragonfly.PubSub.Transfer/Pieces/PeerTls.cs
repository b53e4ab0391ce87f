using System.Net.Security;
using System.Security.Cryptography.X509Certificates;

namespace Dragonfly.PubSub.Transfer.Pieces;

/// <summary>
/// How the peer port authenticates (TLS 1.3, both sides present fleet certificates). The options
/// are asked for at each handshake, so a renewed certificate is used from the next connection on;
/// they must check the other side's chain against the fleet CA. The peer protocol itself checks
/// the names: the server refuses revoked clients, the fetcher refuses a parent whose certificate
/// names another peer than the scheduler said.
/// </summary>
public sealed class PeerTls
{
    /// <summary>Server options requiring and validating a client certificate.</summary>
    public required Func<SslServerAuthenticationOptions> ServerOptions { get; init; }

    /// <summary>Client options for a connection to the peer with this id.</summary>
    public required Func<string, SslClientAuthenticationOptions> ClientOptions { get; init; }

    /// <summary>
    /// Offer the bulk channel after the handshake (<see cref="BulkPeerStream"/>: the negotiated AEAD in 64 KiB
    /// frames instead of 16 KiB TLS records). On by default; a connection uses it only when both ends offer it.
    /// </summary>
    public bool BulkChannel { get; init; } = true;

    /// <summary>True for a peer id on the fleet's revocation list.</summary>
    public Func<string, bool> IsRevoked { get; init; } = static _ => false;

    /// <summary>
    /// Checks the tickets pullers present (only members of a task may pull its pieces); null = not checked
    /// (tests of the transport alone). Real agents always set it with TLS.
    /// </summary>
    public Dragonfly.PubSub.Security.PeerTicketVerifier? Tickets { get; init; }

    /// <summary>The peer id a fleet certificate names: its subject CN.</summary>
    public static string? PeerIdOf(X509Certificate? certificate)
    {
        if (certificate is null)
        {
            return null;
        }
        var cert = certificate as X509Certificate2 ?? new X509Certificate2(certificate);
        var name = cert.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
        return string.IsNullOrEmpty(name) ? null : name;
    }
}
