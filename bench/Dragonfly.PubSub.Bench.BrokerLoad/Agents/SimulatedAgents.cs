using System.Collections.Concurrent;
using System.Diagnostics;
using Dragonfly.PubSub.Bench.BrokerLoad.Measurement;
using Dragonfly.PubSub.Contracts.Cli;
using Grpc.Core;
using Grpc.Net.Client;

namespace Dragonfly.PubSub.Bench.BrokerLoad.Agents;

/// <summary>What the simulated agents are: the run's layout.</summary>
/// <param name="GrpcPorts">Each broker's scheduler port on 127.0.0.1.</param>
/// <param name="MqttPort">The broker whose MQTT server the agents subscribe to; 0: no MQTT clients (several brokers).</param>
/// <param name="Digests">Each task's digest.</param>
/// <param name="OwnerOfTask">Each task's broker (an index into <paramref name="GrpcPorts"/>).</param>
internal sealed record SimulationPlan(
    string RunId, int Agents, int Tasks, int PublishersPerTask, int Pieces, double Fill,
    IReadOnlyList<int> GrpcPorts, int MqttPort, IReadOnlyList<string> Digests, IReadOnlyList<int> OwnerOfTask,
    double NeedIntervalSeconds, double ReportIntervalSeconds, int PiecesPerReport, double TimeoutSeconds, bool ParentPieceMaps,
    int StreamsPerConnection, int ConnectConcurrency);

/// <summary>The load phase as the simulator saw it, with its own CPU, memory and collections.</summary>
/// <param name="Counters">Each ordinary agent's counters with the broker its stream went to.</param>
/// <param name="Collections">The simulator's collections during the load, and its no-GC region.</param>
internal sealed record LoadResult(
    IReadOnlyList<AgentLoadCounters> Counters, double CpuSeconds, double GcPauseSeconds, long Gen2Collections,
    GcFigures Collections, long IdleRssBytes, long RssBytes, long PeakRssBytes);

internal sealed record AgentLoadCounters(int BrokerIndex, AgentCounters Counters);

/// <summary>After the load: streams and MQTT clients still up, and why the first MQTT client was lost.</summary>
internal sealed record SimulationStatus(int StreamsFailed, int MqttConnected, string? MqttDisconnectReason, long MqttPingsAnswered);

/// <summary>A join step: the ordinary joins' latencies (ms) and how many agents are connected to each broker after it.</summary>
internal sealed record JoinResult(IReadOnlyList<double> LatenciesMs, IReadOnlyList<int> ConnectedPerBroker);

/// <summary>
/// The simulated agents, each a scheduler stream (and, with one broker, an MQTT client), with the steps of a run:
/// connect, join, watch for an announcement, the load phase.
/// </summary>
internal sealed class SimulatedAgents : IAsyncDisposable
{
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(60);
    private readonly SimulationPlan _plan;
    private readonly List<GrpcChannel> _channels = [];
    private readonly List<SchedulerAgent> _agents = [];
    private readonly List<MqttSubscriber> _subscribers = [];

    public SimulatedAgents(SimulationPlan plan)
    {
        _plan = plan;
        // Scheduler traffic uses several HTTP/2 connections per broker: Kestrel allows 100 streams on one.
        var invokers = new CallInvoker[plan.GrpcPorts.Count][];
        var streamsOn = new int[plan.GrpcPorts.Count];
        AgentsOn = [.. Enumerable.Range(0, plan.GrpcPorts.Count).Select(b => Enumerable.Range(0, plan.Agents).Count(i => BrokerOf(i) == b))];
        for (var b = 0; b < plan.GrpcPorts.Count; b++)
        {
            invokers[b] = new CallInvoker[Math.Max(1, (AgentsOn[b] + plan.StreamsPerConnection - 1) / plan.StreamsPerConnection)];
            for (var c = 0; c < invokers[b].Length; c++)
            {
                var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{plan.GrpcPorts[b]}", new GrpcChannelOptions
                {
                    HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true },
                });
                _channels.Add(channel);
                invokers[b][c] = channel.CreateCallInvoker();
            }
        }
        for (var i = 0; i < plan.Agents; i++)
        {
            var task = i % plan.Tasks;
            var b = BrokerOf(i);
            _agents.Add(new SchedulerAgent(invokers[b][streamsOn[b]++ % invokers[b].Length], $"bench-{plan.RunId}-{i}", 1024 + i % 60000,
                plan.Digests[task], plan.Pieces, publisher: i / plan.Tasks < plan.PublishersPerTask, plan.Fill, seed: i)
            { BrokerIndex = b, ParentPieceMaps = plan.ParentPieceMaps });
            if (plan.MqttPort > 0)
            {
                _subscribers.Add(new MqttSubscriber($"bench-{plan.RunId}-{i}"));
            }
        }
    }

    /// <summary>Each broker's share of the agents (the broker each agent's task is placed on).</summary>
    public IReadOnlyList<int> AgentsOn { get; }

    /// <summary>HTTP/2 connections opened to the brokers.</summary>
    public int Channels => _channels.Count;

    private int BrokerOf(int agent) => _plan.OwnerOfTask[agent % _plan.Tasks];

    /// <summary>Connects and subscribes every MQTT client; returns how many are connected.</summary>
    public async Task<int> ConnectMqttAsync(CancellationToken cancellationToken)
    {
        await ForEachAsync(_subscribers, s => s.ConnectAsync("127.0.0.1", _plan.MqttPort, SyntheticManifest.Filter, ConnectTimeout, cancellationToken), cancellationToken).ConfigureAwait(false);
        return _subscribers.Count(s => s.Connected);
    }

    /// <summary>Opens the streams of the publishers (or of the ordinary agents) and joins their tasks.</summary>
    public async Task<JoinResult> JoinAsync(bool publishers, CancellationToken cancellationToken)
    {
        var latencies = new ConcurrentBag<double>();
        await ForEachAsync(_agents.Where(a => a.IsPublisher == publishers), async agent =>
        {
            try
            {
                if (await agent.ConnectAsync(ConnectTimeout, CancellationToken.None).ConfigureAwait(false) is double ms)
                {
                    latencies.Add(ms);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or IOException or RpcException)
            {
                throw new UserFacingException($"scheduler stream of {agent.PeerId} did not connect: {e.Message}");
            }
        }, cancellationToken).ConfigureAwait(false);
        return new JoinResult([.. latencies], [.. Enumerable.Range(0, _plan.GrpcPorts.Count).Select(b => _agents.Count(a => a.Connected && a.BrokerIndex == b))]);
    }

    /// <summary>Watches every MQTT client for an announcement on <paramref name="mqttTopic"/> from now on.</summary>
    public void WatchFor(string mqttTopic)
    {
        foreach (var subscriber in _subscribers)
        {
            subscriber.WatchFor(mqttTopic);
        }
    }

    /// <summary>Waits until every MQTT client got the watched announcement, or <paramref name="timeout"/>; each one's Stopwatch timestamp (0: none).</summary>
    public async Task<IReadOnlyList<long>> ProbeArrivalsAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        var waited = Stopwatch.StartNew();
        while (_subscribers.Any(s => s.ProbeReceived == 0) && waited.Elapsed < timeout)
        {
            await Task.Delay(5, cancellationToken).ConfigureAwait(false);
        }
        return [.. _subscribers.Select(s => s.ProbeReceived)];
    }

    /// <summary>The load phase for <paramref name="duration"/>, then up to one timeout for the last answers.</summary>
    public async Task<LoadResult> LoadAsync(TimeSpan duration, CancellationToken cancellationToken)
    {
        var ordinary = _agents.Where(a => !a.IsPublisher).ToList();
        var timeout = TimeSpan.FromSeconds(_plan.TimeoutSeconds);
        foreach (var agent in ordinary)
        {
            agent.BeginLoad(timeout);
        }
        var idleRss = Environment.WorkingSet;
        // Starting the region collects once (~0.1 s): before the phase, whose first requests would wait for it.
        var noGc = NoGcRegion.TryStart(duration);
        var start = Stopwatch.GetTimestamp();
        var cpuBefore = Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;
        var gcBefore = (Pause: GC.GetTotalPauseDuration(), Gen2: GC.CollectionCount(2));
        using var gcLog = new GcLog();
        var noGcHeld = false;
        try
        {
            await new LoadClock(ordinary, _subscribers, TimeSpan.FromSeconds(_plan.NeedIntervalSeconds), TimeSpan.FromSeconds(_plan.ReportIntervalSeconds), _plan.PiecesPerReport, seed: 1)
                .RunAsync(start, duration, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            // Also when the phase was cancelled: the process must not stay in the region.
            noGcHeld = noGc.End();
        }
        // CPU and GC of the load itself, not of the wait for the last answers.
        var cpu = Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds - cpuBefore;
        var gc = (Pause: (GC.GetTotalPauseDuration() - gcBefore.Pause).TotalSeconds, Gen2: GC.CollectionCount(2) - gcBefore.Gen2);
        var collections = gcLog.Figures(noGc, noGcHeld);
        var rss = Environment.WorkingSet;
        var counters = await Task.WhenAll(ordinary.Select(a => a.FinishAsync(timeout))).ConfigureAwait(false);
        return new LoadResult([.. ordinary.Select((a, i) => new AgentLoadCounters(a.BrokerIndex, counters[i]))],
            cpu, gc.Pause, gc.Gen2, collections, idleRss, rss, Broker.ProcStatus.Read(Environment.ProcessId)?.PeakRssBytes ?? rss);
    }

    public SimulationStatus Status() => new(
        _agents.Count(a => a.Failure is not null),
        _subscribers.Count(s => s.Connected),
        _subscribers.Select(s => s.DisconnectReason).FirstOrDefault(r => r is not null),
        _subscribers.Sum(s => s.PingsAnswered));

    private Task ForEachAsync<T>(IEnumerable<T> items, Func<T, Task> action, CancellationToken cancellationToken) =>
        Parallel.ForEachAsync(items, new ParallelOptions { MaxDegreeOfParallelism = _plan.ConnectConcurrency, CancellationToken = cancellationToken },
            async (item, _) => await action(item).ConfigureAwait(false));

    public async ValueTask DisposeAsync()
    {
        // Agents first, so the broker sees the streams end rather than a dead peer process.
        await Task.WhenAll(_agents.Select(a => a.DisposeAsync().AsTask())).ConfigureAwait(false);
        await Task.WhenAll(_subscribers.Select(s => s.DisposeAsync().AsTask())).ConfigureAwait(false);
        foreach (var channel in _channels)
        {
            channel.Dispose();
        }
    }
}
