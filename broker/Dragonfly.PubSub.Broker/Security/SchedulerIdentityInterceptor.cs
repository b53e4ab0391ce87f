using Dragonfly.PubSub.Broker.Diagnostics;
using Dragonfly.PubSub.Contracts.Scheduler;
using Dragonfly.PubSub.Security;
using Grpc.Core;
using Grpc.Core.Interceptors;
using Microsoft.Extensions.Logging;

namespace Dragonfly.PubSub.Broker.Security;

/// <summary>
/// Secure-mode gRPC check, in front of the scheduler service: every call needs a valid, unrevoked
/// fleet certificate (the handshake checked it; a long-lived HTTP/2 connection may outlive a revocation,
/// so each call checks again), and on <c>Connect</c> the Hello's peer id must be the certificate's.
/// Connect streams are registered so that a revocation can cut them.
/// </summary>
public sealed class SchedulerIdentityInterceptor(BrokerTls tls, LiveSchedulerStreams streams, ILogger<SchedulerIdentityInterceptor> logger) : Interceptor
{
    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(
        TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        Authenticate(context);
        return await continuation(request, context).ConfigureAwait(false);
    }

    public override async Task ServerStreamingServerHandler<TRequest, TResponse>(
        TRequest request, IServerStreamWriter<TResponse> responseStream, ServerCallContext context, ServerStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Authenticate(context);
        await continuation(request, responseStream, context).ConfigureAwait(false);
    }

    public override async Task<TResponse> ClientStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, ServerCallContext context, ClientStreamingServerMethod<TRequest, TResponse> continuation)
    {
        Authenticate(context);
        return await continuation(requestStream, context).ConfigureAwait(false);
    }

    public override async Task DuplexStreamingServerHandler<TRequest, TResponse>(
        IAsyncStreamReader<TRequest> requestStream, IServerStreamWriter<TResponse> responseStream, ServerCallContext context,
        DuplexStreamingServerMethod<TRequest, TResponse> continuation)
    {
        var peer = Authenticate(context);
        using var registration = streams.Register(peer.PeerId, context.GetHttpContext());
        if (requestStream is IAsyncStreamReader<PeerEvent> events)
        {
            requestStream = (IAsyncStreamReader<TRequest>)(object)new HelloMustMatch(events, peer.PeerId, this);
        }
        await continuation(requestStream, responseStream, context).ConfigureAwait(false);
    }

    private PeerIdentity Authenticate(ServerCallContext context)
    {
        var certificate = context.GetHttpContext().Connection.ClientCertificate;
        var check = certificate is null ? CertificateCheck.Refused("no client certificate") : tls.Check(certificate);
        if (check.Peer is { } peer)
        {
            SchedulerPermissions.Attach(context, peer);
            return peer;
        }
        throw Refuse(StatusCode.Unauthenticated, $"{context.Method}: {check.Failure}");
    }

    private RpcException Refuse(StatusCode code, string reason)
    {
        BrokerLog.SchedulerIdentityRefused(logger, reason);
        SecurityMetrics.Refused.WithLabels("grpc").Inc();
        return new RpcException(new Status(code, reason));
    }

    /// <summary>Passes the stream through, checking the first message (the Hello) against the certificate.</summary>
    private sealed class HelloMustMatch(IAsyncStreamReader<PeerEvent> inner, string peerId, SchedulerIdentityInterceptor owner) : IAsyncStreamReader<PeerEvent>
    {
        private bool _first = true;

        public PeerEvent Current => inner.Current;

        public async Task<bool> MoveNext(CancellationToken cancellationToken)
        {
            var more = await inner.MoveNext(cancellationToken).ConfigureAwait(false);
            if (more && _first)
            {
                _first = false;
                if (inner.Current.EventCase == PeerEvent.EventOneofCase.Hello && inner.Current.Hello.PeerId != peerId)
                {
                    throw owner.Refuse(StatusCode.PermissionDenied,
                        $"Hello.peer_id '{inner.Current.Hello.PeerId}' is not the peer id '{peerId}' of the client certificate; the agent must use the id its certificate was issued for");
                }
            }
            return more;
        }
    }
}
