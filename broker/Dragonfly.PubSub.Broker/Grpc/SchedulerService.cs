using Dragonfly.PubSub.Broker.Announcing;
using Dragonfly.PubSub.Broker.Catalogue;
using Dragonfly.PubSub.Broker.Diagnostics;
using Dragonfly.PubSub.Broker.Security;
using Dragonfly.PubSub.Broker.Swarm;
using Dragonfly.PubSub.Broker.UrlTasks;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Scheduler;
using Grpc.Core;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Dragonfly.PubSub.Broker.Grpc;

/// <summary>The gRPC scheduler: maps messages and status codes, and leaves the logic to the catalogue and the coordinator.</summary>
public sealed class SchedulerService(
    ManifestCatalogue catalogue,
    AnnouncementPublisher announcer,
    SwarmCoordinator coordinator,
    IUrlTaskIntake urlTasks,
    SchedulerPermissions permissions,
    TimeProvider time,
    IHostApplicationLifetime lifetime,
    ILogger<SchedulerService> logger) : Scheduler.SchedulerBase
{
    public override async Task<PublishResponse> Publish(PublishRequest request, ServerCallContext context)
    {
        var manifest = request.Manifest;
        if (manifest is null)
        {
            BrokerLog.PublishRejected(logger, "no manifest");
            throw new RpcException(new Status(StatusCode.InvalidArgument, "the publish request carries no manifest"));
        }
        if (manifest.Validate() is { } problem)
        {
            BrokerLog.PublishRejected(logger, problem);
            throw new RpcException(new Status(StatusCode.InvalidArgument, problem));
        }
        permissions.RequirePublisher(context, manifest.Topic, "Publish");
        if (catalogue.Find(manifest.Digest) is { } known && known.PieceSize != manifest.PieceSize)
        {
            // Peers of one task must agree on its pieces: a second layout of the same bytes would
            // make every piece fail verification between the two groups.
            var message = $"{manifest.Digest} is already published with {known.PieceSize}-byte pieces; publish it again without --piece-size or with the same piece size";
            BrokerLog.PublishRejected(logger, message);
            throw new RpcException(new Status(StatusCode.InvalidArgument, message));
        }
        // The announcement's time is the broker's, never the publisher's clock (which could date it 2099);
        // its order is the sequence number the catalogue assigns (signed announcements, issue 11).
        var now = time.GetUtcNow();
        manifest = manifest.Clone();
        manifest.CreatedAtUnixMs = now.ToUnixTimeMilliseconds();
        announcer.SealManifest(manifest);
        var alreadyKnown = catalogue.Store(manifest, now, out var sequence);
        // The publisher is a member before anyone hears of the task: the first subscribers' parent sets name it
        // (its own join could only follow this call's answer, ~50-70 ms after the announcement on a busy host).
        if (permissions.PublishingPeer(context, manifest) is { Length: > 0 } publisher)
        {
            await coordinator.JoinPublisherAsync(publisher, manifest.Digest, manifest.PieceDigests.Count, context.CancellationToken).ConfigureAwait(false);
        }
        await announcer.PublishAsync(manifest, sequence, alreadyKnown, context.CancellationToken).ConfigureAwait(false);
        return new PublishResponse { Digest = manifest.Digest, AlreadyKnown = alreadyKnown };
    }

    public override async Task<Manifest> GetManifest(GetManifestRequest request, ServerCallContext context)
    {
        if (!ContentDigest.TryParse(request.Digest, out _))
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument,
                $"'{request.Digest}' is not a content id; expected sha256: followed by 64 lowercase hex digits"));
        }
        // A content task's manifest never changes: answered from the catalogue, without queueing behind
        // the swarm's events in the task's shard.
        var stored = catalogue.Find(request.Digest);
        if (stored is { UrlTask: false })
        {
            return stored;
        }
        // A live URL task first: its piece digests grow while its source fetches it. Read the catalogue
        // again only when it had nothing: the source may have finished (and stored the task) meanwhile.
        var manifest = await coordinator.UrlManifestAsync(request.Digest, context.CancellationToken).ConfigureAwait(false)
            ?? stored
            ?? catalogue.Find(request.Digest)
            ?? throw new RpcException(new Status(StatusCode.NotFound,
                $"no task {request.Digest} is known to this broker; publish it first"));
        return manifest;
    }

    public override async Task<Manifest> RegisterUrlTask(RegisterUrlTaskRequest request, ServerCallContext context)
    {
        permissions.AuthorizeUrlTask(context, request);
        var outcome = await urlTasks.RegisterAsync(request, context.CancellationToken).ConfigureAwait(false);
        return outcome.Manifest ?? throw Refusal(outcome);
    }

    /// <summary>A refused registration on the wire: its status, its line, and what the origin answered in the dragonfly-error-kind trailer.</summary>
    public static RpcException Refusal(UrlTaskOutcome outcome) =>
        new(new Status(StatusOf(outcome.ErrorKind), outcome.Error ?? "the URL task could not be registered"),
            new Metadata { { TaskErrorKinds.TrailerKey, TaskErrorKinds.Name(outcome.Cause) } });

    /// <summary>The status of a failed registration (see the proto's RegisterUrlTask comment).</summary>
    public static StatusCode StatusOf(UrlTaskErrorKind kind) => kind switch
    {
        UrlTaskErrorKind.InvalidArgument => StatusCode.InvalidArgument,
        UrlTaskErrorKind.NotFound => StatusCode.NotFound,
        UrlTaskErrorKind.FailedPrecondition => StatusCode.FailedPrecondition,
        _ => StatusCode.Unavailable,
    };

    public override Task Connect(
        IAsyncStreamReader<PeerEvent> requestStream,
        IServerStreamWriter<SchedulerEvent> responseStream,
        ServerCallContext context) =>
        ServeSessionAsync(requestStream, responseStream,
            hello => new SessionCaller(RemoteHost(context), LocalHost(context), permissions.MaySource(context, hello), permissions.JoinGrants(context)),
            context.CancellationToken);

    /// <summary>
    /// The session of the broker's own seed, whose <c>Connect</c> stream is a pair of in-process queues
    /// (<see cref="OwnSeedCallInvoker"/>); only <see cref="Hosting.BrokerSeed"/> opens one. It is what the seed's
    /// certificate gives it over the network: it may source, and joins without topic limits. <paramref name="host"/>
    /// stands for the address the seed would dial the scheduler from.
    /// </summary>
    internal Task ConnectOwnSeedAsync(
        IAsyncStreamReader<PeerEvent> requestStream, IServerStreamWriter<SchedulerEvent> responseStream, string host, CancellationToken cancellationToken)
    {
        if (lifetime.ApplicationStopping.IsCancellationRequested)
        {
            // Kestrel refuses a network stream by now; without this the seed would reconnect until it is stopped.
            throw new RpcException(new Status(StatusCode.Unavailable, "the broker is stopping"));
        }
        var caller = new SessionCaller(host, host, MaySource: true, permissions.OwnSeedJoinGrants);
        return ServeSessionAsync(requestStream, responseStream, _ => caller, cancellationToken);
    }

    /// <summary>One agent's session, over the network or in process: Hello, Welcome, then its events until either side ends it.</summary>
    /// <param name="callerOf">Who the caller is, given its Hello (may throw PermissionDenied).</param>
    private async Task ServeSessionAsync(
        IAsyncStreamReader<PeerEvent> requestStream,
        IServerStreamWriter<SchedulerEvent> responseStream,
        Func<Hello, SessionCaller> callerOf,
        CancellationToken callEnded)
    {
        if (!await requestStream.MoveNext(callEnded).ConfigureAwait(false))
        {
            return;
        }
        var first = requestStream.Current;
        if (first.EventCase != PeerEvent.EventOneofCase.Hello)
        {
            BrokerLog.StreamRejected(logger, $"first message was {first.EventCase}, not Hello");
            throw new RpcException(new Status(StatusCode.InvalidArgument, "the first message on Connect must be a Hello"));
        }
        var hello = first.Hello;
        if (string.IsNullOrWhiteSpace(hello.PeerId))
        {
            BrokerLog.StreamRejected(logger, "Hello without a peer id");
            throw new RpcException(new Status(StatusCode.InvalidArgument, "Hello.peer_id is empty; every agent needs a peer id"));
        }
        if (hello.PeerPort is < 1 or > 65535)
        {
            BrokerLog.StreamRejected(logger, $"Hello from {hello.PeerId} with peer port {hello.PeerPort}");
            throw new RpcException(new Status(StatusCode.InvalidArgument, $"Hello.peer_port {hello.PeerPort} is not a port; send the bound peer port"));
        }

        var caller = callerOf(hello);
        var session = PeerSession.FromHello(hello, caller.RemoteHost, caller.LocalHost, caller.MaySource, caller.JoinGrants);
        // Welcome goes into the outbound queue before the coordinator can queue anything else.
        var welcome = SwarmCoordinator.Welcome(coordinator.BrokerId);
        welcome.Welcome.MqttUrl = announcer.SubscriberUrl?.GetLeftPart(UriPartial.Authority) ?? ""; // an external MQTT broker (--mqtt-url)
        session.Send(welcome);
        coordinator.Connect(session);

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(
            callEnded, session.Closed, lifetime.ApplicationStopping);
        var writer = WriteAsync(session, responseStream, stop);
        try
        {
            while (await requestStream.MoveNext(stop.Token).ConfigureAwait(false))
            {
                coordinator.Handle(session, requestStream.Current);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException || (e is RpcException && stop.IsCancellationRequested))
        {
            // The agent went away, was replaced by a newer session, or the broker is stopping.
        }
        finally
        {
            if (session.Dropped is { } reason)
            {
                BrokerLog.SessionDropped(logger, session.PeerId, reason == "flood"
                    ? $"more than {PeerSession.MaxPending} of its events waited to be applied (it sends faster than the scheduler keeps up)"
                    : $"more than {PeerSession.MaxOutbound} events for it waited to be sent (it reads too slowly)");
            }
            coordinator.Disconnect(session);
            await stop.CancelAsync().ConfigureAwait(false);
            await writer.ConfigureAwait(false);
        }
    }

    private static async Task WriteAsync(PeerSession session, IServerStreamWriter<SchedulerEvent> responseStream, CancellationTokenSource stop)
    {
        try
        {
            await OutboundPump.RunAsync(session.Outbound, responseStream, stop.Token, m => session.Written(m)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or InvalidOperationException or RpcException)
        {
            // The stream is gone; the reader side ends the session.
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
        }
    }

    private static string RemoteHost(ServerCallContext context) =>
        AddressText(context.GetHttpContext().Connection.RemoteIpAddress) ?? "127.0.0.1";

    /// <summary>The broker's address as this agent reached it.</summary>
    private static string LocalHost(ServerCallContext context) =>
        AddressText(context.GetHttpContext().Connection.LocalIpAddress) ?? "";

    /// <summary>An address as a session's host: IPv4-mapped IPv6 addresses as IPv4.</summary>
    internal static string? AddressText(System.Net.IPAddress? address)
    {
        if (address is null)
        {
            return null;
        }
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }
        return address.ToString();
    }

    /// <summary>What a session's identity says beyond its Hello: where it came from and what it may do.</summary>
    /// <param name="RemoteHost">Its address as the broker saw it (its host when the Hello names none).</param>
    /// <param name="LocalHost">The broker's address as it reached it.</param>
    /// <param name="JoinGrants">The topic filters of the tasks it may join; null: all.</param>
    private sealed record SessionCaller(string RemoteHost, string LocalHost, bool MaySource, IReadOnlyList<string>? JoinGrants);
}
