using System.Buffers;
using System.Text.Json;
using Dragonfly.PubSub.Agent.Configuration;
using Dragonfly.PubSub.Agent.Hosting;
using Dragonfly.PubSub.Contracts;
using MQTTnet;
using MQTTnet.Protocol;

namespace Dragonfly.PubSub.Agent.Announcements;

/// <summary>
/// Listens for announcements on the subscribed topic filters. MQTTnet 5 has no managed client, so
/// this loop reconnects and resubscribes itself. The client id is the agent's peer id and the
/// session persists (clean start off, long expiry), so announcements made while the agent was
/// offline are delivered when it comes back. In secure mode the connection is MQTT over TLS with
/// the agent's certificate (the broker requires the client id to be the certificate's peer id), and
/// the daemon connects also without subscriptions, to follow the fleet's revocation list
/// (retained on <see cref="RevokedPeers.Topic"/>). What an announcement's payload is worth (signature,
/// sequence) is decided by <see cref="AnnouncementIntake"/>, not here.
/// </summary>
public sealed class AnnouncementSubscriber : BackgroundService
{
    private static readonly TimeSpan SessionExpiry = TimeSpan.FromDays(7);

    private readonly AgentOptions _options;
    private readonly AgentRuntime _runtime;
    private readonly AnnouncementIntake _intake;
    private readonly ILogger<AnnouncementSubscriber> _logger;
    private readonly IMqttClient _client;
    private readonly RevokedPeers _revoked;
    private readonly IHostApplicationLifetime _lifetime;

    public AnnouncementSubscriber(
        AgentOptions options, AgentRuntime runtime, AnnouncementIntake intake, RevokedPeers revoked, IHostApplicationLifetime lifetime,
        ILogger<AnnouncementSubscriber> logger)
    {
        _options = options;
        _revoked = revoked;
        _lifetime = lifetime;
        _runtime = runtime;
        _intake = intake;
        _logger = logger;
        _client = new MqttClientFactory().CreateMqttClient();
        _client.ApplicationMessageReceivedAsync += e =>
        {
            OnMessage(e.ApplicationMessage.Topic, e.ApplicationMessage.Payload);
            return Task.CompletedTask;
        };
    }

    public bool Connected => _client.IsConnected;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var watchRevocations = _runtime.Tls && _options.WatchRevocations;
        if (_options.Subscriptions.Count == 0 && !watchRevocations)
        {
            return;
        }
        var builder = new MqttClientOptionsBuilder();
        if (_runtime.Identity is { } identity)
        {
            builder.WithTlsOptions(MqttTls.For(identity, _options.MqttHost));
        }
        var options = builder
            .WithTcpServer(_options.MqttHost, _options.MqttPort)
            .WithClientId(_runtime.PeerId)
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
            .WithCleanStart(false)
            .WithSessionExpiryInterval((uint)SessionExpiry.TotalSeconds)
            .WithKeepAlivePeriod(TimeSpan.FromSeconds(15))
            .WithTimeout(TimeSpan.FromSeconds(5))
            .Build();
        var wasConnected = true;
        while (!stoppingToken.IsCancellationRequested)
        {
            if (!_client.IsConnected)
            {
                try
                {
                    var result = await _client.ConnectAsync(options, stoppingToken).ConfigureAwait(false);
                    if (result.ResultCode != MqttClientConnectResultCode.Success)
                    {
                        throw new InvalidOperationException($"the MQTT broker refused the connection: {result.ResultCode} {result.ReasonString}");
                    }
                    // Subscribing again is harmless when the session was kept; when it was lost
                    // (broker restarted) it is what brings the subscriptions back.
                    var subscribe = new MqttClientSubscribeOptionsBuilder();
                    foreach (var filter in _options.Subscriptions)
                    {
                        subscribe.WithTopicFilter(TopicName.ToMqttTopic(filter), MqttQualityOfServiceLevel.AtLeastOnce);
                    }
                    if (watchRevocations)
                    {
                        subscribe.WithTopicFilter(RevokedPeers.Topic, MqttQualityOfServiceLevel.AtLeastOnce);
                    }
                    var subscribed = await _client.SubscribeAsync(subscribe.Build(), stoppingToken).ConfigureAwait(false);
                    foreach (var item in subscribed.Items.Where(i => i.ResultCode > MqttClientSubscribeResultCode.GrantedQoS2))
                    {
                        AgentLog.SubscriptionRefused(_logger, item.TopicFilter.Topic, item.ResultCode.ToString(), subscribed.ReasonString ?? "");
                    }
                    AgentLog.MqttConnected(_logger, $"{_options.MqttHost}:{_options.MqttPort}", string.Join(", ", _options.Subscriptions), result.IsSessionPresent);
                    wasConnected = true;
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    break;
                }
                catch (Exception e) when (e is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
                {
                    if (wasConnected)
                    {
                        AgentLog.MqttUnavailable(_logger, $"{_options.MqttHost}:{_options.MqttPort}", e.Message);
                        wasConnected = false;
                    }
                }
            }
            await Task.Delay(TimeSpan.FromMilliseconds(wasConnected ? 1000 : 300), stoppingToken).ConfigureAwait(false);
        }
    }

    private void OnMessage(string mqttTopic, ReadOnlySequence<byte> payload)
    {
        if (mqttTopic == RevokedPeers.Topic)
        {
            OnRevocations(payload);
            return;
        }
        if (payload.IsEmpty)
        {
            return; // a cleared retained message
        }
        _intake.Accept(TopicName.FromMqttTopic(mqttTopic) ?? mqttTopic, payload.IsSingleSegment ? payload.FirstSpan : payload.ToArray());
    }

    private void OnRevocations(ReadOnlySequence<byte> payload)
    {
        string[] peers;
        try
        {
            peers = payload.IsEmpty ? [] : JsonSerializer.Deserialize(payload.ToArray(), RevocationJsonContext.Default.StringArray) ?? [];
        }
        catch (JsonException e)
        {
            AgentLog.AnnouncementIgnored(_logger, RevokedPeers.Topic, e.Message);
            return;
        }
        _revoked.Replace(peers);
        AgentLog.RevocationsUpdated(_logger, _revoked.Count);
        if (_revoked.Contains(_runtime.PeerId))
        {
            AgentLog.SelfRevoked(_logger, _runtime.PeerId);
            _lifetime.StopApplication();
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        if (_client.IsConnected)
        {
            try
            {
                await _client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().Build(), cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // Shutting down anyway; the broker notices the closed socket.
            }
        }
    }

    public override void Dispose()
    {
        base.Dispose();
        _client.Dispose();
    }
}
