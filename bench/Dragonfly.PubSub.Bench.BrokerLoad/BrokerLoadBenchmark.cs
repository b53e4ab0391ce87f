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
using Grpc.Net.Client;

namespace Dragonfly.PubSub.Bench.BrokerLoad;

/// <summary>
/// Starts one dfbroker, connects N simulated agents (a scheduler stream and an MQTT client each),
/// measures set-up, one announcement's fan-out and a NeedParents/PiecesFinished load sent on schedule, then
/// stops everything it started (also on failure or cancellation).
/// </summary>
internal sealed class BrokerLoadBenchmark(BrokerLoadOptions options)
{
    public const double TargetP99Ms = 20;
    private const string ScheduleHistogram = "dragonfly_broker_schedule_duration_seconds";
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
        var dataDir = Directory.CreateTempSubdirectory("dfbench-broker-").FullName;
        var subscribers = new List<MqttSubscriber>();
        var agents = new List<SchedulerAgent>();
        var channels = new List<GrpcChannel>();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        BrokerProcess? broker = null;
        try
        {
            broker = await BrokerProcess.StartAsync(options.BrokerPath ?? BrokerProcess.DefaultExecutable(), dataDir, options.Tls, cancellationToken).ConfigureAwait(false);
            var ports = broker.Ports;
            options.Say($"dfbroker pid {broker.Pid} ready: mqtt {ports.MqttPort}, grpc {ports.GrpcPort}, http {ports.HttpPort}");

            // Scheduler traffic uses several HTTP/2 connections: Kestrel allows 100 streams on one.
            var channelCount = (options.Agents + options.StreamsPerConnection - 1) / options.StreamsPerConnection;
            for (var i = 0; i < channelCount; i++)
            {
                channels.Add(GrpcChannel.ForAddress($"http://127.0.0.1:{ports.GrpcPort}", new GrpcChannelOptions
                {
                    HttpHandler = new SocketsHttpHandler { EnableMultipleHttp2Connections = true },
                }));
            }
            var clients = channels.Select(c => new Scheduler.SchedulerClient(c)).ToArray();

            var manifests = new List<Manifest>();
            for (var t = 0; t < options.Tasks; t++)
            {
                var manifest = SyntheticManifest.Create(runId, $"task-{t}", options.Pieces);
                await clients[0].PublishAsync(new PublishRequest { Manifest = manifest }, cancellationToken: cancellationToken).ConfigureAwait(false);
                manifests.Add(manifest);
            }

            // MQTT first: their retained announcements of the tasks arrive now, not during the probe.
            options.Say($"connecting {options.Agents} MQTT clients…");
            var mqttClock = Stopwatch.StartNew();
            for (var i = 0; i < options.Agents; i++)
            {
                subscribers.Add(new MqttSubscriber($"bench-{runId}-{i}"));
            }
            await ForEachAsync(subscribers, s => s.ConnectAsync("127.0.0.1", ports.MqttPort, SyntheticManifest.Filter, ConnectTimeout, cancellationToken), cancellationToken).ConfigureAwait(false);
            var mqttSeconds = mqttClock.Elapsed.TotalSeconds;
            var mqttConnected = subscribers.Count(s => s.Connected);
            EnsureBrokerAlive(broker);

            // Publishers first, so every ordinary join is answered with a real parent set.
            for (var i = 0; i < options.Agents; i++)
            {
                var task = i % options.Tasks;
                var publisher = i / options.Tasks < options.PublishersPerTask;
                agents.Add(new SchedulerAgent(clients[i % clients.Length], $"bench-{runId}-{i}", 1024 + i % 60000,
                    manifests[task].Digest, options.Pieces, publisher, options.Fill, seed: i));
            }
            options.Say($"connecting {options.Agents} scheduler streams over {channelCount} channels…");
            var joinLatencies = new ConcurrentBag<double>();
            var schedulerClock = Stopwatch.StartNew();
            var publishers = agents.Where(a => a.IsPublisher).ToList();
            var ordinary = agents.Where(a => !a.IsPublisher).ToList();
            await ForEachAsync(publishers, a => Join(a, joinLatencies), cancellationToken).ConfigureAwait(false);
            await ForEachAsync(ordinary, a => Join(a, joinLatencies), cancellationToken).ConfigureAwait(false);
            var schedulerSeconds = schedulerClock.Elapsed.TotalSeconds;
            EnsureBrokerAlive(broker);
            options.Say($"set-up done: MQTT {mqttSeconds:0.0} s, scheduler {schedulerSeconds:0.0} s");

            var announcement = await ProbeAnnouncementAsync(clients[0], runId, subscribers, cancellationToken).ConfigureAwait(false);
            await Task.Delay(Settle, cancellationToken).ConfigureAwait(false);
            var idleRss = broker.Status()?.RssBytes ?? 0;
            var benchIdleRss = Environment.WorkingSet;

            options.Say($"load: {ordinary.Count} agents for {options.Duration.TotalSeconds:0} s, {Settings(options, ordinary.Count, 0, 0, []).PieceReportsPerSecondOffered:0} piece reports/s offered ({options.Profile.ToString().ToLowerInvariant()})…");
            var histogramBefore = await ScrapeAsync(http, ports.HttpPort, cancellationToken).ConfigureAwait(false);
            var brokerCpuBefore = broker.Status()?.CpuSeconds ?? 0;
            var benchCpuBefore = Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;
            var loadClock = Stopwatch.StartNew();
            using var phase = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            phase.CancelAfter(options.Duration);
            var dashboards = new DashboardReaders(ports.HttpPort, options.DashboardPollers, options.DashboardStreams);
            var reading = dashboards.RunAsync(phase.Token);
            var loadRuns = ordinary.Select(a => Task.Run(
                () => a.RunLoadAsync(options.NeedInterval, options.ReportInterval, options.Timeout, phase.Token), CancellationToken.None)).ToList();
            // CPU and RSS at the end of the load itself, not after the wait for the last answers.
            await Task.Delay(options.Duration, cancellationToken).ConfigureAwait(false);
            var brokerStatus = broker.Status() ?? throw new UserFacingException($"dfbroker exited during the load phase: {broker.Tail()}");
            var benchCpu = Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds - benchCpuBefore;
            var loadAverageAtEnd = LoadAverage();
            var counters = await Task.WhenAll(loadRuns).ConfigureAwait(false);
            await reading.ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            var loadSeconds = Math.Min(loadClock.Elapsed.TotalSeconds, options.Duration.TotalSeconds);
            var compute = (await ScrapeAsync(http, ports.HttpPort, cancellationToken).ConfigureAwait(false)).Minus(histogramBefore);

            var timeoutMs = options.Timeout.TotalMilliseconds;
            var answered = counters.Sum(c => c.AnsweredMs.Count);
            var timedOut = counters.Sum(c => c.Late + c.Unanswered + c.Skipped);
            var latency = LatencySummary.Of(counters.SelectMany(c => c.AnsweredMs).Concat(Enumerable.Repeat(timeoutMs, timedOut)));
            var due = counters.Sum(c => c.Requests + c.Skipped);
            var piecesReported = counters.Sum(c => c.PiecesReported);
            var pieceAvailable = counters.Sum(c => c.PieceAvailable);
            return new BrokerLoadReport
            {
                StartedAt = startedAt,
                Machine = $"{Environment.ProcessorCount} cores, {Environment.OSVersion}, .NET {Environment.Version}",
                LoadAverageAtStart = loadAverageAtStart,
                LoadAverageAtEnd = loadAverageAtEnd,
                Settings = Settings(options, ordinary.Count, channelCount, (int)Math.Min(int.MaxValue, maxOpenFiles ?? -1), broker.Arguments),
                Setup = new SetupFigures(agents.Count(a => a.Connected), mqttConnected, subscribers.Count(s => s.Connected), mqttSeconds, schedulerSeconds,
                    LatencySummary.Of(joinLatencies), subscribers.Select(s => s.DisconnectReason).FirstOrDefault(r => r is not null)),
                Schedule = new ScheduleFigures(latency, LatencySummary.Of(counters.SelectMany(c => c.AnsweredMs)), LatencySummary.Of(counters.SelectMany(c => c.SendLagMs)),
                    due / loadSeconds, counters.Sum(c => c.Requests), answered, counters.Sum(c => c.Skipped), counters.Sum(c => c.Late),
                    counters.Sum(c => c.Unanswered), counters.Sum(c => c.Unsolicited), counters.Sum(c => c.UnknownAnswers),
                    piecesReported, piecesReported / loadSeconds, pieceAvailable, pieceAvailable / loadSeconds, agents.Count(a => a.Failure is not null)),
                ServerCompute = new ServerComputeFigures((long)compute.Count, compute.Count > 0 ? compute.Sum / compute.Count * 1000 : 0,
                    compute.QuantileUpperBound(50) * 1000, compute.QuantileUpperBound(99) * 1000, compute.Sum),
                Announcement = announcement,
                Broker = new ResourceFigures(idleRss, brokerStatus.RssBytes, brokerStatus.PeakRssBytes, brokerStatus.CpuSeconds - brokerCpuBefore, broker.OutputLines),
                Bench = new ResourceFigures(benchIdleRss, Environment.WorkingSet, ProcStatus.Read(Environment.ProcessId)?.PeakRssBytes ?? 0, benchCpu, 0),
                Target = new TargetFigures(TargetP99Ms, latency.Count > 0 && latency.P99Ms <= TargetP99Ms),
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
            if (broker is not null)
            {
                await broker.DisposeAsync().ConfigureAwait(false);
            }
            TryDelete(dataDir);
        }
    }

    private static LoadSettings Settings(BrokerLoadOptions options, int ordinaryAgents, int channels, int maxOpenFiles, IReadOnlyList<string> brokerArguments)
    {
        // Intervals are drawn from S..2S: the mean rate is 1 / 1.5 S.
        var perAgent = options.ReportInterval > TimeSpan.Zero ? 1 / (1.5 * options.ReportInterval.TotalSeconds) : 0;
        var derivation = options.Profile == LoadProfile.Swarm
            ? SwarmReportRate.Derivation
            : string.Create(CultureInfo.InvariantCulture, $"default: --report-interval {options.ReportInterval.TotalSeconds:0.###} s, one report every S..2S s");
        return new LoadSettings(options.Agents, options.Tasks, options.PublishersPerTask, options.Pieces, options.Fill,
            options.Duration.TotalSeconds, options.NeedInterval.TotalSeconds, options.ReportInterval.TotalSeconds,
            options.Profile.ToString().ToLowerInvariant(), perAgent, perAgent * ordinaryAgents, derivation,
            ordinaryAgents / (1.5 * options.NeedInterval.TotalSeconds), options.Timeout.TotalSeconds, options.Tls, brokerArguments,
            channels, options.StreamsPerConnection, maxOpenFiles);
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

    private static async Task<HistogramSnapshot> ScrapeAsync(HttpClient http, int port, CancellationToken cancellationToken)
    {
        var text = await http.GetStringAsync(new Uri($"http://127.0.0.1:{port}/metrics"), cancellationToken).ConfigureAwait(false);
        return HistogramSnapshot.Parse(text, ScheduleHistogram);
    }

    private Task ForEachAsync<T>(IEnumerable<T> items, Func<T, Task> action, CancellationToken cancellationToken) =>
        Parallel.ForEachAsync(items, new ParallelOptions { MaxDegreeOfParallelism = options.ConnectConcurrency, CancellationToken = cancellationToken },
            async (item, _) => await action(item).ConfigureAwait(false));

    private static void EnsureBrokerAlive(BrokerProcess broker)
    {
        if (!broker.IsRunning)
        {
            throw new UserFacingException($"dfbroker exited: {broker.Tail()}");
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

    private static void TryDelete(string folder)
    {
        try
        {
            Directory.Delete(folder, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // A temp folder left behind is harmless.
        }
    }
}
