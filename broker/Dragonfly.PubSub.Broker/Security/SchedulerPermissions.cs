using Dragonfly.PubSub.Broker.Diagnostics;
using Dragonfly.PubSub.Contracts.Scheduler;
using Dragonfly.PubSub.Security;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace Dragonfly.PubSub.Broker.Security;

/// <summary>
/// What the caller's certificate lets it do on the scheduler (secure mode; with <c>--insecure</c> there
/// are no identities and every call is allowed). <see cref="SchedulerIdentityInterceptor"/> has
/// authenticated the call and left the identity in the call's items.
/// <list type="bullet">
/// <item>Publish and a URL task announced on a topic: the publisher role, and a topic its certificate grants.</item>
/// <item>A URL task without a topic (dfget, mirror blobs): agent, publisher or admin.</item>
/// <item>Being a URL task's source (Hello.seed, or the member chosen when no seed is up): the seed role only,
/// because the source receives the task's URL and credentials and vouches for its piece digests.</item>
/// </list>
/// </summary>
public sealed class SchedulerPermissions(bool secure, ILogger<SchedulerPermissions> logger)
{
    private const string ItemKey = "dragonfly.peer";

    /// <summary>Keeps the authenticated identity with the call, for the service to read.</summary>
    public static void Attach(ServerCallContext context, PeerIdentity peer) => context.GetHttpContext().Items[ItemKey] = peer;

    /// <summary>Throws PermissionDenied unless the caller may announce on <paramref name="topic"/>.</summary>
    public void RequirePublisher(ServerCallContext context, string topic, string what)
    {
        if (Caller(context) is not { } peer)
        {
            return;
        }
        if (!peer.Has(PeerRole.Publisher))
        {
            throw Deny($"{what}: peer {peer.PeerId} (role {peer.RoleNames}) may not announce; publish from a machine enrolled with a token of role publisher (e.g. dfbroker token create --role agent,publisher)");
        }
        if (!TopicGrants.Allow(peer.Topics, topic))
        {
            throw Deny($"{what}: peer {peer.PeerId} may not announce on topic '{topic}'; its certificate grants only {string.Join(", ", peer.Topics)}");
        }
    }

    /// <summary>
    /// Throws PermissionDenied unless the caller may register <paramref name="request"/>; in secure mode the
    /// requester becomes the caller's own peer id (the request's field is the client's word only).
    /// </summary>
    public void AuthorizeUrlTask(ServerCallContext context, RegisterUrlTaskRequest request)
    {
        if (Caller(context) is not { } peer)
        {
            return;
        }
        if (request.Topic.Length > 0)
        {
            RequirePublisher(context, request.Topic, "RegisterUrlTask");
        }
        else if (!peer.Has(PeerRole.Agent) && !peer.Has(PeerRole.Publisher) && !peer.Has(PeerRole.Admin))
        {
            throw Deny($"RegisterUrlTask: peer {peer.PeerId} (role {peer.RoleNames}) may not register URL tasks (agent, publisher or admin may)");
        }
        request.Requester = peer.PeerId;
    }

    /// <summary>
    /// Whether the caller of <c>Connect</c> may be a URL task's source; throws PermissionDenied when its
    /// Hello claims to be a seed and its certificate does not have the seed role.
    /// </summary>
    public bool MaySource(ServerCallContext context, Hello hello)
    {
        if (Caller(context) is not { } peer)
        {
            return true;
        }
        if (hello.Seed && !peer.Has(PeerRole.Seed))
        {
            throw Deny($"Hello.seed: peer {peer.PeerId} (role {peer.RoleNames}) is not a seed; enrol seeds with a token of role seed (dfbroker token create --role seed)");
        }
        return peer.Has(PeerRole.Seed);
    }

    /// <summary>Who publishes: the caller's certificate in secure mode; with --insecure the manifest's word.</summary>
    public string PublishingPeer(ServerCallContext context, Manifest manifest) => Caller(context)?.PeerId ?? manifest.Publisher;

    /// <summary>The topic filters that decide which tasks the caller of <c>Connect</c> may join; null with --insecure (all).</summary>
    public IReadOnlyList<string>? JoinGrants(ServerCallContext context) => Caller(context)?.Topics;

    /// <summary>
    /// The join grants of the broker's own seed, connected in process: those of its certificate (role seed,
    /// no topics, see <c>Enrollment.IssueSeed</c>) in secure mode; null with --insecure, as <see cref="JoinGrants"/>.
    /// </summary>
    public IReadOnlyList<string>? OwnSeedJoinGrants => secure ? [] : null;

    /// <summary>The caller's identity in secure mode; null with --insecure. A secure call without one is refused.</summary>
    private PeerIdentity? Caller(ServerCallContext context)
    {
        if (!secure)
        {
            return null;
        }
        return context.GetHttpContext().Items.TryGetValue(ItemKey, out var item) && item is PeerIdentity peer
            ? peer
            : throw Deny($"{context.Method}: the call carries no authenticated identity");
    }

    private RpcException Deny(string reason)
    {
        BrokerLog.SchedulerPermissionDenied(logger, reason);
        SecurityMetrics.Denied.WithLabels("grpc").Inc();
        return new RpcException(new Status(StatusCode.PermissionDenied, reason));
    }
}
