using System.Diagnostics;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Dragonfly.PubSub.Bench.BrokerLoad.Agents;

/// <summary>
/// One simulated agent's MQTT 5 client, subscribed like dfagent (QoS 1, keep-alive 15 s). It notes
/// when the announcement on the probe topic arrived.
/// </summary>
internal sealed class MqttSubscriber : IAsyncDisposable
{
    private static readonly MqttClientFactory Factory = new();
    private readonly IMqttClient _client;
    private readonly string _clientId;
    private string? _probeTopic;
    private long _probeReceived;

    public MqttSubscriber(string clientId)
    {
        _clientId = clientId;
        _client = Factory.CreateMqttClient();
        _client.ApplicationMessageReceivedAsync += e =>
        {
            if (e.ApplicationMessage.Topic == Volatile.Read(ref _probeTopic))
            {
                Interlocked.CompareExchange(ref _probeReceived, Stopwatch.GetTimestamp(), 0);
            }
            return Task.CompletedTask;
        };
        _client.DisconnectedAsync += e =>
        {
            if (e.ClientWasConnected)
            {
                DisconnectReason ??= $"{e.Reason}{(e.Exception is { } x ? ": " + x.Message : "")}";
            }
            return Task.CompletedTask;
        };
    }

    /// <summary>Why the connection was lost after it was up (null: it was not).</summary>
    public string? DisconnectReason { get; private set; }

    public bool Connected => _client.IsConnected;

    /// <summary>Stopwatch timestamp when the probe announcement arrived; 0 = not yet.</summary>
    public long ProbeReceived => Interlocked.Read(ref _probeReceived);

    /// <summary>Watch for an announcement on this MQTT topic from now on.</summary>
    public void WatchFor(string mqttTopic)
    {
        Interlocked.Exchange(ref _probeReceived, 0);
        Volatile.Write(ref _probeTopic, mqttTopic);
    }

    public async Task ConnectAsync(string host, int port, string filter, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var options = new MqttClientOptionsBuilder()
            .WithTcpServer(host, port)
            .WithClientId(_clientId)
            .WithProtocolVersion(MqttProtocolVersion.V500)
            .WithCleanStart(true)
            .WithKeepAlivePeriod(TimeSpan.FromSeconds(15))
            .WithTimeout(timeout)
            .Build();
        var result = await _client.ConnectAsync(options, cancellationToken).ConfigureAwait(false);
        if (result.ResultCode != MqttClientConnectResultCode.Success)
        {
            throw new IOException($"MQTT connect of {_clientId} refused: {result.ResultCode}");
        }
        var subscribe = new MqttClientSubscribeOptionsBuilder()
            .WithTopicFilter(filter, MqttQualityOfServiceLevel.AtLeastOnce)
            .Build();
        await _client.SubscribeAsync(subscribe, cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            if (_client.IsConnected)
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
                await _client.DisconnectAsync(new MqttClientDisconnectOptionsBuilder().Build(), timeout.Token).ConfigureAwait(false);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or MQTTnet.Exceptions.MqttCommunicationException or InvalidOperationException)
        {
            // Best effort: the socket is closed by Dispose either way.
        }
        _client.Dispose();
    }
}
