using System.Diagnostics;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;

namespace Dragonfly.PubSub.Bench.BrokerLoad.Agents;

/// <summary>
/// One simulated agent's MQTT 5 client, subscribed like dfagent (QoS 1). It notes when the announcement on the
/// probe topic arrived.
/// <para>
/// Its keep-alive is the load clock's, not MQTTnet's: MQTTnet's client wakes every 250 ms to see whether a PINGREQ
/// is due, which is 20,000 short-lived timers a second for 5,000 clients in one process (a fleet spreads them over
/// 5,000 machines). Surviving one collection each, they made up nearly all that the simulator's gen0 collections
/// copied, and its 25–30 ms pauses delayed the scheduler answers it timestamps. So the CONNECT says keep-alive 0
/// and the <see cref="LoadClock"/> sends each client's PINGREQ every <see cref="PingInterval"/> during the load,
/// the broker's work for the 15 s keep-alive dfagent uses.
/// </para>
/// </summary>
internal sealed class MqttSubscriber : IAsyncDisposable
{
    private static readonly MqttClientFactory Factory = new();
    private readonly IMqttClient _client;
    private readonly string _clientId;
    private string? _probeTopic;
    private long _probeReceived;
    private long _pingsAnswered;

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

    /// <summary>How often dfagent's MQTT client pings an otherwise idle connection (its keep-alive).</summary>
    public static readonly TimeSpan PingInterval = TimeSpan.FromSeconds(15);

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
            .WithKeepAlivePeriod(TimeSpan.Zero)
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

    /// <summary>PINGREQs answered with a PINGRESP.</summary>
    public long PingsAnswered => Interlocked.Read(ref _pingsAnswered);

    /// <summary>Sends a PINGREQ and waits for its PINGRESP in the background; a failure is kept as <see cref="DisconnectReason"/>.</summary>
    public void Ping() => _ = PingAsync();

    private async Task PingAsync()
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            await _client.PingAsync(timeout.Token).ConfigureAwait(false);
            Interlocked.Increment(ref _pingsAnswered);
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or MQTTnet.Exceptions.MqttCommunicationException or InvalidOperationException)
        {
            DisconnectReason ??= $"PINGREQ failed: {e.Message}";
        }
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
