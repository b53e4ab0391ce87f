using Dragonfly.PubSub.Broker.Announcing;
using Microsoft.AspNetCore.Connections;
using MQTTnet;
using MQTTnet.Server;

namespace Dragonfly.PubSub.Broker.Tests.Announcing;

/// <summary>
/// A connection accepted before the MQTT server starts must wait for it rather than reach MQTTnet's
/// handler, which throws for such a connection (seen when agents reconnect to a restarted broker).
/// </summary>
public sealed class MqttStartGateTests
{
    [Fact]
    public async Task Connection_BeforeServerStarted_IsHandedOverOnlyAfterStart()
    {
        var options = new MqttServerOptionsBuilder().Build(); // no endpoint: only the start matters
        using var server = new MqttServerFactory().CreateMqttServer(options);
        var gate = new MqttStartGate(server);
        var handedOver = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var hold = gate.Hold(_ => { handedOver.TrySetResult(); return Task.CompletedTask; });

        var connection = hold(new DefaultConnectionContext());
        await Task.Delay(200);
        Assert.False(handedOver.Task.IsCompleted, "the connection reached the MQTT handler before the server started");

        await server.StartAsync();
        try
        {
            await handedOver.Task.WaitAsync(TimeSpan.FromSeconds(10));
            await connection.WaitAsync(TimeSpan.FromSeconds(10));
        }
        finally
        {
            await server.StopAsync();
        }
    }

    [Fact]
    public async Task Connection_ClosedWhileWaiting_IsDroppedWithoutReachingTheHandler()
    {
        var options = new MqttServerOptionsBuilder().Build();
        using var server = new MqttServerFactory().CreateMqttServer(options);
        var gate = new MqttStartGate(server);
        var reached = false;
        using var closed = new CancellationTokenSource();
        var context = new DefaultConnectionContext { ConnectionClosed = closed.Token };

        var connection = gate.Hold(_ => { reached = true; return Task.CompletedTask; })(context);
        await closed.CancelAsync();
        await connection.WaitAsync(TimeSpan.FromSeconds(10));

        Assert.False(reached);
    }
}
