using System.Threading.Channels;
using Dragonfly.PubSub.Agent.Configuration;
using Dragonfly.PubSub.Agent.Hosting;
using Dragonfly.PubSub.Contracts.Scheduler;
using Grpc.Core;
using Grpc.Net.Client;

namespace Dragonfly.PubSub.Agent.Swarm;

/// <summary>
/// The link to one broker's scheduler: one long-lived <c>Connect</c> stream, re-opened with backoff whenever
/// the broker goes away. After each (re)connect it says Hello and sends the Joins its session gives it; it is
/// <see cref="Connected"/> once the broker answered. Events go to the session, which routes them by task.
/// </summary>
internal sealed class BrokerLink : IDisposable
{
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(2);

    private readonly AgentOptions _options;
    private readonly AgentRuntime _runtime;
    private readonly ILogger _logger;
    private readonly GrpcChannel? _channel;
    private volatile Channel<PeerEvent>? _outbound;
    private volatile bool _connected;
    private volatile string? _welcomeMqttUrl;

    public BrokerLink(BrokerEndpoint endpoint, AgentOptions options, AgentRuntime runtime, ILogger logger, Scheduler.SchedulerClient? client = null)
    {
        Endpoint = endpoint;
        _options = options;
        _runtime = runtime;
        _logger = logger;
        if (client is null)
        {
            _channel = SchedulerChannel.Create(options, runtime, endpoint.Host, endpoint.Port, endpoint.TlsHost);
            var invoker = _channel.CreateCallInvoker();
            client = new Scheduler.SchedulerClient(options.Hosting.SchedulerInvoker?.Invoke(invoker) ?? invoker);
        }
        Client = client;
    }

    public BrokerEndpoint Endpoint { get; }

    public string Name => Endpoint.Name;

    public Scheduler.SchedulerClient Client { get; }

    /// <summary>True once the broker answered on the current stream.</summary>
    public bool Connected => _connected;

    /// <summary>What this broker's last Welcome said about MQTT (see <see cref="SchedulerSession.WelcomeMqttUrl"/>).</summary>
    public string? WelcomeMqttUrl => _welcomeMqttUrl;

    /// <summary>Queues <paramref name="message"/> on the current stream; dropped while there is none (the next connect re-joins).</summary>
    public void Send(PeerEvent message) => _outbound?.Writer.TryWrite(message);

    /// <param name="joins">The Joins to send after each Hello.</param>
    /// <param name="up">The broker answered on a new stream (raised on the reading thread).</param>
    /// <param name="down">A stream that had been answered ended.</param>
    /// <param name="dispatch">Every event but Welcome (raised on the reading thread).</param>
    public async Task RunAsync(Func<BrokerLink, IEnumerable<JoinTask>> joins, Action<BrokerLink> up, Action<BrokerLink> down,
        Action<BrokerLink, SchedulerEvent> dispatch, CancellationToken stoppingToken)
    {
        var backoff = TimeSpan.FromMilliseconds(100);
        var wasConnected = true;
        while (!stoppingToken.IsCancellationRequested)
        {
            var answered = false;
            try
            {
                await RunSessionAsync(joins, () =>
                {
                    answered = true;
                    backoff = TimeSpan.FromMilliseconds(100);
                    wasConnected = true;
                    AgentLog.SchedulerConnected(_logger, Name);
                    up(this);
                }, dispatch, stoppingToken).ConfigureAwait(false);
                AgentLog.SchedulerStreamEnded(_logger, Name);
            }
            catch (Exception e) when (stoppingToken.IsCancellationRequested && e is OperationCanceledException or RpcException)
            {
                break; // shutting down
            }
            catch (RpcException e)
            {
                if (wasConnected)
                {
                    AgentLog.SchedulerUnavailable(_logger, Name, e.Status.Detail);
                    wasConnected = false;
                }
            }
            finally
            {
                _outbound = null;
            }
            if (answered)
            {
                down(this);
            }
            await Task.Delay(backoff, stoppingToken).ConfigureAwait(false);
            backoff = TimeSpan.FromTicks(Math.Min(MaxBackoff.Ticks, backoff.Ticks * 2));
        }
    }

    private async Task RunSessionAsync(Func<BrokerLink, IEnumerable<JoinTask>> joins, Action onConnected,
        Action<BrokerLink, SchedulerEvent> dispatch, CancellationToken stoppingToken)
    {
        using var call = Client.Connect(cancellationToken: stoppingToken);
        var outbound = Channel.CreateUnbounded<PeerEvent>(new UnboundedChannelOptions { SingleReader = true });
        outbound.Writer.TryWrite(new PeerEvent
        {
            Hello = new Hello
            {
                PeerId = _runtime.PeerId,
                Host = AdvertisedHost(),
                PeerPort = _runtime.PeerPort,
                Cluster = _options.Cluster,
                Zone = _options.Zone,
                UploadSlots = _options.UploadSlots,
                Seed = _options.Seed,
                MergedPieceNews = true,
                ParentPieceMaps = _options.ParentPieceMaps,
                Version = AgentVersion.Current,
                Subscriptions = { _options.Subscriptions },
            },
        });
        // Publish the channel before taking the membership snapshot: a task joined in between is
        // then sent twice (harmless) rather than not at all.
        _outbound = outbound;
        foreach (var join in joins(this))
        {
            outbound.Writer.TryWrite(new PeerEvent { Join = join });
        }

        using var sessionEnd = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        var writer = WriteAllAsync(call.RequestStream, outbound.Reader, sessionEnd.Token);
        try
        {
            var first = true;
            await foreach (var message in call.ResponseStream.ReadAllAsync(stoppingToken).ConfigureAwait(false))
            {
                SchedulerMetrics.CountReceived(message);
                if (first)
                {
                    _connected = true;
                    onConnected();
                    first = false;
                }
                if (message.EventCase == SchedulerEvent.EventOneofCase.Welcome)
                {
                    AgentLog.SchedulerWelcome(_logger, message.Welcome.BrokerId);
                    _welcomeMqttUrl = message.Welcome.MqttUrl;
                    continue;
                }
                dispatch(this, message);
            }
        }
        finally
        {
            _outbound = null;
            _connected = false;
            outbound.Writer.TryComplete();
            await sessionEnd.CancelAsync().ConfigureAwait(false);
            try
            {
                await writer.ConfigureAwait(false);
            }
            catch (Exception e) when (e is OperationCanceledException or RpcException or InvalidOperationException or IOException)
            {
                // The stream is gone either way; the next session starts afresh.
            }
        }
    }

    private static async Task WriteAllAsync(IClientStreamWriter<PeerEvent> stream, ChannelReader<PeerEvent> reader, CancellationToken cancellationToken)
    {
        await foreach (var message in reader.ReadAllAsync(cancellationToken).ConfigureAwait(false))
        {
            await stream.WriteAsync(message, cancellationToken).ConfigureAwait(false);
            SchedulerMetrics.CountSent(message);
        }
    }

    private string AdvertisedHost()
    {
        if (_options.AdvertiseAddress.Length > 0)
        {
            return _options.AdvertiseAddress;
        }
        // A specific listen address is also the address to dial; a wildcard one is not.
        return _options.ListenAddress is "0.0.0.0" or "::" or "[::]" or "*" ? "" : _options.ListenAddress;
    }

    public void Dispose() => _channel?.Dispose();
}
