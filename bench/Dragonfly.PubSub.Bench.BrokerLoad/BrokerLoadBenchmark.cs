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
        SimulatedAgents? agents = null;
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
            for (var t = 0; t < options.Tasks; t++)
            {
                using var owner = GrpcChannel.ForAddress($"http://127.0.0.1:{brokers[ownerOfTask[t]].Ports.GrpcPort}");
                await new Scheduler.SchedulerClient(owner).PublishAsync(new PublishRequest { Manifest = manifests[t] }, cancellationToken: cancellationToken).ConfigureAwait(false);
            }

            agents = new SimulatedAgents(new SimulationPlan(runId, options.Agents, options.Tasks, options.PublishersPerTask,
                options.Pieces, options.Fill, [.. brokers.Select(b => b.Ports.GrpcPort)], withMqtt ? brokers[0].Ports.MqttPort : 0,
                [.. manifests.Select(m => m.Digest)], ownerOfTask, options.NeedInterval.TotalSeconds, options.ReportInterval.TotalSeconds,
                options.PiecesPerReport, options.Timeout.TotalSeconds, options.ParentPieceMaps, options.StreamsPerConnection, options.ConnectConcurrency));
            var channelCount = agents.Channels;

            // MQTT first: their retained announcements of the tasks arrive now, not during the probe.
            var mqttClock = Stopwatch.StartNew();
            var mqttConnected = 0;
            if (withMqtt)
            {
                options.Say($"connecting {options.Agents} MQTT clients…");
                mqttConnected = await agents.ConnectMqttAsync(cancellationToken).ConfigureAwait(false);
            }
            var mqttSeconds = mqttClock.Elapsed.TotalSeconds;
            EnsureBrokersAlive(fleet);

            // Publishers first, so every ordinary join is answered with a real parent set.
            options.Say($"connecting {options.Agents} scheduler streams over {channelCount} channels to {brokers.Count} broker(s) ({string.Join(" / ", agents.AgentsOn)})…");
            var schedulerClock = Stopwatch.StartNew();
            await agents.JoinAsync(publishers: true, cancellationToken).ConfigureAwait(false);
            var join = await agents.JoinAsync(publishers: false, cancellationToken).ConfigureAwait(false);
            var schedulerSeconds = schedulerClock.Elapsed.TotalSeconds;
            EnsureBrokersAlive(fleet);
            options.Say($"set-up done: MQTT {mqttSeconds:0.0} s, scheduler {schedulerSeconds:0.0} s");

            var announcement = withMqtt ? await ProbeAnnouncementAsync(brokers[0].Ports.GrpcPort, runId, agents, options.Agents, cancellationToken).ConfigureAwait(false) : null;
            await Task.Delay(Settle, cancellationToken).ConfigureAwait(false);
            var idleRss = brokers.Select(b => b.Status()?.RssBytes ?? 0).ToArray();

            var ordinaryCount = options.Agents - options.Tasks * options.PublishersPerTask;
            options.Say($"load: {ordinaryCount} agents for {options.Duration.TotalSeconds:0} s, {Settings(options, ordinaryCount, 0, 0, []).PieceReportsPerSecondOffered:0} piece reports/s offered ({options.Profile.ToString().ToLowerInvariant()})…");
            var histogramsBefore = await ScrapeAllAsync(http, fleet, cancellationToken).ConfigureAwait(false);
            var brokerCpuBefore = brokers.Select(b => b.Status()?.CpuSeconds ?? 0).ToArray();
            var redisCpuBefore = fleet.Redis?.Status()?.CpuSeconds ?? 0;
            var loadClock = Stopwatch.StartNew();
            using var phase = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            phase.CancelAfter(options.Duration);
            var dashboards = new DashboardReaders(brokers[0].Ports.HttpPort, options.DashboardPollers, options.DashboardStreams);
            var reading = dashboards.RunAsync(phase.Token);
            var load = agents.LoadAsync(options.Duration, cancellationToken);
            // CPU and RSS at the end of the load itself, not after the wait for the last answers.
            await Task.Delay(options.Duration, cancellationToken).ConfigureAwait(false);
            var brokerStatus = brokers.Select(b => b.Status() ?? throw new UserFacingException($"dfbroker pid {b.Pid} exited during the load phase: {b.Tail()}")).ToArray();
            var redisStatus = fleet.Redis?.Status();
            var loadAverageAtEnd = LoadAverage();
            var loaded = await load.ConfigureAwait(false);
            await reading.ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            var status = agents.Status();
            var agentCounters = loaded.Counters;
            var counters = agentCounters.Select(c => c.Counters).ToList();
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
            var connectedOn = join.ConnectedPerBroker;
            var perBroker = new List<BrokerFigures>();
            for (var b = 0; b < brokers.Count; b++)
            {
                var mine = agentCounters.Where(c => c.BrokerIndex == b).Select(c => c.Counters).ToList();
                perBroker.Add(new BrokerFigures(b, BrokerFleet.NameOf(brokers[b].Ports.GrpcPort), brokers[b].Pid,
                    ownerOfTask.Count(o => o == b), agents.AgentsOn[b], connectedOn[b],
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
                Settings = Settings(options, ordinaryCount, channelCount, (int)Math.Min(int.MaxValue, maxOpenFiles ?? -1), brokers[0].Arguments),
                Setup = new SetupFigures(connectedOn.Sum(), mqttConnected, status.MqttConnected, mqttSeconds, schedulerSeconds,
                    LatencySummary.Of(join.LatenciesMs), status.MqttDisconnectReason, status.MqttPingsAnswered),
                Schedule = new ScheduleFigures(latency, LatencySummary.Of(counters.SelectMany(c => c.AnsweredMs)), LatencySummary.Of(counters.SelectMany(c => c.SendLagMs)),
                    due / loadSeconds, counters.Sum(c => c.Requests), answered, counters.Sum(c => c.Skipped), counters.Sum(c => c.Late),
                    counters.Sum(c => c.Unanswered), counters.Sum(c => c.Unsolicited), counters.Sum(c => c.UnknownAnswers),
                    piecesReported, piecesReported / loadSeconds, pieceAvailable, pieceAvailable / loadSeconds, status.StreamsFailed,
                    pieceAvailableEvents, pieceAvailableEvents / loadSeconds),
                ServerCompute = Compute(allBrokers.Compute),
                ServerLatency = new ServerLatencyFigures(Compute(allBrokers.Queued), Compute(allBrokers.Written)),
                Announcement = announcement,
                Broker = new ResourceFigures(idleRss.Sum(), brokerStatus.Sum(s => s.RssBytes), brokerStatus.Sum(s => s.PeakRssBytes),
                    perBroker.Sum(f => f.Resources.CpuSecondsDuringLoad), brokers.Sum(b => b.OutputLines), allBrokers.GcPauseSeconds, (long)allBrokers.Gen2Collections),
                Brokers = perBroker,
                Redis = redisStatus is { } r ? new ResourceFigures(0, r.RssBytes, r.PeakRssBytes, r.CpuSeconds - redisCpuBefore, 0) : null,
                Bench = new ResourceFigures(loaded.IdleRssBytes, loaded.RssBytes, loaded.PeakRssBytes, loaded.CpuSeconds, 0, loaded.GcPauseSeconds, loaded.Gen2Collections),
                BenchCollections = loaded.Collections,
                Target = new TargetFigures(target, latency.Count > 0 && latency.P99Ms <= target),
                Dashboard = options.DashboardPollers + options.DashboardStreams > 0 ? dashboards.Figures(loadSeconds) : null,
            };
        }
        finally
        {
            // Agents first, so the broker sees the streams end rather than a dead peer process.
            if (agents is not null)
            {
                await agents.DisposeAsync().ConfigureAwait(false);
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

    private async Task<AnnouncementFigures> ProbeAnnouncementAsync(int grpcPort, string runId, SimulatedAgents agents, int subscribers, CancellationToken cancellationToken)
    {
        var probe = SyntheticManifest.Create(runId, "probe", 1);
        var topic = TopicName.ToMqttTopic(probe.Topic);
        agents.WatchFor(topic);
        using var channel = GrpcChannel.ForAddress($"http://127.0.0.1:{grpcPort}");
        var sent = Stopwatch.GetTimestamp();
        await new Scheduler.SchedulerClient(channel).PublishAsync(new PublishRequest { Manifest = probe }, cancellationToken: cancellationToken).ConfigureAwait(false);
        var arrivals = (await agents.ProbeArrivalsAsync(AnnouncementTimeout, cancellationToken).ConfigureAwait(false))
            .Where(t => t != 0).Select(t => Stopwatch.GetElapsedTime(sent, t).TotalMilliseconds).ToList();
        var summary = LatencySummary.Of(arrivals);
        options.Say($"announcement reached {arrivals.Count}/{subscribers} subscribers");
        return new AnnouncementFigures(subscribers, arrivals.Count, arrivals.Count > 0 ? arrivals.Min() : 0,
            summary.P50Ms, summary.P99Ms, arrivals.Count == subscribers ? summary.MaxMs : double.PositiveInfinity);
    }

    private static async Task<BrokerScrape> ScrapeAsync(HttpClient http, int port, CancellationToken cancellationToken)
    {
        var text = await http.GetStringAsync(new Uri($"http://127.0.0.1:{port}/metrics"), cancellationToken).ConfigureAwait(false);
        return BrokerScrape.Parse(text);
    }

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
