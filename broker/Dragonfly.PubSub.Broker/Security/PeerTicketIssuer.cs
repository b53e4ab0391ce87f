using System.Security.Cryptography.X509Certificates;
using Dragonfly.PubSub.Broker.Swarm;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Security;
using Google.Protobuf;

namespace Dragonfly.PubSub.Broker.Security;

/// <summary>
/// Signs the <see cref="PeerTicket"/>s that let the members of a task pull its pieces from each other
/// (issue 11, attack 4), with the broker's own server certificate (role broker, issued by the fleet CA,
/// which every peer trusts). A member's ticket rides in its ParentSets and is re-signed only when half
/// of its life has passed, so most parent sets cost no signature. Secure mode only: with --insecure
/// there are no identities to bind a ticket to. Thread-safe (each shard keeps its members' tickets).
/// </summary>
public sealed class PeerTicketIssuer(Func<X509Certificate2> signer, TimeProvider time)
{
    /// <summary>How long a ticket lets its member pull; a download that outlives it gets a new one with its next parent set.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromHours(1);

    /// <summary>A ticket for <paramref name="peerId"/> to pull the task <paramref name="digest"/> (sha256:hex), valid for <see cref="Lifetime"/>.</summary>
    public (ByteString Ticket, DateTimeOffset Expires) Issue(string digest, string peerId)
    {
        if (!ContentDigest.TryParse(digest, out var parsed))
        {
            throw new ArgumentException($"'{digest}' is not a task id", nameof(digest));
        }
        var expires = time.GetUtcNow() + Lifetime;
        var ticket = PeerTicket.Sign(Convert.FromHexString(parsed.Value.Hex), peerId, expires, signer());
        return (ByteString.CopyFrom(ticket), expires);
    }

    /// <summary>The member's current ticket for its task, re-signed once less than half its life is left.</summary>
    internal ByteString For(TaskMember member, string digest)
    {
        if (member.Ticket is null || member.TicketExpires - time.GetUtcNow() < Lifetime / 2)
        {
            (member.Ticket, member.TicketExpires) = Issue(digest, member.PeerId);
        }
        return member.Ticket;
    }
}
