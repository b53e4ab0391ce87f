using System.Collections.Concurrent;
using System.Threading.Channels;
using Dragonfly.PubSub.Agent.Configuration;
using Dragonfly.PubSub.Agent.Hosting;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Cli;
using Dragonfly.PubSub.Contracts.Scheduler;
using Dragonfly.PubSub.Transfer.Swarm;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;

namespace Dragonfly.PubSub.Agent.Swarm;

/// <summary>
/// The agent's link to the scheduler: one long-lived <c>Connect</c> stream, re-opened with backoff
/// whenever the broker goes away. After every (re)connect it says Hello and re-joins every task the
/// agent holds, so a restarted broker rebuilds its swarm state from the agents. Every event it reads
/// goes by task id straight into that task's inbox (<see cref="Route"/>); an event of a task with
/// no inbox goes to <see cref="Unrouted"/>.
/// </summary>
public sealed class SchedulerSession : BackgroundService, ISwarmReporter
{
    private static readonly TimeSpan UnaryDeadline = TimeSpan.FromSeconds(15);
    // The broker stats the origin (with its own retries and backoff) before it answers.
    private static readonly TimeSpan RegisterDeadline = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan MaxBackoff = TimeSpan.FromSeconds(2);

    private readonly AgentOptions _options;
    private readonly AgentRuntime _runtime;
    private readonly ILogger<SchedulerSession> _logger;
    private readonly GrpcChannel? _channel;
    private readonly Scheduler.SchedulerClient _client;
    private readonly ConcurrentDictionary<string, ISchedulerInbox> _inboxes = new(StringComparer.Ordinal);
    private volatile Channel<PeerEvent>? _outbound;
    private volatile bool _connected;
    private volatile string? _welcomeMqttUrl;

    public SchedulerSession(AgentOptions options, AgentRuntime runtime, ILogger<SchedulerSession> logger)
        : this(options, runtime, logger, SchedulerChannel.Create(options, runtime))
    {
    }

    private SchedulerSession(AgentOptions options, AgentRuntime runtime, ILogger<SchedulerSession> logger, GrpcChannel channel)
        : this(options, runtime, logger, new Scheduler.SchedulerClient(channel))
    {
        _channel = channel;
    }

    /// <summary>A session over any client (tests give one whose <c>Connect</c> is a fake stream).</summary>
    internal SchedulerSession(AgentOptions options, AgentRuntime runtime, ILogger<SchedulerSession> logger, Scheduler.SchedulerClient client)
    {
        _options = options;
        _runtime = runtime;
        _logger = logger;
        _client = client;
    }

    public string BrokerAddress => $"{_options.BrokerHost}:{_options.BrokerGrpcPort}";

    /// <summary>True once the broker answered on the current stream.</summary>
    public bool Connected => _connected;

    /// <summary>
    /// The MQTT broker the last Welcome named (dfbroker --mqtt-url): where announcements are; "" when the
    /// broker serves MQTT itself; null before the first Welcome.
    /// </summary>
    public string? WelcomeMqttUrl => _welcomeMqttUrl;

    /// <summary>The tasks to (re-)join after each connect; set by the task manager.</summary>
    public Func<IEnumerable<JoinTask>> Membership { get; set; } = () => [];

    /// <summary>
    /// An event of a task no inbox is routed for (a seed told to source a URL task it does not run
    /// yet). Raised on the reading thread.
    /// </summary>
    public event Action<SchedulerEvent>? Unrouted;

    /// <summary>The broker answered on a new stream (after the Hello and the Joins went out). Raised on the reading thread.</summary>
    public event Action? SessionStarted;

    /// <summary>From now on every event of <paramref name="task"/> goes into <paramref name="inbox"/>.</summary>
    public void Route(ContentDigest task, ISchedulerInbox inbox)
    {
        ArgumentNullException.ThrowIfNull(inbox);
        _inboxes[task.ToString()] = inbox;
    }

    /// <summary>Stops routing <paramref name="task"/> to <paramref name="inbox"/> (not to a newer inbox of the same task).</summary>
    public void Unroute(ContentDigest task, ISchedulerInbox inbox) =>
        ((ICollection<KeyValuePair<string, ISchedulerInbox>>)_inboxes).Remove(new(task.ToString(), inbox));

    /// <summary>The task an event is about, or null (Welcome).</summary>
    internal static string? TaskOf(SchedulerEvent message) => message.EventCase switch
    {
        SchedulerEvent.EventOneofCase.Parents => message.Parents.Digest,
        SchedulerEvent.EventOneofCase.PieceAvailable => message.PieceAvailable.Digest,
        SchedulerEvent.EventOneofCase.PieceDigests => message.PieceDigests.Digest,
        SchedulerEvent.EventOneofCase.FetchSource => message.FetchSource.Manifest?.Digest,
        SchedulerEvent.EventOneofCase.TaskSourced => message.TaskSourced.Digest,
        SchedulerEvent.EventOneofCase.TaskFailed => message.TaskFailed.Digest,
        _ => null,
    };

    public void Join(ContentDigest digest, PieceBitmap have, bool publisher) =>
        Send(new PeerEvent { Join = NewJoin(digest, have, publisher) });

    public void Leave(ContentDigest digest) => Send(new PeerEvent { Leave = new LeaveTask { Digest = digest.ToString() } });

    public static JoinTask NewJoin(ContentDigest digest, PieceBitmap have, bool publisher) =>
        new() { Digest = digest.ToString(), Bitmap = ByteString.CopyFrom(have.ToBytes()), Publisher = publisher };

    void ISwarmReporter.PiecesFinished(ContentDigest digest, IReadOnlyList<int> indexes)
    {
        var finished = new PiecesFinished { Digest = digest.ToString() };
        finished.Indexes.AddRange(indexes);
        Send(new PeerEvent { PiecesFinished = finished });
    }

    void ISwarmReporter.PiecesFinished(ContentDigest digest, IReadOnlyList<int> indexes, IReadOnlyList<string> parents)
    {
        var finished = new PiecesFinished { Digest = digest.ToString() };
        finished.Indexes.AddRange(indexes);
        finished.Parents.AddRange(parents);
        Send(new PeerEvent { PiecesFinished = finished });
    }

    void ISwarmReporter.PieceFailed(ContentDigest digest, int index, string parentId, FailureKind kind) =>
        Send(new PeerEvent { PieceFailed = new PieceFailed { Digest = digest.ToString(), Index = index, ParentId = parentId, Kind = kind } });

    void ISwarmReporter.NeedParents(ContentDigest digest) =>
        Send(new PeerEvent { NeedParents = new NeedParents { Digest = digest.ToString() } });

    void ISwarmReporter.PiecesSourced(ContentDigest task, IReadOnlyList<int> indexes, IReadOnlyList<byte[]> digests)
    {
        var finished = new PiecesFinished { Digest = task.ToString() };
        finished.Indexes.AddRange(indexes);
        finished.Digests.AddRange(digests.Select(ByteString.CopyFrom));
        Send(new PeerEvent { PiecesFinished = finished });
    }

    void ISwarmReporter.SourceDone(ContentDigest task, ContentDigest content) =>
        Send(new PeerEvent { SourceDone = new SourceDone { Digest = task.ToString(), ContentDigest = content.ToString() } });

    void ISwarmReporter.SourceFailed(ContentDigest task, string error, bool permanent) =>
        Send(new PeerEvent { SourceFailed = new SourceFailed { Digest = task.ToString(), Error = error, Permanent = permanent } });

    /// <summary>Registers a URL task with the broker (which stats the origin once) and returns its manifest.</summary>
    /// <exception cref="UserFacingException">
    /// Usage (exit 2): the broker refused the URL (bad URL or scheme). Failed (exit 1): the origin has
    /// no such object, refuses, cannot be reached, or the broker cannot be reached.
    /// </exception>
    public async Task<Manifest> RegisterUrlTaskAsync(RegisterUrlTaskRequest request, string shownUrl, CancellationToken cancellationToken)
    {
        try
        {
            return await _client.RegisterUrlTaskAsync(request, deadline: DateTime.UtcNow + RegisterDeadline, cancellationToken: cancellationToken);
        }
        catch (RpcException e) when (FromBroker(e))
        {
            var detail = e.Status.Detail is { Length: > 0 } text ? text : $"broker {BrokerAddress} refused the URL task ({e.StatusCode})";
            throw e.StatusCode switch
            {
                StatusCode.InvalidArgument => UserFacingException.Usage(detail),
                StatusCode.NotFound => new UserFacingException(NotFoundMessage(shownUrl, detail), ExitCodes.Failed, e),
                StatusCode.DeadlineExceeded => new UserFacingException($"broker {BrokerAddress} did not register the URL within {RegisterDeadline.TotalMinutes:0} minutes (it reaches the origin first); check that the origin answers", ExitCodes.Failed, e),
                StatusCode.FailedPrecondition or StatusCode.Unavailable or StatusCode.PermissionDenied
                    or StatusCode.ResourceExhausted or StatusCode.Aborted => new UserFacingException(detail, ExitCodes.Failed, e),
                StatusCode.Unimplemented => new UserFacingException($"broker {BrokerAddress} does not support URL tasks; upgrade dfbroker", ExitCodes.Failed, e),
                _ => Unreachable(e),
            };
        }
        catch (RpcException e)
        {
            throw Unreachable(e);
        }
    }

    /// <summary>"the origin has no object at URL: HTTP 404", whatever words the broker chose.</summary>
    private static string NotFoundMessage(string shownUrl, string detail)
    {
        if (detail.StartsWith("the origin has no object", StringComparison.Ordinal))
        {
            return detail;
        }
        var status = System.Text.RegularExpressions.Regex.Match(detail, @"\b(HTTP|FTP) \d{3}\b");
        var code = status.Success ? status.Value
            : shownUrl.StartsWith("http", StringComparison.OrdinalIgnoreCase) ? "HTTP 404"
            : detail.Length > 0 ? detail : "not found";
        return $"the origin has no object at {shownUrl}: {code}";
    }

    /// <summary>An answer the broker itself sent (as opposed to a connection that failed on our side).</summary>
    private static bool FromBroker(RpcException e) =>
        e.Status.DebugException is null && e.StatusCode is not (StatusCode.Cancelled or StatusCode.Internal or StatusCode.Unknown);

    /// <summary>The manifest of <paramref name="digest"/>, or null when the broker does not know it.</summary>
    /// <exception cref="UserFacingException">The broker cannot be reached.</exception>
    public async Task<Manifest?> GetManifestAsync(ContentDigest digest, CancellationToken cancellationToken)
    {
        try
        {
            return await _client.GetManifestAsync(new GetManifestRequest { Digest = digest.ToString() },
                deadline: DateTime.UtcNow + UnaryDeadline, cancellationToken: cancellationToken);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)
        {
            return null;
        }
        catch (RpcException e)
        {
            throw Unreachable(e);
        }
    }

    /// <exception cref="UserFacingException">The broker refused the manifest or cannot be reached.</exception>
    public async Task<PublishResponse> PublishAsync(Manifest manifest, CancellationToken cancellationToken)
    {
        try
        {
            return await _client.PublishAsync(new PublishRequest { Manifest = manifest },
                deadline: DateTime.UtcNow + UnaryDeadline, cancellationToken: cancellationToken);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.InvalidArgument)
        {
            throw new UserFacingException($"the broker refused the manifest: {e.Status.Detail}");
        }
        catch (RpcException e)
        {
            throw Unreachable(e);
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var backoff = TimeSpan.FromMilliseconds(100);
        var wasConnected = true;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await RunSessionAsync(() =>
                {
                    backoff = TimeSpan.FromMilliseconds(100);
                    wasConnected = true;
                    AgentLog.SchedulerConnected(_logger, BrokerAddress);
                    SessionStarted?.Invoke();
                }, stoppingToken);
                AgentLog.SchedulerStreamEnded(_logger, BrokerAddress);
            }
            catch (Exception e) when (stoppingToken.IsCancellationRequested && e is OperationCanceledException or RpcException)
            {
                break; // shutting down
            }
            catch (RpcException e)
            {
                if (wasConnected)
                {
                    AgentLog.SchedulerUnavailable(_logger, BrokerAddress, e.Status.Detail);
                    wasConnected = false;
                }
            }
            finally
            {
                _outbound = null;
            }
            await Task.Delay(backoff, stoppingToken).ConfigureAwait(false);
            backoff = TimeSpan.FromTicks(Math.Min(MaxBackoff.Ticks, backoff.Ticks * 2));
        }
    }

    private async Task RunSessionAsync(Action onConnected, CancellationToken stoppingToken)
    {
        using var call = _client.Connect(cancellationToken: stoppingToken);
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
                Version = AgentVersion.Current,
                Subscriptions = { _options.Subscriptions },
            },
        });
        // Publish the channel before taking the membership snapshot: a task joined in between is
        // then sent twice (harmless) rather than not at all.
        _outbound = outbound;
        foreach (var join in Membership())
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
                if (first)
                {
                    _connected = true;
                    onConnected();
                    first = false;
                }
                Dispatch(message);
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
        }
    }

    private void Dispatch(SchedulerEvent message)
    {
        try
        {
            DispatchCore(message);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // One event the agent could not act on must not end the session (and with it every task).
            AgentLog.SchedulerEventFailed(_logger, e, message.EventCase.ToString(), e.Message);
            if (message.EventCase == SchedulerEvent.EventOneofCase.FetchSource
                && ContentDigest.TryParse(message.FetchSource.Manifest?.Digest, out var task))
            {
                // Tell the scheduler at once, so that it picks another source instead of waiting on this one.
                ((ISwarmReporter)this).SourceFailed(task.Value, $"the agent could not start fetching from the origin: {e.Message}", permanent: false);
            }
        }
    }

    private void DispatchCore(SchedulerEvent message)
    {
        if (message.EventCase == SchedulerEvent.EventOneofCase.Welcome)
        {
            AgentLog.SchedulerWelcome(_logger, message.Welcome.BrokerId);
            _welcomeMqttUrl = message.Welcome.MqttUrl;
            return;
        }
        if (TaskOf(message) is not { } task)
        {
            return;
        }
        if (_inboxes.TryGetValue(task, out var inbox))
        {
            inbox.Deliver(message);
        }
        else
        {
            Unrouted?.Invoke(message);
        }
    }

    private void Send(PeerEvent message) => _outbound?.Writer.TryWrite(message);

    private string AdvertisedHost()
    {
        if (_options.AdvertiseAddress.Length > 0)
        {
            return _options.AdvertiseAddress;
        }
        // A specific listen address is also the address to dial; a wildcard one is not.
        return _options.ListenAddress is "0.0.0.0" or "::" or "[::]" or "*" ? "" : _options.ListenAddress;
    }

    private UserFacingException Unreachable(RpcException e) =>
        new($"broker {BrokerAddress} is unreachable or failed ({e.StatusCode}: {e.Status.Detail}); check --broker and that dfbroker runs", ExitCodes.Failed, e);

    public override void Dispose()
    {
        base.Dispose();
        _channel?.Dispose();
    }
}
