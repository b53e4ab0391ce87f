using Microsoft.Extensions.Hosting;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace Dragonfly.PubSub.Broker.Announcing;

/// <summary>
/// MQTT connections live inside Kestrel, which waits for them when it stops; disconnect the clients
/// (reason: server shutting down) before anything else stops, so SIGTERM ends the broker promptly.
/// </summary>
internal sealed class MqttShutdown(MqttServer server) : IHostedLifecycleService
{
    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        if (!server.IsStarted)
        {
            return;
        }
        server.AcceptNewConnections = false;
        foreach (var client in await server.GetClientsAsync().ConfigureAwait(false))
        {
            try
            {
                await server.DisconnectClientAsync(client.Id, new MqttServerClientDisconnectOptions
                {
                    ReasonCode = MqttDisconnectReasonCode.ServerShuttingDown,
                    ReasonString = "dfbroker is stopping",
                }).WaitAsync(TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is TimeoutException or OperationCanceledException or InvalidOperationException or IOException)
            {
                // The client is gone or slow; Kestrel's shutdown timeout covers the rest.
            }
        }
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StartedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
