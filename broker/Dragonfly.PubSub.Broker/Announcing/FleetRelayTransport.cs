using System.Buffers;
using Dragonfly.PubSub.Broker.Diagnostics;
using Dragonfly.PubSub.Broker.State;
using Dragonfly.PubSub.Contracts;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MQTTnet;
using MQTTnet.Protocol;
using StackExchange.Redis;

namespace Dragonfly.PubSub.Broker.Announcing;

/// <summary>
/// Several brokers on one shared state (<c>--state</c>) without an external MQTT broker: each announcement
/// goes into this broker's embedded MQTT server and, over the Redis channel <see cref="Channel"/>, into every
/// other broker's, so an agent subscribed at any broker of the fleet gets the announcements made at all of
/// them (retained too). Redis pub/sub reaches the brokers connected at that moment: one that was cut off from
/// Redis gets each topic's latest announcement again at its next start (replay from the shared catalogue).
/// The revocation list stays per broker (revocations are), so only <c>dragonfly/announce/...</c> is relayed.
/// </summary>
public sealed class FleetRelayTransport(EmbeddedMqttTransport local, RedisState redis, string brokerId, ILogger<FleetRelayTransport> logger)
    : IAnnouncementTransport, IHostedService
{
    public static readonly RedisChannel Channel = RedisChannel.Literal("dragonfly:announcements");

    public Uri? SubscriberUrl => local.SubscriberUrl;

    public bool IsReady => local.IsReady;

    public Task WaitUntilReadyAsync(CancellationToken cancellationToken) => local.WaitUntilReadyAsync(cancellationToken);

    public async Task PublishAsync(MqttApplicationMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        await local.PublishAsync(message, cancellationToken).ConfigureAwait(false);
        if (!message.Topic.StartsWith(TopicName.AnnouncePrefix, StringComparison.Ordinal))
        {
            return;
        }
        try
        {
            await redis.Connection.GetSubscriber().PublishAsync(Channel, Frame(message)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            // Announced here; the other brokers' agents get it from their broker's replay at its next start.
            BrokerLog.FleetRelayFailed(logger, message.Topic, e.Message);
        }
    }

    public async Task StartAsync(CancellationToken cancellationToken) =>
        await redis.Connection.GetSubscriber().SubscribeAsync(Channel, (_, value) => OnRelayed(value)).ConfigureAwait(false);

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        try
        {
            await redis.Connection.GetSubscriber().UnsubscribeAsync(Channel).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            // Stopping anyway.
        }
    }

    /// <summary><c>broker id \n topic \n base64 payload</c>: the payload is the signed announcement, passed on unchanged.</summary>
    private string Frame(MqttApplicationMessage message) =>
        $"{brokerId}\n{message.Topic}\n{Convert.ToBase64String(message.Payload.ToArray())}";

    private void OnRelayed(RedisValue value)
    {
        var parts = ((string?)value ?? "").Split('\n');
        if (parts.Length != 3 || parts[0] == brokerId || !parts[1].StartsWith(TopicName.AnnouncePrefix, StringComparison.Ordinal))
        {
            return; // its own, or not an announcement
        }
        byte[] payload;
        try
        {
            payload = Convert.FromBase64String(parts[2]);
        }
        catch (FormatException)
        {
            return;
        }
        var message = new MqttApplicationMessageBuilder()
            .WithTopic(parts[1])
            .WithPayload(payload)
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
            .WithRetainFlag()
            .WithContentType("application/json")
            .Build();
        _ = InjectAsync(message, parts[0]);
    }

    private async Task InjectAsync(MqttApplicationMessage message, string from)
    {
        try
        {
            await local.PublishAsync(message, CancellationToken.None).ConfigureAwait(false);
            BrokerLog.FleetRelayed(logger, message.Topic, from);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            BrokerLog.FleetRelayFailed(logger, message.Topic, e.Message);
        }
    }
}
