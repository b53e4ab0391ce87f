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
        await RelayAsync(message.Topic, () => Frame(message.Topic, message.Payload, live: null)).ConfigureAwait(false);
    }

    public async Task AnnounceAsync(MqttApplicationMessage live, MqttApplicationMessage retained, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(live);
        ArgumentNullException.ThrowIfNull(retained);
        await local.AnnounceAsync(live, retained, cancellationToken).ConfigureAwait(false);
        await RelayAsync(retained.Topic, () => Frame(retained.Topic, retained.Payload, live.Payload)).ConfigureAwait(false);
    }

    /// <summary>Only announcements are relayed (the revocation list stays per broker); the frame is built only for them.</summary>
    private async Task RelayAsync(string topic, Func<string> frame)
    {
        if (!topic.StartsWith(TopicName.AnnouncePrefix, StringComparison.Ordinal))
        {
            return;
        }
        try
        {
            await redis.Connection.GetSubscriber().PublishAsync(Channel, frame()).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            // Announced here; the other brokers' agents get it from their broker's replay at its next start.
            BrokerLog.FleetRelayFailed(logger, topic, e.Message);
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

    /// <summary>
    /// <c>broker id \n topic \n base64 retained payload [\n base64 live payload]</c>: the payloads are the signed
    /// announcement, passed on unchanged; the live form only where it differs (it carries the manifest). A broker
    /// of an older version sends three parts, which stand for one retained message as before.
    /// </summary>
    private string Frame(string topic, ReadOnlySequence<byte> retained, ReadOnlySequence<byte>? live) =>
        live is { } form
            ? $"{brokerId}\n{topic}\n{Convert.ToBase64String(retained.ToArray())}\n{Convert.ToBase64String(form.ToArray())}"
            : $"{brokerId}\n{topic}\n{Convert.ToBase64String(retained.ToArray())}";

    private void OnRelayed(RedisValue value)
    {
        var parts = ((string?)value ?? "").Split('\n');
        if (parts.Length is not (3 or 4) || parts[0] == brokerId || !parts[1].StartsWith(TopicName.AnnouncePrefix, StringComparison.Ordinal))
        {
            return; // its own, or not an announcement
        }
        byte[] retained;
        byte[]? live = null;
        try
        {
            retained = Convert.FromBase64String(parts[2]);
            if (parts.Length == 4)
            {
                live = Convert.FromBase64String(parts[3]);
            }
        }
        catch (FormatException)
        {
            return;
        }
        _ = InjectAsync(parts[1], retained, live, parts[0]);
    }

    private static MqttApplicationMessage Message(string topic, byte[] payload, bool retain) => new MqttApplicationMessageBuilder()
        .WithTopic(topic)
        .WithPayload(payload)
        .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce)
        .WithRetainFlag(retain)
        .WithContentType("application/json")
        .Build();

    private async Task InjectAsync(string topic, byte[] retained, byte[]? live, string from)
    {
        try
        {
            if (live is null)
            {
                await local.PublishAsync(Message(topic, retained, retain: true), CancellationToken.None).ConfigureAwait(false);
            }
            else
            {
                await local.AnnounceAsync(Message(topic, live, retain: false), Message(topic, retained, retain: true), CancellationToken.None).ConfigureAwait(false);
            }
            BrokerLog.FleetRelayed(logger, topic, from);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            BrokerLog.FleetRelayFailed(logger, topic, e.Message);
        }
    }
}
