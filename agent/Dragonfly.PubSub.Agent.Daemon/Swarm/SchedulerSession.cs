using System.Collections.Concurrent;
using Dragonfly.PubSub.Agent.Configuration;
using Dragonfly.PubSub.Agent.Hosting;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Cli;
using Dragonfly.PubSub.Contracts.Scheduler;
using Dragonfly.PubSub.Transfer.Swarm;
using Google.Protobuf;
using Grpc.Core;

namespace Dragonfly.PubSub.Agent.Swarm;

/// <summary>
/// The agent's link to the scheduler, or to several (<c>--broker a:8002,b:8002,c:8002</c>): one long-lived
/// <c>Connect</c> stream per broker (<see cref="BrokerLink"/>), re-opened with backoff whenever a broker goes
/// away. After every (re)connect it says Hello and re-joins the tasks that belong to that broker, so a
/// restarted broker rebuilds its swarm state from the agents. With several brokers each task belongs to one
/// (<see cref="BrokerPlacement"/>); when it is lost, its tasks join the next broker in their hash order with
/// the pieces they hold. Every event it reads goes by task id straight into that task's inbox
/// (<see cref="Route"/>); an event of a task with no inbox goes to <see cref="Unrouted"/>.
/// </summary>
public sealed class SchedulerSession : BackgroundService, ISwarmReporter
{
    private static readonly TimeSpan UnaryDeadline = TimeSpan.FromSeconds(15);
    // The broker stats the origin (with its own retries and backoff) before it answers.
    private static readonly TimeSpan RegisterDeadline = TimeSpan.FromMinutes(2);

    private readonly AgentOptions _options;
    private readonly ILogger<SchedulerSession> _logger;
    private readonly BrokerPlacement _placement;
    private readonly ConcurrentDictionary<string, ISchedulerInbox> _inboxes = new(StringComparer.Ordinal);
    private readonly Lock _rebalanceGate = new();

    public SchedulerSession(AgentOptions options, AgentRuntime runtime, ILogger<SchedulerSession> logger)
        : this(options, logger, BrokerEndpoint.From(options).Select(e => new BrokerLink(e, options, runtime, logger)).ToList())
    {
    }

    /// <summary>A session over any client (tests give one whose <c>Connect</c> is a fake stream).</summary>
    internal SchedulerSession(AgentOptions options, AgentRuntime runtime, ILogger<SchedulerSession> logger, Scheduler.SchedulerClient client)
        : this(options, logger, [new BrokerLink(new BrokerEndpoint(options.Broker, options.BrokerHost, options.BrokerGrpcPort, options.BrokerHost), options, runtime, logger, client)])
    {
    }

    /// <summary>A session over several brokers given by name and client (tests give fake ones).</summary>
    internal SchedulerSession(AgentOptions options, AgentRuntime runtime, ILogger<SchedulerSession> logger, IReadOnlyList<(string Name, Scheduler.SchedulerClient Client)> brokers)
        : this(options, logger, brokers.Select(b => new BrokerLink(new BrokerEndpoint(b.Name, b.Name, 0, b.Name), options, runtime, logger, b.Client)).ToList())
    {
    }

    private SchedulerSession(AgentOptions options, ILogger<SchedulerSession> logger, IReadOnlyList<BrokerLink> links)
    {
        _options = options;
        _logger = logger;
        _placement = new BrokerPlacement(links);
        _reports = options.ParentPieceMaps
            ? new PieceReportThrottle(options.PieceReportInterval, TimeProvider.System, (task, finished) => Send(task, new PeerEvent { PiecesFinished = finished }),
                PieceReportThrottle.DefaultEagerPieces)
            : null;
    }

    // Piece reports gathered per task (children hear of our pieces from us; see PieceReportThrottle); null with
    // --piece-news broker, where the broker's relay of every report is how children hear of them.
    private readonly PieceReportThrottle? _reports;

    /// <summary>The broker's scheduler as HOST:PORT; with several, every one, comma-separated.</summary>
    public string BrokerAddress => _placement.Several
        ? string.Join(",", _placement.Links.Select(l => l.Name))
        : $"{_options.BrokerHost}:{_options.BrokerGrpcPort}";

    /// <summary>True once a broker answered on its current stream.</summary>
    public bool Connected => _placement.Links.Any(l => l.Connected);

    /// <summary>
    /// The MQTT broker the last Welcome named (dfbroker --mqtt-url): where announcements are; "" when the
    /// broker serves MQTT itself; null before the first Welcome.
    /// </summary>
    public string? WelcomeMqttUrl =>
        _placement.Links.Where(l => l.Connected).Select(l => l.WelcomeMqttUrl).FirstOrDefault(u => u is not null)
        ?? _placement.Links.Select(l => l.WelcomeMqttUrl).FirstOrDefault(u => u is not null);

    /// <summary>The tasks to (re-)join after each connect; set by the task manager.</summary>
    public Func<IEnumerable<JoinTask>> Membership { get; set; } = () => [];

    /// <summary>
    /// An event of a task no inbox is routed for (a seed told to source a URL task it does not run
    /// yet). Raised on the reading thread.
    /// </summary>
    public event Action<SchedulerEvent>? Unrouted;

    /// <summary>
    /// A broker answered on a new stream (after the Hello and the Joins went out), or, with several brokers,
    /// tasks moved to another broker: URL tasks check that their broker knows them. Raised on a reading thread.
    /// </summary>
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
        SchedulerEvent.EventOneofCase.NotJoined => message.NotJoined.Digest,
        _ => null,
    };

    public void Join(ContentDigest digest, PieceBitmap have, bool publisher)
    {
        var task = digest.ToString();
        var link = _placement.Route(task);
        _placement.Place(task, link);
        link.Send(new PeerEvent { Join = NewJoin(digest, have, publisher) });
    }

    /// <summary>The broker a task's messages go to now (for log lines).</summary>
    public string RouteOf(ContentDigest digest) => _placement.Route(digest.ToString()).Name;

    public void Leave(ContentDigest digest)
    {
        var task = digest.ToString();
        _reports?.Flush(task, forget: true);
        _placement.Route(task).Send(new PeerEvent { Leave = new LeaveTask { Digest = task } });
        _placement.Forget(task);
    }

    public static JoinTask NewJoin(ContentDigest digest, PieceBitmap have, bool publisher) =>
        new() { Digest = digest.ToString(), Bitmap = ByteString.CopyFrom(have.ToBytes()), Publisher = publisher };

    void ISwarmReporter.PiecesFinished(ContentDigest digest, IReadOnlyList<int> indexes)
    {
        if (_reports is not null)
        {
            _reports.Add(digest.ToString(), indexes, null);
            return;
        }
        var finished = new PiecesFinished { Digest = digest.ToString() };
        finished.Indexes.AddRange(indexes);
        Send(finished.Digest, new PeerEvent { PiecesFinished = finished });
    }

    void ISwarmReporter.PiecesFinished(ContentDigest digest, IReadOnlyList<int> indexes, IReadOnlyList<string> parents)
    {
        if (_reports is not null)
        {
            _reports.Add(digest.ToString(), indexes, parents);
            return;
        }
        var finished = new PiecesFinished { Digest = digest.ToString() };
        finished.Indexes.AddRange(indexes);
        finished.Parents.AddRange(parents);
        Send(finished.Digest, new PeerEvent { PiecesFinished = finished });
    }

    void ISwarmReporter.PieceFailed(ContentDigest digest, int index, string parentId, FailureKind kind) =>
        Send(digest.ToString(), new PeerEvent { PieceFailed = new PieceFailed { Digest = digest.ToString(), Index = index, ParentId = parentId, Kind = kind } });

    void ISwarmReporter.NeedParents(ContentDigest digest) =>
        Send(digest.ToString(), new PeerEvent { NeedParents = new NeedParents { Digest = digest.ToString() } });

    void ISwarmReporter.PiecesSourced(ContentDigest task, IReadOnlyList<int> indexes, IReadOnlyList<byte[]> digests)
    {
        var finished = new PiecesFinished { Digest = task.ToString() };
        finished.Indexes.AddRange(indexes);
        finished.Digests.AddRange(digests.Select(ByteString.CopyFrom));
        Send(finished.Digest, new PeerEvent { PiecesFinished = finished });
    }

    void ISwarmReporter.SourceDone(ContentDigest task, ContentDigest content) =>
        Send(task.ToString(), new PeerEvent { SourceDone = new SourceDone { Digest = task.ToString(), ContentDigest = content.ToString() } });

    void ISwarmReporter.SourceFailed(ContentDigest task, string error, bool permanent, TaskErrorKind kind) =>
        Send(task.ToString(), new PeerEvent { SourceFailed = new SourceFailed { Digest = task.ToString(), Error = error, Permanent = permanent, Kind = kind.ToWire() } });

    /// <summary>
    /// Registers a URL task with the broker (which stats the origin once) and returns its manifest. With
    /// several brokers, one of them first tells the task id (a placement probe), then the broker the id hashes
    /// to registers it, so that the task lives on one broker.
    /// </summary>
    /// <exception cref="UserFacingException">
    /// Usage (exit 2): the broker refused the URL (bad URL or scheme). Failed (exit 1): the origin has
    /// no such object, refuses, cannot be reached, or the broker cannot be reached.
    /// </exception>
    public async Task<Manifest> RegisterUrlTaskAsync(RegisterUrlTaskRequest request, string shownUrl, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!_placement.Several)
        {
            return await RegisterAtAsync(_placement.Links[0], request, shownUrl, cancellationToken).ConfigureAwait(false);
        }
        var probe = request.Clone();
        probe.PlacementProbe = true;
        var id = (await OnFirstReachableAsync("url\n" + request.Url, link => RegisterAtAsync(link, probe, shownUrl, cancellationToken)).ConfigureAwait(false)).Digest;
        PlacementLog.UrlTaskPlaced(_logger, id, _placement.Route(id).Name);
        return await OnFirstReachableAsync(id, link => RegisterAtAsync(link, request, shownUrl, cancellationToken), placeWhereAnswered: true).ConfigureAwait(false);
    }

    /// <summary>
    /// With several brokers, a call that cannot reach its broker (no connection: it is down, and this agent, just
    /// started, may not have noticed yet) goes to the next broker in the task's hash order. With
    /// <paramref name="placeWhereAnswered"/> (a registration: the task now lives where it was registered) the
    /// task's Join and reports follow it there when every broker before it was out of reach, instead of going to
    /// a broker that does not know it. Not when one of them answered (e.g. Unavailable: the origin did not answer
    /// it): it is up and owns the task, and the other agents register there.
    /// </summary>
    private async Task<T> OnFirstReachableAsync<T>(string task, Func<BrokerLink, Task<T>> call, bool placeWhereAnswered = false)
    {
        var candidates = _placement.Candidates(task);
        var earlierOnesUnreachable = true;
        for (var i = 0; ; i++)
        {
            try
            {
                var answer = await call(candidates[i]).ConfigureAwait(false);
                if (placeWhereAnswered && i > 0 && earlierOnesUnreachable)
                {
                    _placement.Place(task, candidates[i]);
                }
                return answer;
            }
            catch (UserFacingException e) when (i + 1 < candidates.Count && e.InnerException is RpcException rpc
                && (!FromBroker(rpc) || rpc.StatusCode == StatusCode.Unavailable))
            {
                // The next candidate.
                earlierOnesUnreachable &= !FromBroker(rpc);
            }
        }
    }

    private async Task<Manifest> RegisterAtAsync(BrokerLink link, RegisterUrlTaskRequest request, string shownUrl, CancellationToken cancellationToken)
    {
        try
        {
            return await link.Client.RegisterUrlTaskAsync(request, deadline: DateTime.UtcNow + RegisterDeadline, cancellationToken: cancellationToken);
        }
        catch (RpcException e) when (FromBroker(e))
        {
            var detail = e.Status.Detail is { Length: > 0 } text ? text : $"broker {link.Name} refused the URL task ({e.StatusCode})";
            throw e.StatusCode switch
            {
                StatusCode.InvalidArgument => UserFacingException.Usage(detail),
                StatusCode.NotFound => new UserFacingException(NotFoundMessage(shownUrl, detail), ExitCodes.Failed, e),
                StatusCode.DeadlineExceeded => new UserFacingException($"broker {link.Name} did not register the URL within {RegisterDeadline.TotalMinutes:0} minutes (it reaches the origin first); check that the origin answers", ExitCodes.Failed, e),
                StatusCode.FailedPrecondition or StatusCode.Unavailable or StatusCode.PermissionDenied
                    or StatusCode.ResourceExhausted or StatusCode.Aborted => new UserFacingException(detail, ExitCodes.Failed, e),
                StatusCode.Unimplemented => new UserFacingException($"broker {link.Name} does not support URL tasks; upgrade dfbroker", ExitCodes.Failed, e),
                _ => Unreachable(link, e),
            };
        }
        catch (RpcException e)
        {
            throw Unreachable(link, e);
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

    /// <summary>
    /// What the origin answered when the broker refused a URL task, as the broker named it in its trailer;
    /// <see cref="TaskErrorKind.Other"/> when it did not (older brokers, or not the origin's doing).
    /// </summary>
    public static TaskErrorKind ErrorKindOf(RpcException? e) =>
        e?.Trailers.GetValue(TaskErrorKinds.TrailerKey) is { } name ? TaskErrorKinds.Parse(name)
        : e?.StatusCode == StatusCode.NotFound ? TaskErrorKind.NotFound
        : TaskErrorKind.Other;

    /// <summary>An answer the broker itself sent (as opposed to a connection that failed on our side).</summary>
    private static bool FromBroker(RpcException e) =>
        e.Status.DebugException is null && e.StatusCode is not (StatusCode.Cancelled or StatusCode.Internal or StatusCode.Unknown);

    /// <summary>The manifest of <paramref name="digest"/>, or null when the broker of the task does not know it.</summary>
    /// <exception cref="UserFacingException">The broker cannot be reached.</exception>
    public async Task<Manifest?> GetManifestAsync(ContentDigest digest, CancellationToken cancellationToken)
    {
        return await OnFirstReachableAsync(digest.ToString(), link => GetManifestAtAsync(link, digest, cancellationToken)).ConfigureAwait(false);
    }

    private async Task<Manifest?> GetManifestAtAsync(BrokerLink link, ContentDigest digest, CancellationToken cancellationToken)
    {
        try
        {
            return await link.Client.GetManifestAsync(new GetManifestRequest { Digest = digest.ToString() },
                deadline: DateTime.UtcNow + UnaryDeadline, cancellationToken: cancellationToken);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.NotFound)
        {
            return null;
        }
        catch (RpcException e)
        {
            throw Unreachable(link, e);
        }
    }

    /// <exception cref="UserFacingException">The broker refused the manifest or cannot be reached.</exception>
    public async Task<PublishResponse> PublishAsync(Manifest manifest, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        var link = _placement.Route(manifest.Digest);
        try
        {
            return await link.Client.PublishAsync(new PublishRequest { Manifest = manifest },
                deadline: DateTime.UtcNow + UnaryDeadline, cancellationToken: cancellationToken);
        }
        catch (RpcException e) when (e.StatusCode == StatusCode.InvalidArgument)
        {
            throw new UserFacingException($"the broker refused the manifest: {e.Status.Detail}");
        }
        catch (RpcException e)
        {
            throw Unreachable(link, e);
        }
    }

    protected override Task ExecuteAsync(CancellationToken stoppingToken)
    {
        if (_placement.Several)
        {
            PlacementLog.SeveralBrokers(_logger, _placement.Links.Count, BrokerAddress);
        }
        return Task.WhenAll(_placement.Links.Select(link => link.RunAsync(JoinsFor, OnLinkUp, OnLinkDown, Dispatch, stoppingToken)));
    }

    /// <summary>The Joins a (re)connected link sends: every task, or with several brokers those it owns once it answers.</summary>
    private IEnumerable<JoinTask> JoinsFor(BrokerLink link) =>
        _placement.Several ? Membership().Where(j => ReferenceEquals(_placement.Rank(j.Digest, assumeUp: link), link)) : Membership();

    private void OnLinkUp(BrokerLink link)
    {
        if (_placement.Several)
        {
            _placement.HealthChanged();
            Rebalance();
        }
        SessionStarted?.Invoke();
    }

    private void OnLinkDown(BrokerLink link)
    {
        if (!_placement.Several)
        {
            return;
        }
        _placement.HealthChanged();
        if (Rebalance() > 0)
        {
            SessionStarted?.Invoke();
        }
    }

    /// <summary>
    /// Each task whose owner changed joins its new owner (with the pieces it holds), when that one answers,
    /// and leaves the broker it was on, when that one still answers. Returns how many tasks moved.
    /// </summary>
    private int Rebalance()
    {
        var moved = 0;
        lock (_rebalanceGate)
        {
            foreach (var join in Membership())
            {
                var owner = _placement.OwnerOf(join.Digest);
                var placed = _placement.PlacedOn(join.Digest);
                if (ReferenceEquals(placed, owner) || !owner.Connected)
                {
                    continue;
                }
                owner.Send(new PeerEvent { Join = join });
                _placement.Place(join.Digest, owner);
                if (placed is not null)
                {
                    placed.Send(new PeerEvent { Leave = new LeaveTask { Digest = join.Digest } });
                    PlacementLog.TaskMoved(_logger, join.Digest, placed.Name, owner.Name, HeldPieces(join));
                    moved++;
                }
            }
        }
        return moved;
    }

    private void Dispatch(BrokerLink link, SchedulerEvent message)
    {
        try
        {
            DispatchCore(link, message);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // One event the agent could not act on must not end the session (and with it every task).
            AgentLog.SchedulerEventFailed(_logger, e, message.EventCase.ToString(), e.Message);
            if (message.EventCase == SchedulerEvent.EventOneofCase.FetchSource
                && ContentDigest.TryParse(message.FetchSource.Manifest?.Digest, out var task))
            {
                // Tell the scheduler at once, so that it picks another source instead of waiting on this one.
                ((ISwarmReporter)this).SourceFailed(task.Value, $"the agent could not start fetching from the origin: {e.Message}", permanent: false, TaskErrorKind.Other);
            }
        }
    }

    private void DispatchCore(BrokerLink link, SchedulerEvent message)
    {
        if (TaskOf(message) is not { } task)
        {
            return;
        }
        if (_placement.Several)
        {
            if (message.EventCase == SchedulerEvent.EventOneofCase.FetchSource)
            {
                // The broker that asks this seed to fetch a task owns it: the seed's reports go there. A task
                // the seed runs already (it moved here from a lost broker, which registered it only now)
                // joins first, so that the digests of what it holds, reported next, are taken.
                _placement.Place(task, link);
                if (Membership().FirstOrDefault(j => j.Digest == task) is { } held)
                {
                    link.Send(new PeerEvent { Join = held });
                }
            }
            else if (_placement.PlacedOn(task) is { } placed && !ReferenceEquals(placed, link))
            {
                return; // news from a broker the task has left
            }
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

    private static int HeldPieces(JoinTask join)
    {
        var held = 0;
        foreach (var b in join.Bitmap.Span)
        {
            held += System.Numerics.BitOperations.PopCount(b);
        }
        return held;
    }

    private void Send(string task, PeerEvent message) => _placement.Route(task).Send(message);

    private static UserFacingException Unreachable(BrokerLink link, RpcException e) =>
        new($"broker {link.Name} is unreachable or failed ({e.StatusCode}: {e.Status.Detail}); check --broker and that dfbroker runs", ExitCodes.Failed, e);

    public override void Dispose()
    {
        base.Dispose();
        foreach (var link in _placement.Links)
        {
            link.Dispose();
        }
    }
}
