using System.Collections.Concurrent;
using Dragonfly.PubSub.Broker.Diagnostics;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Security;
using Microsoft.Extensions.Logging;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace Dragonfly.PubSub.Broker.Security;

/// <summary>
/// Secure-mode MQTT permissions, after <see cref="MqttIdentityCheck"/> has tied each client id to its
/// certificate. Publishing: only the broker writes anything on its MQTT server (announcements, the
/// revocation list); peers publish through the scheduler's gRPC, where their role and topics are checked,
/// so a client's PUBLISH (a retained fake announcement, an empty payload that wipes a topic, a forged
/// revocation list) is dropped. Subscribing: <c>dragonfly/revoked</c> is open to every fleet member;
/// announcements (<c>dragonfly/announce/FILTER</c>) to agents and admins whose certificate grants FILTER;
/// any other filter only to agents and admins whose certificate grants every topic.
/// </summary>
public sealed class MqttPermissions(ILogger<MqttPermissions> logger)
{
    private const string BrokerClientId = Announcing.AnnouncementPublisher.SenderClientId;

    /// <summary>The identity behind each accepted client id; one entry per certified peer, replaced at its next CONNECT.</summary>
    private readonly ConcurrentDictionary<string, PeerIdentity> _identities = new(StringComparer.Ordinal);

    /// <summary>Called once the CONNECT was accepted for <paramref name="peer"/> (client id = its peer id).</summary>
    public void Remember(PeerIdentity peer) => _identities[peer.PeerId] = peer;

    public Task InterceptPublishAsync(InterceptingPublishEventArgs publish)
    {
        if (publish.ClientId == BrokerClientId)
        {
            return Task.CompletedTask;
        }
        publish.ProcessPublish = false;
        publish.Response.ReasonCode = MqttPubAckReasonCode.NotAuthorized;
        publish.Response.ReasonString = "only dfbroker publishes on this server; announce with dfpub (gRPC)";
        Denied($"client '{publish.ClientId}' may not publish on {publish.ApplicationMessage.Topic} (only the broker publishes; peers announce through the scheduler)");
        return Task.CompletedTask;
    }

    public Task InterceptSubscriptionAsync(InterceptingSubscriptionEventArgs subscription)
    {
        var filter = subscription.TopicFilter.Topic;
        _identities.TryGetValue(subscription.ClientId, out var peer);
        if (Refusal(peer, filter) is { } reason)
        {
            subscription.ProcessSubscription = false;
            subscription.Response.ReasonCode = MqttSubscribeReasonCode.NotAuthorized;
            subscription.ReasonString = reason;
            Denied($"client '{subscription.ClientId}' may not subscribe to {filter}: {reason}");
        }
        return Task.CompletedTask;
    }

    /// <summary>Null when <paramref name="peer"/> may subscribe to <paramref name="filter"/>; otherwise why not.</summary>
    public static string? Refusal(PeerIdentity? peer, string filter)
    {
        if (peer is null)
        {
            return "the client has no known identity";
        }
        if (filter == RevocationEnforcer.Topic)
        {
            return null;
        }
        if (!peer.Has(PeerRole.Agent) && !peer.Has(PeerRole.Admin))
        {
            return $"its certificate's role {peer.RoleNames} does not receive announcements (agent or admin does)";
        }
        if (TopicName.FromMqttTopic(filter) is { } wanted && TopicName.ValidateFilter(wanted) is null)
        {
            return TopicGrants.Allow(peer.Topics, wanted)
                ? null
                : $"'{wanted}' is outside the topics its certificate grants ({string.Join(", ", peer.Topics)})";
        }
        return peer.Topics.Count == 0
            ? null
            : $"a certificate limited to topics ({string.Join(", ", peer.Topics)}) may subscribe only to {TopicName.AnnouncePrefix}<filter> and {RevocationEnforcer.Topic}";
    }

    private void Denied(string reason)
    {
        BrokerLog.MqttPermissionDenied(logger, reason);
        SecurityMetrics.Denied.WithLabels("mqtt").Inc();
    }
}
