using System.Security.Cryptography.X509Certificates;

namespace Dragonfly.PubSub.Security;

/// <summary>
/// Who a certificate says its holder is: the peer id (the subject CN, repeated as
/// <c>urn:dragonfly:peer:&lt;id&gt;</c>), the role (<c>urn:dragonfly:role:&lt;role&gt;</c>) and the topic
/// filters it was granted (<c>urn:dragonfly:topic:&lt;percent-encoded filter&gt;</c>, one each).
/// </summary>
public sealed record PeerIdentity(string PeerId, PeerRole Role, IReadOnlyList<string> Topics)
{
    public const string PeerUriPrefix = "urn:dragonfly:peer:";
    public const string RoleUriPrefix = "urn:dragonfly:role:";
    public const string TopicUriPrefix = "urn:dragonfly:topic:";

    /// <summary>The URI SANs that carry this identity, in a fixed order.</summary>
    public IEnumerable<string> ToUris()
    {
        yield return PeerUriPrefix + Uri.EscapeDataString(PeerId);
        yield return RoleUriPrefix + Role.Name();
        foreach (var topic in Topics)
        {
            yield return TopicUriPrefix + Uri.EscapeDataString(topic);
        }
    }

    /// <summary>
    /// Reads the identity from a certificate; null when it has no CN, no role, or a peer URI that
    /// disagrees with the CN (a certificate not made by a Dragonfly CA).
    /// </summary>
    public static PeerIdentity? FromCertificate(X509Certificate2 certificate)
    {
        var commonName = certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
        if (string.IsNullOrEmpty(commonName))
        {
            return null;
        }
        PeerRole? role = null;
        string? peerUri = null;
        var topics = new List<string>();
        foreach (var uri in SubjectAltNames.Uris(certificate))
        {
            if (uri.StartsWith(RoleUriPrefix, StringComparison.Ordinal))
            {
                if (!PeerRoles.TryParse(uri[RoleUriPrefix.Length..], out var parsed) || role is not null)
                {
                    return null;
                }
                role = parsed;
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
        if (role is null || (peerUri is not null && peerUri != commonName))
        {
            return null;
        }
        return new PeerIdentity(commonName, role.Value, topics);
    }

    public bool Equals(PeerIdentity? other) =>
        other is not null && PeerId == other.PeerId && Role == other.Role && Topics.SequenceEqual(other.Topics);

    public override int GetHashCode() => HashCode.Combine(PeerId, Role, Topics.Count);
}
