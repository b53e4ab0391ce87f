using System.Security.Authentication;
using Dragonfly.PubSub.Broker.Diagnostics;
using Dragonfly.PubSub.Contracts;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MQTTnet;

namespace Dragonfly.PubSub.Broker.Announcing;

/// <summary>
/// Publishes into an MQTT 5 broker the operator runs (<c>dfbroker --mqtt-url</c>: Mosquitto, EMQX, HiveMQ,
/// VerneMQ, RabbitMQ's MQTT plugin) instead of the embedded server. One client connection, opened again
/// with backoff whenever it drops (MQTTnet 5 has no managed client); a publish waits for it. mqtts://
/// checks the broker's certificate against the system trust store (on Linux OpenSSL's, so SSL_CERT_FILE
/// applies); user and password come from the URL. Who may publish there is up to that broker's ACLs.
/// </summary>
public sealed class ExternalMqttTransport : BackgroundService, IAnnouncementTransport
{
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(5);

    private readonly MqttUrl _url;
    private readonly string _clientId;
    private readonly ILogger<ExternalMqttTransport> _logger;
    private readonly IMqttClient _client;
    private readonly Lock _lock = new();
    private TaskCompletionSource _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private volatile string? _lastError;
    private int _connections;

    /// <param name="clientId">The MQTT client id (dfbroker-&lt;broker id&gt;): unique per dfbroker.</param>
    public ExternalMqttTransport(MqttUrl url, string clientId, ILogger<ExternalMqttTransport> logger)
    {
        _url = url;
        _clientId = clientId;
        _logger = logger;
        _client = new MqttClientFactory().CreateMqttClient();
        _client.DisconnectedAsync += e =>
        {
            lock (_lock)
            {
                if (_connected.Task.IsCompleted)
                {
                    _connected = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                }
            }
            if (e.ClientWasConnected)
            {
                BrokerLog.ExternalMqttLost(_logger, _url.Shown, e.Exception?.Message ?? e.ReasonString ?? e.Reason.ToString());
            }
            return Task.CompletedTask;
        };
    }

    public Uri? SubscriberUrl => _url.WithoutCredentials;

    /// <summary>
    /// Raised after a connection that follows a lost one (not after the first): the MQTT broker may have
    /// restarted and forgotten its retained messages (<see cref="ExternalMqttReplay"/> publishes them again).
    /// </summary>
    public event Action? Reconnected;

    /// <summary>The printable URL (no password).</summary>
    public string Shown => _url.Shown;

    public bool IsReady => _client.IsConnected;

    /// <summary>Why the last connection attempt failed; null when none did.</summary>
    public string? LastError => _lastError;

    public Task WaitUntilReadyAsync(CancellationToken cancellationToken)
    {
        Task connected;
        lock (_lock)
        {
            connected = _connected.Task;
        }
        return connected.WaitAsync(cancellationToken);
    }

    public async Task PublishAsync(MqttApplicationMessage message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        while (true)
        {
            await WaitUntilReadyAsync(cancellationToken).ConfigureAwait(false);
            MqttClientPublishResult result;
            try
            {
                result = await _client.PublishAsync(message, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception) when (!_client.IsConnected && !cancellationToken.IsCancellationRequested)
            {
                continue; // the connection dropped under it: published again once it is back (QoS 1 allows a duplicate)
            }
            if (!result.IsSuccess)
            {
                throw new InvalidOperationException(
                    $"the MQTT broker at {_url.Shown} refused the publish on {message.Topic}: {result.ReasonCode} {result.ReasonString}; check its ACL for client {_clientId}");
            }
            return;
        }
    }

    /// <summary>
    /// An MQTT broker cannot store a retained message without delivering it, so the live form goes first (the
    /// subscribers start with its manifest) and the retained copy follows, which they ignore as a task they
    /// know. One who subscribes in between gets the previous retained message and then this copy, live.
    /// </summary>
    public async Task AnnounceAsync(MqttApplicationMessage live, MqttApplicationMessage retained, CancellationToken cancellationToken)
    {
        await PublishAsync(live, cancellationToken).ConfigureAwait(false);
        await PublishAsync(retained, cancellationToken).ConfigureAwait(false);
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var options = Options();
        var backoff = TimeSpan.FromMilliseconds(100);
        var reported = false;
        while (!stoppingToken.IsCancellationRequested)
        {
            if (!_client.IsConnected)
            {
                try
                {
                    var result = await _client.ConnectAsync(options, stoppingToken).ConfigureAwait(false);
                    if (result.ResultCode != MqttClientConnectResultCode.Success)
                    {
                        throw new InvalidOperationException($"it refused the connection: {result.ResultCode} {result.ReasonString}");
                    }
                    _lastError = null;
                    reported = false;
                    backoff = TimeSpan.FromMilliseconds(100);
                    BrokerLog.ExternalMqttConnected(_logger, _url.Shown, _clientId);
                    lock (_lock)
                    {
                        _connected.TrySetResult();
                    }
                    if (Interlocked.Increment(ref _connections) > 1)
                    {
                        Reconnected?.Invoke();
                    }
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    break;
                }
                catch (Exception e)
                {
                    _lastError = e.Message;
                    if (!reported)
                    {
                        BrokerLog.ExternalMqttUnavailable(_logger, _url.Shown, e.Message);
                        reported = true;
                    }
                }
            }
            await Task.Delay(_client.IsConnected ? TimeSpan.FromSeconds(1) : backoff, stoppingToken).ConfigureAwait(false);
            backoff = TimeSpan.FromTicks(Math.Min(MaxBackoff.Ticks, backoff.Ticks * 2));
        }
    }

    private MqttClientOptions Options()
    {
        var builder = new MqttClientOptionsBuilder()
            .WithTcpServer(_url.Host, _url.Port)
            .WithClientId(_clientId)
            .WithProtocolVersion(MQTTnet.Formatter.MqttProtocolVersion.V500)
            .WithCleanStart(true)
            .WithKeepAlivePeriod(TimeSpan.FromSeconds(15))
            .WithTimeout(TimeSpan.FromSeconds(5));
        if (_url.UserName is { } user)
        {
            builder.WithCredentials(user, _url.Password ?? "");
        }
        if (_url.Tls)
        {
            builder.WithTlsOptions(new MqttClientTlsOptions
            {
                UseTls = true,
                TargetHost = _url.Host,
                SslProtocol = SslProtocols.Tls12 | SslProtocols.Tls13,
            });
        }
        return builder.Build();
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
                // Stopping anyway; the broker notices the closed socket.
            }
        }
    }

    public override void Dispose()
    {
        base.Dispose();
        _client.Dispose();
    }
}
