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
        return Create(options, runtime, options.BrokerHost, options.BrokerGrpcPort, options.BrokerHost);
    }

    /// <summary>A channel to one of several brokers: dial <paramref name="host"/>, check the certificate for <paramref name="tlsHost"/>.</summary>
    public static GrpcChannel Create(AgentOptions options, AgentRuntime runtime, string host, int port, string tlsHost)
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
            var ssl = identity.Current.ClientOptions(tlsHost);
            // Those options hold the certificate of the moment; take the current one at each handshake.
            ssl.ClientCertificateContext = null;
            ssl.LocalCertificateSelectionCallback = (_, _, _, _, _) => identity.Current.Certificate;
            ssl.RemoteCertificateValidationCallback = (sender, certificate, chain, errors) =>
                identity.Current.ClientOptions(tlsHost).RemoteCertificateValidationCallback!(sender, certificate, chain, errors);
            handler.SslOptions = ssl;
        }
        var authority = host.Contains(':', StringComparison.Ordinal) ? $"[{host}]" : host;
        return GrpcChannel.ForAddress($"{scheme}://{authority}:{port}", new GrpcChannelOptions { HttpHandler = handler });
    }
}
