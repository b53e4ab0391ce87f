using Dragonfly.PubSub.Broker.Announcing;
using Dragonfly.PubSub.Testing;
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

    [Fact]
    public async Task MqttnetsOwnFailureAtTheEndOfAConnection_IsOneWarning_AndAnyOtherFailureStillSurfaces()
    {
        var options = new MqttServerOptionsBuilder().Build();
        using var server = new MqttServerFactory().CreateMqttServer(options);
        await server.StartAsync();
        try
        {
            using var logs = new CapturedLogs();
            var gate = new MqttStartGate(server, logs.For<MqttStartGate>());
            var context = new DefaultConnectionContext("conn-7");

            // What MQTTnet.AspNetCore throws when a client leaves under a write (StreamPipeWriter.Complete).
            await gate.Hold(_ => throw new ArgumentNullException("buffer"))(context).WaitAsync(TimeSpan.FromSeconds(10));

            var line = Assert.Single(logs.Lines);
            Assert.StartsWith("Warning ", line, StringComparison.Ordinal);
            Assert.Contains("MQTT connection conn-7", line, StringComparison.Ordinal);
            Assert.Contains("ArgumentNullException", line, StringComparison.Ordinal);

            // Anything else is not the known end-of-connection race: it must not be swallowed.
            await Assert.ThrowsAsync<IOException>(() => gate.Hold(_ => throw new IOException("disk"))(new DefaultConnectionContext("conn-8")));
            Assert.Single(logs.Lines);
        }
        finally
        {
            await server.StopAsync();
        }
    }
}
