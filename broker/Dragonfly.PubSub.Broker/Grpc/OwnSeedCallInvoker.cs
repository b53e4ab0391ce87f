using Dragonfly.PubSub.Contracts.Scheduler;
using Grpc.Core;

namespace Dragonfly.PubSub.Broker.Grpc;

/// <summary>
/// The scheduler client of the broker's own seed. Its <c>Connect</c> stream is served in this process
/// (<see cref="InProcessConnectCall"/> into <see cref="SchedulerService.ConnectOwnSeedAsync"/>): over loopback
/// gRPC every event paid TLS, HTTP/2 and several thread-pool hops each way while the broker was busiest, and
/// agents wait for the seed's first PiecesSourced before they can ask for a piece. Every other call (GetManifest,
/// RegisterUrlTask, Publish) goes over <paramref name="network"/> as before, with the seed's certificate.
/// </summary>
/// <param name="seedHost">The address the seed would dial the scheduler from (see <see cref="SchedulerService.ConnectOwnSeedAsync"/>).</param>
internal sealed class OwnSeedCallInvoker(CallInvoker network, SchedulerService scheduler, string seedHost) : CallInvoker
{
    public override TResponse BlockingUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
        network.BlockingUnaryCall(method, host, options, request);

    public override AsyncUnaryCall<TResponse> AsyncUnaryCall<TRequest, TResponse>(Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
        network.AsyncUnaryCall(method, host, options, request);

    public override AsyncServerStreamingCall<TResponse> AsyncServerStreamingCall<TRequest, TResponse>(
        Method<TRequest, TResponse> method, string? host, CallOptions options, TRequest request) =>
        network.AsyncServerStreamingCall(method, host, options, request);

    public override AsyncClientStreamingCall<TRequest, TResponse> AsyncClientStreamingCall<TRequest, TResponse>(
        Method<TRequest, TResponse> method, string? host, CallOptions options) =>
        network.AsyncClientStreamingCall(method, host, options);

    public override AsyncDuplexStreamingCall<TRequest, TResponse> AsyncDuplexStreamingCall<TRequest, TResponse>(
        Method<TRequest, TResponse> method, string? host, CallOptions options)
    {
        if (!IsConnect(method))
        {
            return network.AsyncDuplexStreamingCall(method, host, options);
        }
        var call = new InProcessConnectCall(options.CancellationToken);
        call.Serve((requests, responses, callEnded) => scheduler.ConnectOwnSeedAsync(requests, responses, seedHost, callEnded));
        return (AsyncDuplexStreamingCall<TRequest, TResponse>)(object)call.ClientSide();
    }

    private static bool IsConnect(IMethod method) =>
        method.ServiceName == Scheduler.Descriptor.FullName && method.Name == nameof(Scheduler.SchedulerClient.Connect);
}
