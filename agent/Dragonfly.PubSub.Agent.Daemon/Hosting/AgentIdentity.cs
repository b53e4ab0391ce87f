using Dragonfly.PubSub.Agent.Announcements;
using Dragonfly.PubSub.Security;
using Dragonfly.PubSub.Transfer.Pieces;

namespace Dragonfly.PubSub.Agent.Hosting;

/// <summary>
/// The certificate this agent authenticates with, swapped atomically when it is renewed: every
/// handshake (peer port, MQTT, gRPC, renewal) asks for <see cref="Current"/>, so a renewed
/// certificate is used from the next connection on without a restart.
/// </summary>
public sealed class AgentIdentity
{
    private readonly Func<TlsIdentity>? _hosted;
    private readonly RevokedPeers _revoked;
    private volatile TlsIdentity? _current;
    private long _issuedAtTicks;

    private AgentIdentity(TlsIdentity? current, Func<TlsIdentity>? hosted, RevokedPeers revoked, string? tlsDir)
    {
        _current = current;
        _hosted = hosted;
        _revoked = revoked;
        TlsDir = tlsDir;
        PeerId = PeerIdOf(Current);
        _issuedAtTicks = IssuedAtOf(Current, tlsDir).UtcTicks;
    }

    /// <summary>An identity handed over by the hosting process (never renewed here).</summary>
    public static AgentIdentity Hosted(Func<TlsIdentity> identity, RevokedPeers revoked) => new(null, identity, revoked, null);

    /// <summary>Static files, or an enrolled certificate kept (and renewed) in <paramref name="tlsDir"/> when given.</summary>
    public static AgentIdentity FromIdentity(TlsIdentity identity, RevokedPeers revoked, string? tlsDir) => new(identity, null, revoked, tlsDir);

    public TlsIdentity Current => _hosted?.Invoke() ?? _current!;

    /// <summary>The peer id every protocol uses: the certificate's CN, assigned by the broker at enrolment.</summary>
    public string PeerId { get; }

    /// <summary>Where the enrolled certificate lives; null when it is not ours to renew (static files, hosted).</summary>
    public string? TlsDir { get; }

    public DateTimeOffset NotAfter => Current.Certificate.NotAfter.ToUniversalTime();

    /// <summary>
    /// When the current certificate was issued, as near as known: its lifetime for renewal runs from
    /// here, not from NotBefore, which the CA backdates for clock skew (minutes, against a TTL that may be one).
    /// </summary>
    public DateTimeOffset IssuedAt => new(Interlocked.Read(ref _issuedAtTicks), TimeSpan.Zero);

    /// <summary>
    /// On the fleet list this agent follows, or refused by the identity's own check: a hosted identity
    /// (the broker's seed) follows no MQTT list but carries the broker's, which must also cut open connections.
    /// </summary>
    public bool IsRevoked(string peerId) => _revoked.Contains(peerId) || Current.IsRevoked?.Invoke(peerId) == true;

    /// <summary>Uses <paramref name="renewed"/> from the next handshake on; the peer id must not change.</summary>
    public void Swap(TlsIdentity renewed)
    {
        ArgumentNullException.ThrowIfNull(renewed);
        if (PeerIdOf(renewed) != PeerId)
        {
            throw new InvalidOperationException($"a renewed certificate must keep the peer id {PeerId}");
        }
        _current = renewed;
        Interlocked.Exchange(ref _issuedAtTicks, DateTimeOffset.UtcNow.UtcTicks);
    }

    /// <summary>The peer port's TLS: fleet certificates on both sides, revoked peers refused, piece requests only with a ticket.</summary>
    public PeerTls PeerTls() => new()
    {
        ServerOptions = () => Current.ServerOptions(requireClientCertificate: true),
        ClientOptions = peerId => Current.ClientOptions(peerId, expectedPeerId: peerId),
        IsRevoked = IsRevoked,
        // Only members of a task pull its pieces: the broker's ticket, checked against the fleet CA (issue 11).
        Tickets = new PeerTicketVerifier(() => Current),
    };

    /// <summary>The time the certificate file was written (enrolment or renewal), within [NotBefore, now].</summary>
    private static DateTimeOffset IssuedAtOf(TlsIdentity identity, string? tlsDir)
    {
        var notBefore = new DateTimeOffset(identity.Certificate.NotBefore.ToUniversalTime());
        var now = DateTimeOffset.UtcNow;
        if (tlsDir is null)
        {
            return notBefore;
        }
        var written = new DateTimeOffset(File.GetLastWriteTimeUtc(Path.Combine(tlsDir, TlsFiles.AgentCertificate)), TimeSpan.Zero);
        return written < notBefore ? notBefore : written > now ? now : written;
    }

    private static string PeerIdOf(TlsIdentity identity) =>
        identity.Self?.PeerId ?? Transfer.Pieces.PeerTls.PeerIdOf(identity.Certificate)
        ?? throw new InvalidOperationException("the certificate names no peer id (CN)");
}
