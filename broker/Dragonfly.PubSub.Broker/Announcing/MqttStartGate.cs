using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using MQTTnet.Server;

namespace Dragonfly.PubSub.Broker.Announcing;

/// <summary>
/// Holds MQTT connections that arrive between Kestrel listening and the MQTT server starting.
/// MQTTnet's hosted server starts only on ApplicationStarted, and its connection handler throws a
/// NullReferenceException for a connection accepted before that; agents reconnecting to a restarted
/// broker hit exactly that window. The gate opens on the server's StartedAsync event.
/// <para>
/// It also keeps MQTTnet.AspNetCore's own failure at the end of a connection from being logged as an unhandled
/// error: a client that disconnects while a message is still being written to it (<c>mosquitto_sub -C 1</c>
/// given the retained copy and then the live form of an announcement) makes its disconnect complete the pipe
/// writer under that write (<c>ArgumentNullException</c> in <c>StreamPipeWriter.Complete</c>). The connection
/// is over either way; it is logged as a warning, one line.
/// </para>
/// </summary>
internal sealed class MqttStartGate
{
    private readonly TaskCompletionSource _started = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ILogger _logger;

    public MqttStartGate(MqttServer server, ILogger<MqttStartGate>? logger = null)
    {
        _logger = logger ?? NullLogger<MqttStartGate>.Instance;
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
        try
        {
            await next(connection).ConfigureAwait(false);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException or ObjectDisposedException)
        {
            _logger.LogWarning("MQTT connection {ConnectionId} from {Remote} ended with an error in MQTTnet's connection handling: {Error}",
                connection.ConnectionId, connection.RemoteEndPoint, $"{e.GetType().Name}: {e.Message}");
        }
    };
}
