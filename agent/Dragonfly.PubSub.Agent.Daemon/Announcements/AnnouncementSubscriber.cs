using System.Buffers;
using System.Diagnostics;
using System.Text.Json;
using Dragonfly.PubSub.Agent.Configuration;
using Dragonfly.PubSub.Agent.Hosting;
using Dragonfly.PubSub.Agent.Swarm;
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
/// (retained on <see cref="RevokedPeers.Topic"/>). Where it connects: the MQTT broker the scheduler's
/// Welcome names when dfbroker runs with --mqtt-url (followed when it changes), else --mqtt (by default
/// the broker's host); at start it waits a moment for the Welcome to know which. What an announcement's
/// payload is worth (signature, sequence) is decided by <see cref="AnnouncementIntake"/>, not here.
/// </summary>
public sealed class AnnouncementSubscriber : BackgroundService
{
    private static readonly TimeSpan SessionExpiry = TimeSpan.FromDays(7);

    /// <summary>How long the first connect waits for the scheduler's Welcome (which may name an external MQTT broker).</summary>
    private static readonly TimeSpan WelcomeWait = TimeSpan.FromSeconds(10);

    private readonly AgentOptions _options;
    private readonly AgentRuntime _runtime;
    private readonly AnnouncementIntake _intake;
    private readonly ILogger<AnnouncementSubscriber> _logger;
    private readonly IMqttClient _client;
    private readonly RevokedPeers _revoked;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly SchedulerSession _scheduler;

    public AnnouncementSubscriber(
        AgentOptions options, AgentRuntime runtime, AnnouncementIntake intake, RevokedPeers revoked, IHostApplicationLifetime lifetime,
        SchedulerSession scheduler, ILogger<AnnouncementSubscriber> logger)
    {
        _options = options;
        _scheduler = scheduler;
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
        var connects = _options.Subscriptions.Count > 0 || watchRevocations;
        if (!connects && !_options.SettleHeapAfterStart)
        {
            return;
        }
        var welcomeBy = DateTime.UtcNow + WelcomeWait;
        while (_scheduler.WelcomeMqttUrl is null && DateTime.UtcNow < welcomeBy)
        {
            await Task.Delay(50, stoppingToken).ConfigureAwait(false);
        }
        if (_options.SettleHeapAfterStart)
        {
            SettleStartupHeap();
        }
        if (!connects)
        {
            return;
        }
        var wasConnected = true;
        MqttEndpoint? current = null;
        while (!stoppingToken.IsCancellationRequested)
        {
            var endpoint = Endpoint();
            if (_client.IsConnected && endpoint != current)
            {
                // The broker now names another MQTT broker (restarted with another --mqtt-url): move there.
                await DisconnectQuietlyAsync(stoppingToken).ConfigureAwait(false);
            }
            if (!_client.IsConnected)
            {
                try
                {
                    current = endpoint;
                    var result = await _client.ConnectAsync(Options(endpoint), stoppingToken).ConfigureAwait(false);
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
                    AgentLog.MqttConnected(_logger, endpoint.Shown, string.Join(", ", _options.Subscriptions), result.IsSessionPresent);
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
                        AgentLog.MqttUnavailable(_logger, endpoint.Shown, e.Message);
                        wasConnected = false;
                    }
                }
            }
            await Task.Delay(TimeSpan.FromMilliseconds(wasConnected ? 1000 : 300), stoppingToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// One full, compacting collection once start-up is done (the scheduler session is up) and before the
    /// first announcement can arrive (a kept MQTT session delivers at connect); see
    /// <see cref="AgentOptions.SettleHeapAfterStart"/>. Here because it must come before the MQTT connect.
    /// </summary>
    private void SettleStartupHeap()
    {
        var started = Stopwatch.GetTimestamp();
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        AgentLog.StartupHeapSettled(_logger, GC.GetTotalMemory(forceFullCollection: false) / (1024.0 * 1024), Stopwatch.GetElapsedTime(started).TotalMilliseconds);
    }

    /// <summary>The MQTT broker the scheduler's Welcome names (dfbroker --mqtt-url), else --mqtt.</summary>
    private MqttEndpoint Endpoint() =>
        _scheduler.WelcomeMqttUrl is { Length: > 0 } text && MqttUrl.TryParse(text, out _) is { } url
            ? new MqttEndpoint(url.Host, url.Port, url.Tls)
            : new MqttEndpoint(_options.MqttHost, _options.MqttPort, _runtime.Identity is not null);

    private MqttClientOptions Options(MqttEndpoint endpoint)
    {
        var builder = new MqttClientOptionsBuilder();
        if (endpoint.Tls)
        {
            // With the agent's certificate, trusting only the fleet CA; an agent without one (--insecure) trusts the system's roots.
            builder.WithTlsOptions(_runtime.Identity is { } identity
                ? MqttTls.For(identity, endpoint.Host)
                : new MqttClientTlsOptions { UseTls = true, TargetHost = endpoint.Host });
        }
        return builder
            .WithTcpServer(endpoint.Host, endpoint.Port)
            .WithClientId(_runtime.PeerId)
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
            .WithCleanStart(false)
            .WithSessionExpiryInterval((uint)SessionExpiry.TotalSeconds)
            .WithKeepAlivePeriod(TimeSpan.FromSeconds(15))
            .WithTimeout(TimeSpan.FromSeconds(5))
            .Build();
    }

    private async Task DisconnectQuietlyAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().Build(), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // Gone either way; the next round connects to the new endpoint.
        }
    }

    /// <summary>An MQTT broker to subscribe at.</summary>
    private sealed record MqttEndpoint(string Host, int Port, bool Tls)
    {
        public string Shown => $"{(Tls ? "mqtts" : "mqtt")}://{Host}:{Port}";
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
