using Microsoft.AspNetCore.Connections;
using MQTTnet.Server;

namespace Dragonfly.PubSub.Broker.Announcing;

/// <summary>
/// Holds MQTT connections that arrive between Kestrel listening and the MQTT server starting.
/// MQTTnet's hosted server starts only on ApplicationStarted, and its connection handler throws a
/// NullReferenceException for a connection accepted before that; agents reconnecting to a restarted
/// broker hit exactly that window. The gate opens on the server's StartedAsync event.
/// </summary>
internal sealed class MqttStartGate
{
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public MqttStartGate(MqttServer server)
    {
        server.StartedAsync += _ =>
        {
            _started.TrySetResult();
            return Task.CompletedTask;
        };
        if (server.IsStarted)
        {
            _started.TrySetResult();
        }
    }

    /// <summary>Kestrel connection middleware: wait for the server (or the client leaving), then hand over.</summary>
    public ConnectionDelegate Hold(ConnectionDelegate next) => async connection =>
    {
        try
        {
            await _started.Task.WaitAsync(connection.ConnectionClosed).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            return;
        }
        await next(connection).ConfigureAwait(false);
    };
}
