using Dragonfly.PubSub.Agent.Configuration;
using Grpc.Net.Client;

namespace Dragonfly.PubSub.Agent.Hosting;

/// <summary>
/// The gRPC channel to the broker's scheduler: HTTPS/2 with this agent's client certificate (the
/// current one at each new connection, so renewals apply) and only the fleet CA trusted; h2c with --insecure.
/// </summary>
public static class SchedulerChannel
{
    public static GrpcChannel Create(AgentOptions options, AgentRuntime runtime)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(runtime);
        var handler = new SocketsHttpHandler
        {
            ConnectTimeout = TimeSpan.FromSeconds(5),
            KeepAlivePingDelay = TimeSpan.FromSeconds(15),
            KeepAlivePingTimeout = TimeSpan.FromSeconds(10),
            EnableMultipleHttp2Connections = true,
        };
        var scheme = "http";
        if (runtime.Identity is { } identity)
        {
            scheme = "https";
            var ssl = identity.Current.ClientOptions(options.BrokerHost);
            // Those options hold the certificate of the moment; take the current one at each handshake.
            ssl.ClientCertificateContext = null;
            ssl.LocalCertificateSelectionCallback = (_, _, _, _, _) => identity.Current.Certificate;
            ssl.RemoteCertificateValidationCallback = (sender, certificate, chain, errors) =>
                identity.Current.ClientOptions(options.BrokerHost).RemoteCertificateValidationCallback!(sender, certificate, chain, errors);
            handler.SslOptions = ssl;
        }
        var host = options.BrokerHost.Contains(':', StringComparison.Ordinal) ? $"[{options.BrokerHost}]" : options.BrokerHost;
        return GrpcChannel.ForAddress($"{scheme}://{host}:{options.BrokerGrpcPort}", new GrpcChannelOptions { HttpHandler = handler });
    }
}
