using System.Text.Json;
using Dragonfly.PubSub.Broker.Diagnostics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MQTTnet;
using MQTTnet.Protocol;
using MQTTnet.Server;

namespace Dragonfly.PubSub.Broker.Security;

/// <summary>
/// Makes a revocation bite at once in the running broker: closes that peer's MQTT session (and drops
/// its persistent session) and scheduler streams, and publishes the whole list retained on
/// <c>dragonfly/revoked</c> (a JSON array of peer ids) so that agents refuse it on their peer ports.
/// New handshakes consult the <see cref="RevocationList"/> directly.
/// </summary>
public sealed class RevocationEnforcer(
    RevocationList revocations, MqttServer mqtt, Announcing.IAnnouncementTransport transport, LiveSchedulerStreams streams,
    ILogger<RevocationEnforcer> logger) : IHostedService
{
    public const string Topic = "dragonfly/revoked";

    public Task StartAsync(CancellationToken cancellationToken)
    {
        revocations.Revoked += OnRevoked;
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        revocations.Revoked -= OnRevoked;
        return Task.CompletedTask;
    }

    /// <summary>Publishes the current list (at start, and after each revocation).</summary>
    public async Task PublishListAsync(CancellationToken cancellationToken)
    {
        var message = new MqttApplicationMessageBuilder()
            .WithTopic(Topic)
            .WithPayload(JsonSerializer.SerializeToUtf8Bytes(revocations.All.ToList(), SecurityJsonContext.Default.ListString))
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .WithRetainFlag()
            .WithContentType("application/json")
            .Build();
        // Into the embedded server, or the external MQTT broker agents follow (dfbroker --mqtt-url).
        await transport.PublishAsync(message, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Cuts a revoked peer's live sessions; returns (MQTT sessions, scheduler streams) closed.</summary>
    public async Task<(int Mqtt, int Streams)> CutAsync(string peerId)
    {
        var mqttClosed = 0;
        foreach (var client in await mqtt.GetClientsAsync().ConfigureAwait(false))
        {
            if (client.Id == peerId)
            {
                await client.DisconnectAsync().ConfigureAwait(false);
                mqttClosed++;
            }
        }
        foreach (var session in await mqtt.GetSessionsAsync().ConfigureAwait(false))
        {
            if (session.Id == peerId)
            {
                // Its persistent session (subscriptions, queued messages) goes too: nobody may resume it.
                await session.DeleteAsync().ConfigureAwait(false);
            }
        }
        return (mqttClosed, streams.Abort(peerId));
    }

    private void OnRevoked(string peerId) => _ = EnforceAsync(peerId);

    private async Task EnforceAsync(string peerId)
    {
        try
        {
            var (mqttClosed, streamsClosed) = await CutAsync(peerId).ConfigureAwait(false);
            BrokerLog.PeerRevoked(logger, peerId, mqttClosed, streamsClosed);
            await PublishListAsync(CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            BrokerLog.RevocationEnforcementFailed(logger, peerId, e);
        }
    }
}
