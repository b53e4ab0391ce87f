using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http;
using System.Text.Json;
using Dragonfly.PubSub.Bench.BrokerLoad.Agents;
using Dragonfly.PubSub.Bench.BrokerLoad.Broker;
using Dragonfly.PubSub.Bench.BrokerLoad.Measurement;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Cli;
using Dragonfly.PubSub.Contracts.Scheduler;
using Grpc.Core;
using Grpc.Net.Client;

namespace Dragonfly.PubSub.Bench.BrokerLoad;

/// <summary>
/// Starts one dfbroker (or several on one Redis, each task's agents on the broker rendezvous hashing picks),
/// connects N simulated agents (a scheduler stream each, and an MQTT client each with one broker),
/// measures set-up, one announcement's fan-out and a NeedParents/PiecesFinished load sent on schedule, then
/// stops everything it started (also on failure or cancellation).
/// </summary>
internal sealed class BrokerLoadBenchmark(BrokerLoadOptions options)
{
    /// <summary>Issue 10: one broker, 5,000 agents.</summary>
    public const double TargetP99Ms = 20;

    /// <summary>Issue 12: several brokers on one Redis, 10,000 agents.</summary>
    public const double TargetP99MsSeveral = 50;
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan AnnouncementTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan Settle = TimeSpan.FromSeconds(2);

    public async Task<BrokerLoadReport> RunAsync(CancellationToken cancellationToken)
    {
        var maxOpenFiles = MaxOpenFiles();
        var needed = options.Agents + options.Agents / options.StreamsPerConnection + 256;
        if (maxOpenFiles is long limit && limit < needed)
        {
            throw new UserFacingException($"{options.Agents} agents need about {needed} open files, the limit is {limit}; raise it with 'ulimit -n {needed}' (or fewer --agents)");
        }

        var startedAt = DateTimeOffset.UtcNow;
        var loadAverageAtStart = LoadAverage();
        var runId = startedAt.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);
        var subscribers = new List<MqttSubscriber>();
        var agents = new List<SchedulerAgent>();
        var channels = new List<GrpcChannel>();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        BrokerFleet? fleet = null;
        try
        {
            fleet = await BrokerFleet.StartAsync(options.Brokers, options.BrokerPath ?? BrokerProcess.DefaultExecutable(), options.Tls, options.Say, cancellationToken).ConfigureAwait(false);
            var brokers = fleet.Brokers;
            // Several brokers announce into an external MQTT broker (--mqtt-url), which this benchmark does not run:
            // their embedded servers would each see a third of the subscribers. MQTT is measured with one broker.
            var withMqtt = brokers.Count == 1;

            // Each task lives on the broker an agent's placement picks for it; its manifest is published there.
            var manifests = new List<Manifest>();
            var ownerOfTask = new int[options.Tasks];
            for (var t = 0; t < options.Tasks; t++)
            {
                manifests.Add(SyntheticManifest.Create(runId, $"task-{t}", options.Pieces));
                ownerOfTask[t] = fleet.OwnerOf(manifests[t].Digest);
            }
            var brokerOfAgent = Enumerable.Range(0, options.Agents).Select(i => ownerOfTask[i % options.Tasks]).ToArray();

            // Scheduler traffic uses several HTTP/2 connections per broker: Kestrel allows 100 streams on one.
            var clients = new Scheduler.SchedulerClient[brokers.Count][];
            var invokers = new CallInvoker[brokers.Count][];
            var channelCount = 0;
            for (var b = 0; b < brokers.Count; b++)
            {
                var onBroker = brokerOfAgent.Count(x => x == b);
                clients[b] = new Scheduler.SchedulerClient[Math.Max(1, (onBroker + options.StreamsPerConnection - 1) / options.StreamsPerConnection)];
                invokers[b] = new CallInvoker[clients[b].Length];
                for (var c = 0; c < clients[b].Length; c++)
                {
                    var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{brokers[b].Ports.GrpcPort}", new GrpcChannelOptions
                    {
                        HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true },
                    });
                    channels.Add(channel);
                    invokers[b][c] = channel.CreateCallInvoker();
                    clients[b][c] = new Scheduler.SchedulerClient(invokers[b][c]);
                }
                channelCount += clients[b].Length;
            }
            for (var t = 0; t < options.Tasks; t++)
            {
                await clients[ownerOfTask[t]][0].PublishAsync(new PublishRequest { Manifest = manifests[t] }, cancellationToken: cancellationToken).ConfigureAwait(false);
            }

            // MQTT first: their retained announcements of the tasks arrive now, not during the probe.
            var mqttClock = Stopwatch.StartNew();
            if (withMqtt)
            {
                options.Say($"connecting {options.Agents} MQTT clients…");
                for (var i = 0; i < options.Agents; i++)
                {
                    subscribers.Add(new MqttSubscriber($"bench-{runId}-{i}"));
                }
                await ForEachAsync(subscribers, s => s.ConnectAsync("127.0.0.1", brokers[0].Ports.MqttPort, SyntheticManifest.Filter, ConnectTimeout, cancellationToken), cancellationToken).ConfigureAwait(false);
            }
            var mqttSeconds = mqttClock.Elapsed.TotalSeconds;
            var mqttConnected = subscribers.Count(s => s.Connected);
            EnsureBrokersAlive(fleet);

            // Publishers first, so every ordinary join is answered with a real parent set.
            var streamsOn = new int[brokers.Count];
            for (var i = 0; i < options.Agents; i++)
            {
                var task = i % options.Tasks;
                var publisher = i / options.Tasks < options.PublishersPerTask;
                var b = brokerOfAgent[i];
                var invoker = invokers[b][streamsOn[b]++ % invokers[b].Length];
                agents.Add(new SchedulerAgent(invoker, $"bench-{runId}-{i}", 1024 + i % 60000,
                    manifests[task].Digest, options.Pieces, publisher, options.Fill, seed: i) { BrokerIndex = b, ParentPieceMaps = options.ParentPieceMaps });
            }
            options.Say($"connecting {options.Agents} scheduler streams over {channelCount} channels to {brokers.Count} broker(s) ({string.Join(" / ", streamsOn)})…");
            var joinLatencies = new ConcurrentBag<double>();
            var schedulerClock = Stopwatch.StartNew();
            var publishers = agents.Where(a => a.IsPublisher).ToList();
            var ordinary = agents.Where(a => !a.IsPublisher).ToList();
            await ForEachAsync(publishers, a => Join(a, joinLatencies), cancellationToken).ConfigureAwait(false);
            await ForEachAsync(ordinary, a => Join(a, joinLatencies), cancellationToken).ConfigureAwait(false);
            var schedulerSeconds = schedulerClock.Elapsed.TotalSeconds;
            EnsureBrokersAlive(fleet);
            options.Say($"set-up done: MQTT {mqttSeconds:0.0} s, scheduler {schedulerSeconds:0.0} s");

            var announcement = withMqtt ? await ProbeAnnouncementAsync(clients[0][0], runId, subscribers, cancellationToken).ConfigureAwait(false) : null;
            await Task.Delay(Settle, cancellationToken).ConfigureAwait(false);
            var idleRss = brokers.Select(b => b.Status()?.RssBytes ?? 0).ToArray();
            var benchIdleRss = Environment.WorkingSet;

            options.Say($"load: {ordinary.Count} agents for {options.Duration.TotalSeconds:0} s, {Settings(options, ordinary.Count, 0, 0, []).PieceReportsPerSecondOffered:0} piece reports/s offered ({options.Profile.ToString().ToLowerInvariant()})…");
            var histogramsBefore = await ScrapeAllAsync(http, fleet, cancellationToken).ConfigureAwait(false);
            var brokerCpuBefore = brokers.Select(b => b.Status()?.CpuSeconds ?? 0).ToArray();
            var redisCpuBefore = fleet.Redis?.Status()?.CpuSeconds ?? 0;
            var benchCpuBefore = Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;
            var benchGcBefore = (Pause: GC.GetTotalPauseDuration(), Gen2: GC.CollectionCount(2));
            using var benchGcLog = new GcLog();
            var loadClock = Stopwatch.StartNew();
            using var phase = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            phase.CancelAfter(options.Duration);
            var dashboards = new DashboardReaders(brokers[0].Ports.HttpPort, options.DashboardPollers, options.DashboardStreams);
            var reading = dashboards.RunAsync(phase.Token);
            foreach (var agent in ordinary)
            {
                agent.BeginLoad(options.Timeout);
            }
            var clock = new LoadClock(ordinary, subscribers, options.NeedInterval, options.ReportInterval, options.PiecesPerReport)
                .RunAsync(options.Duration, cancellationToken);
            // CPU and RSS at the end of the load itself, not after the wait for the last answers.
            await Task.Delay(options.Duration, cancellationToken).ConfigureAwait(false);
            var brokerStatus = brokers.Select(b => b.Status() ?? throw new UserFacingException($"dfbroker pid {b.Pid} exited during the load phase: {b.Tail()}")).ToArray();
            var redisStatus = fleet.Redis?.Status();
            var benchCpu = Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds - benchCpuBefore;
            var benchGc = (Pause: (GC.GetTotalPauseDuration() - benchGcBefore.Pause).TotalSeconds, Gen2: GC.CollectionCount(2) - benchGcBefore.Gen2);
            var benchCollections = benchGcLog.Figures();
            var loadAverageAtEnd = LoadAverage();
            await clock.ConfigureAwait(false);
            var counters = await Task.WhenAll(ordinary.Select(a => a.FinishAsync(options.Timeout))).ConfigureAwait(false);
            await reading.ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            var loadSeconds = Math.Min(loadClock.Elapsed.TotalSeconds, options.Duration.TotalSeconds);
            var histogramsAfter = await ScrapeAllAsync(http, fleet, cancellationToken).ConfigureAwait(false);
            var compute = histogramsAfter.Select((h, b) => h.Minus(histogramsBefore[b])).ToArray();
            var allBrokers = compute.Aggregate(BrokerScrape.Empty, (all, h) => all.Plus(h));

            var timeoutMs = options.Timeout.TotalMilliseconds;
            var latency = Latency(counters, timeoutMs);
            var answered = counters.Sum(c => c.AnsweredMs.Count);
            var due = counters.Sum(c => c.Requests + c.Skipped);
            var piecesReported = counters.Sum(c => c.PiecesReported);
            var pieceAvailable = counters.Sum(c => c.PieceAvailable);
            var pieceAvailableEvents = counters.Sum(c => c.PieceAvailableEvents);
            var perBroker = new List<BrokerFigures>();
            for (var b = 0; b < brokers.Count; b++)
            {
                var mine = ordinary.Select((a, i) => (a, i)).Where(x => x.a.BrokerIndex == b).Select(x => counters[x.i]).ToList();
                perBroker.Add(new BrokerFigures(b, BrokerFleet.NameOf(brokers[b].Ports.GrpcPort), brokers[b].Pid,
                    ownerOfTask.Count(o => o == b), streamsOn[b], agents.Count(a => a.BrokerIndex == b && a.Connected),
                    Latency(mine, timeoutMs), Compute(compute[b].Compute),
                    new ResourceFigures(idleRss[b], brokerStatus[b].RssBytes, brokerStatus[b].PeakRssBytes, brokerStatus[b].CpuSeconds - brokerCpuBefore[b], brokers[b].OutputLines,
                        compute[b].GcPauseSeconds, (long)compute[b].Gen2Collections)));
            }
            var target = brokers.Count == 1 ? TargetP99Ms : TargetP99MsSeveral;
            return new BrokerLoadReport
            {
                StartedAt = startedAt,
                Machine = $"{Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}",
                LoadAverageAtStart = loadAverageAtStart,
                LoadAverageAtEnd = loadAverageAtEnd,
                Settings = Settings(options, ordinary.Count, channelCount, (int)Math.Min(int.MaxValue, maxOpenFiles ?? -1), brokers[0].Arguments),
                Setup = new SetupFigures(agents.Count(a => a.Connected), mqttConnected, subscribers.Count(s => s.Connected), mqttSeconds, schedulerSeconds,
                    LatencySummary.Of(joinLatencies), subscribers.Select(s => s.DisconnectReason).FirstOrDefault(r => r is not null),
                    subscribers.Sum(s => s.PingsAnswered)),
                Schedule = new ScheduleFigures(latency, LatencySummary.Of(counters.SelectMany(c => c.AnsweredMs)), LatencySummary.Of(counters.SelectMany(c => c.SendLagMs)),
                    due / loadSeconds, counters.Sum(c => c.Requests), answered, counters.Sum(c => c.Skipped), counters.Sum(c => c.Late),
                    counters.Sum(c => c.Unanswered), counters.Sum(c => c.Unsolicited), counters.Sum(c => c.UnknownAnswers),
                    piecesReported, piecesReported / loadSeconds, pieceAvailable, pieceAvailable / loadSeconds, agents.Count(a => a.Failure is not null),
                    pieceAvailableEvents, pieceAvailableEvents / loadSeconds),
                ServerCompute = Compute(allBrokers.Compute),
                ServerLatency = new ServerLatencyFigures(Compute(allBrokers.Queued), Compute(allBrokers.Written)),
                Announcement = announcement,
                Broker = new ResourceFigures(idleRss.Sum(), brokerStatus.Sum(s => s.RssBytes), brokerStatus.Sum(s => s.PeakRssBytes),
                    perBroker.Sum(f => f.Resources.CpuSecondsDuringLoad), brokers.Sum(b => b.OutputLines), allBrokers.GcPauseSeconds, (long)allBrokers.Gen2Collections),
                Brokers = perBroker,
                Redis = redisStatus is { } r ? new ResourceFigures(0, r.RssBytes, r.PeakRssBytes, r.CpuSeconds - redisCpuBefore, 0) : null,
                Bench = new ResourceFigures(benchIdleRss, Environment.WorkingSet, ProcStatus.Read(Environment.ProcessId)?.PeakRssBytes ?? 0, benchCpu, 0,
                    benchGc.Pause, benchGc.Gen2),
                BenchCollections = benchCollections,
                Target = new TargetFigures(target, latency.Count > 0 && latency.P99Ms <= target),
                Dashboard = options.DashboardPollers + options.DashboardStreams > 0 ? dashboards.Figures(loadSeconds) : null,
            };
        }
        finally
        {
            // Agents first, so the broker sees the streams end rather than a dead peer process.
            await Task.WhenAll(agents.Select(a => a.DisposeAsync().AsTask())).ConfigureAwait(false);
            await Task.WhenAll(subscribers.Select(s => s.DisposeAsync().AsTask())).ConfigureAwait(false);
            foreach (var channel in channels)
            {
                channel.Dispose();
            }
            if (fleet is not null)
            {
                await fleet.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>Over every request due: late, unanswered and unsent ones count as the timeout.</summary>
    private static LatencySummary Latency(IReadOnlyCollection<AgentCounters> counters, double timeoutMs) =>
        LatencySummary.Of(counters.SelectMany(c => c.AnsweredMs).Concat(Enumerable.Repeat(timeoutMs, counters.Sum(c => c.Late + c.Unanswered + c.Skipped))));

    private static ServerComputeFigures Compute(HistogramSnapshot h) =>
        new((long)h.Count, h.Count > 0 ? h.Sum / h.Count * 1000 : 0, h.QuantileUpperBound(50) * 1000, h.QuantileUpperBound(99) * 1000, h.Sum);

    private static async Task<BrokerScrape[]> ScrapeAllAsync(HttpClient http, BrokerFleet fleet, CancellationToken cancellationToken) =>
        await Task.WhenAll(fleet.Brokers.Select(b => ScrapeAsync(http, b.Ports.HttpPort, cancellationToken))).ConfigureAwait(false);

    private static LoadSettings Settings(BrokerLoadOptions options, int ordinaryAgents, int channels, int maxOpenFiles, IReadOnlyList<string> brokerArguments)
    {
        // Intervals are drawn from S..2S: the mean rate is 1 / 1.5 S.
        var perAgent = options.ReportInterval > TimeSpan.Zero ? 1 / (1.5 * options.ReportInterval.TotalSeconds) : 0;
        var derivation = options.Profile == LoadProfile.Swarm
            ? options.PiecesPerReport > 1 ? SwarmReportRate.ThrottledDerivation : SwarmReportRate.Derivation
            : string.Create(CultureInfo.InvariantCulture, $"default: --report-interval {options.ReportInterval.TotalSeconds:0.###} s, one report every S..2S s");
        return new LoadSettings(options.Agents, options.Tasks, options.PublishersPerTask, options.Pieces, options.Fill,
            options.Duration.TotalSeconds, options.NeedInterval.TotalSeconds, options.ReportInterval.TotalSeconds,
            options.Profile.ToString().ToLowerInvariant(), perAgent, perAgent * ordinaryAgents, derivation,
            ordinaryAgents / (1.5 * options.NeedInterval.TotalSeconds), options.Timeout.TotalSeconds, options.Tls, brokerArguments,
            channels, options.StreamsPerConnection, maxOpenFiles, options.Brokers, options.ParentPieceMaps ? "peer" : "broker");
    }

    private static string LoadAverage()
    {
        try
        {
            return File.ReadAllText("/proc/loadavg").Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return "unknown";
        }
    }

    /// <summary>Writes result.json to --out and returns its path.</summary>
    public static string Write(BrokerLoadReport report, string folder)
    {
        Directory.CreateDirectory(folder);
        var path = Path.Combine(folder, "result.json");
        File.WriteAllText(path, JsonSerializer.Serialize(report, ReportJsonContext.Default.BrokerLoadReport));
        return path;
    }

    private static async Task Join(SchedulerAgent agent, ConcurrentBag<double> joinLatencies)
    {
        try
        {
            if (await agent.ConnectAsync(ConnectTimeout, CancellationToken.None).ConfigureAwait(false) is double ms)
            {
                joinLatencies.Add(ms);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or Grpc.Core.RpcException)
        {
            throw new UserFacingException($"scheduler stream of {agent.PeerId} did not connect: {e.Message}");
        }
    }

    private async Task<AnnouncementFigures> ProbeAnnouncementAsync(Scheduler.SchedulerClient client, string runId, List<MqttSubscriber> subscribers, CancellationToken cancellationToken)
    {
        var probe = SyntheticManifest.Create(runId, "probe", 1);
        var topic = TopicName.ToMqttTopic(probe.Topic);
        foreach (var subscriber in subscribers)
        {
            subscriber.WatchFor(topic);
        }
        var sent = Stopwatch.GetTimestamp();
        await client.PublishAsync(new PublishRequest { Manifest = probe }, cancellationToken: cancellationToken).ConfigureAwait(false);
        var waited = Stopwatch.StartNew();
        while (subscribers.Any(s => s.ProbeReceived == 0) && waited.Elapsed < AnnouncementTimeout)
        {
            await Task.Delay(5, cancellationToken).ConfigureAwait(false);
        }
        var arrivals = subscribers.Select(s => s.ProbeReceived).Where(t => t != 0)
            .Select(t => Stopwatch.GetElapsedTime(sent, t).TotalMilliseconds).ToList();
        var summary = LatencySummary.Of(arrivals);
        options.Say($"announcement reached {arrivals.Count}/{subscribers.Count} subscribers");
        return new AnnouncementFigures(subscribers.Count, arrivals.Count, arrivals.Count > 0 ? arrivals.Min() : 0,
            summary.P50Ms, summary.P99Ms, arrivals.Count == subscribers.Count ? summary.MaxMs : double.PositiveInfinity);
    }

    private static async Task<BrokerScrape> ScrapeAsync(HttpClient http, int port, CancellationToken cancellationToken)
    {
        var text = await http.GetStringAsync(new Uri($"http://127.0.0.1:{port}/metrics"), cancellationToken).ConfigureAwait(false);
        return BrokerScrape.Parse(text);
    }

    private Task ForEachAsync<T>(IEnumerable<T> items, Func<T, Task> action, CancellationToken cancellationToken) =>
        Parallel.ForEachAsync(items, new ParallelOptions { MaxDegreeOfParallelism = options.ConnectConcurrency, CancellationToken = cancellationToken },
            async (item, _) => await action(item).ConfigureAwait(false));

    private static void EnsureBrokersAlive(BrokerFleet fleet)
    {
        foreach (var broker in fleet.Brokers)
        {
            if (!broker.IsRunning)
            {
                throw new UserFacingException($"dfbroker pid {broker.Pid} exited: {broker.Tail()}");
            }
        }
    }

    /// <summary>The soft limit on open files of this process (the broker inherits it); null when unknown.</summary>
    private static long? MaxOpenFiles()
    {
        try
        {
            var line = File.ReadLines("/proc/self/limits").FirstOrDefault(l => l.StartsWith("Max open files", StringComparison.Ordinal));
            var soft = line?["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries)[0];
            return soft is null || soft == "unlimited" ? null : long.Parse(soft, CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or FormatException)
        {
            return null;
        }
    }
}
