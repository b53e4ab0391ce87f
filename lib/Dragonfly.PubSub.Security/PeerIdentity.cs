using System.Security.Cryptography.X509Certificates;

namespace Dragonfly.PubSub.Security;

/// <summary>
/// Who a certificate says its holder is: the peer id (the subject CN, repeated as
/// <c>urn:dragonfly:peer:&lt;id&gt;</c>), its roles (<c>urn:dragonfly:role:&lt;role&gt;</c>, one each: an agent
/// that also publishes holds agent and publisher) and the topic filters it was granted
/// (<c>urn:dragonfly:topic:&lt;percent-encoded filter&gt;</c>, one each; none means every topic).
/// </summary>
public sealed record PeerIdentity(string PeerId, IReadOnlyList<PeerRole> Roles, IReadOnlyList<string> Topics)
{
    public PeerIdentity(string peerId, PeerRole role, IReadOnlyList<string> topics)
        : this(peerId, [role], topics)
    {
    }

    public const string PeerUriPrefix = "urn:dragonfly:peer:";
    public const string RoleUriPrefix = "urn:dragonfly:role:";
    public const string TopicUriPrefix = "urn:dragonfly:topic:";

    /// <summary>The roles as written on the command line, e.g. <c>agent,publisher</c>.</summary>
    public string RoleNames => PeerRoles.Names(Roles);

    public bool Has(PeerRole role) => Roles.Contains(role);

    /// <summary>The URI SANs that carry this identity, in a fixed order.</summary>
    public IEnumerable<string> ToUris()
    {
        yield return PeerUriPrefix + Uri.EscapeDataString(PeerId);
        foreach (var role in Roles)
        {
            yield return RoleUriPrefix + role.Name();
        }
        foreach (var topic in Topics)
        {
            yield return TopicUriPrefix + Uri.EscapeDataString(topic);
        }
    }

    /// <summary>
    /// Reads the identity from a certificate; null when it has no CN, no role (or an unknown or repeated
    /// one), or a peer URI that disagrees with the CN (a certificate not made by a Dragonfly CA).
    /// </summary>
    public static PeerIdentity? FromCertificate(X509Certificate2 certificate)
    {
        var commonName = certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
        if (string.IsNullOrEmpty(commonName))
        {
            return null;
        }
        var roles = new List<PeerRole>();
        string? peerUri = null;
        var topics = new List<string>();
        foreach (var uri in SubjectAltNames.Uris(certificate))
        {
            if (uri.StartsWith(RoleUriPrefix, StringComparison.Ordinal))
            {
                if (!PeerRoles.TryParse(uri[RoleUriPrefix.Length..], out var parsed) || roles.Contains(parsed.Value))
                {
                    return null;
                }
                roles.Add(parsed.Value);
            }
            else if (uri.StartsWith(PeerUriPrefix, StringComparison.Ordinal))
            {
                peerUri = Uri.UnescapeDataString(uri[PeerUriPrefix.Length..]);
            }
            else if (uri.StartsWith(TopicUriPrefix, StringComparison.Ordinal))
            {
                topics.Add(Uri.UnescapeDataString(uri[TopicUriPrefix.Length..]));
            }
        }
        if (roles.Count == 0 || (peerUri is not null && peerUri != commonName))
        {
            return null;
        }
        return new PeerIdentity(commonName, roles, topics);
    }

    public bool Equals(PeerIdentity? other) =>
        other is not null && PeerId == other.PeerId && Roles.SequenceEqual(other.Roles) && Topics.SequenceEqual(other.Topics);

    public override int GetHashCode() => HashCode.Combine(PeerId, Roles.Count, Topics.Count);
}
