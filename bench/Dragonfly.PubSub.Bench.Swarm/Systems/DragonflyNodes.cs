using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Dragonfly.PubSub.Bench.Common.Cli;
using Dragonfly.PubSub.Bench.Common.Processes;
using Dragonfly.PubSub.Bench.Common.Tls;
using Dragonfly.PubSub.Bench.Swarm.Processes;
using Dragonfly.PubSub.Client;

namespace Dragonfly.PubSub.Bench.Swarm.Systems;

/// <summary>
/// The processes of one run of our swarm, each in its node's namespace: dfbroker (with its in-process
/// seed) on the origin node, dfagents elsewhere, and the CLIs run against them. The benchmark reaches
/// agents through their unix sockets (a path, not the network). Disposing stops every one by PID.
/// With TLS off every dfbroker, dfagent and dfget gets --insecure; dfpub talks only to its local agent over the unix socket.
/// With TLS on the broker makes its fleet CA (its server certificate also names the origin node's address, --tls-san),
/// and every agent enrols with a join token taken from it (<see cref="BenchFleet"/>).
/// </summary>
internal sealed class DragonflyNodes(SwarmContext context, string root, TlsSetting tls) : IAsyncDisposable
{
    public const int BrokerGrpcPort = 8002;
    public const int BrokerMqttPort = 1883;
    public const int BrokerMqttsPort = 8883;
    public const int BrokerHttpPort = 8080;
    public const int SeedPort = 8003;

    /// <summary>Piece bytes an agent (or the broker's seed) sent to peers.</summary>
    public const string UploadMetric = "dragonfly_agent_upload_bytes_total";

    /// <summary>Bytes of URL-task pieces that sources reported fetching from origins (the broker's count).</summary>
    public const string SourceMetric = "dragonfly_broker_source_bytes_total";
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private readonly List<NodeProcess> _processes = [];
    private BenchFleet? _fleet;

    public string BrokerDir => Path.Combine(root, "broker");

    /// <summary>What <c>--tls</c> adds to the command line of dfget (--insecure with TLS off; with TLS on it asks its local, enrolled agent).</summary>
    public IReadOnlyList<string> TlsArguments => TlsFlags.Arguments(tls);

    private int MqttPort => tls == TlsSetting.On ? BrokerMqttsPort : BrokerMqttPort;

    /// <summary>The broker's in-process seed keeps its data (and its API socket) here.</summary>
    public string SeedDir => Path.Combine(BrokerDir, "seed");

    /// <summary>
    /// dfbroker on every address of the origin node, its seed on <see cref="SeedPort"/>: the seed dials
    /// the scheduler on 127.0.0.1 and the broker hands it to agents under the address they dialled.
    /// With TLS on, its certificate names the origin's address too (--listen 0.0.0.0 adds none), and a
    /// join token for the agents is taken from it over its admin socket (a path, not the network).
    /// </summary>
    public async Task<NodeProcess> StartBrokerAsync(CancellationToken cancel)
    {
        var broker = Start("dfbroker", SwarmContext.OriginNode, Executables.Broker,
        [
            "--data-dir", BrokerDir, "--listen", "0.0.0.0", "--grpc-port", $"{BrokerGrpcPort}",
            "--http-port", $"{BrokerHttpPort}", "--seed-port", $"{SeedPort}", "--allow-origin", "10.213.0.0/16", .. TlsFlags.BrokerArguments(tls, MqttPort),
            .. tls == TlsSetting.On ? new[] { "--tls-san", context.OriginAddress } : [],
            .. context.Options.SeedUploadLimit is { } cap ? new[] { "--seed-upload-limit", cap.BytesPerSecondText } : [],
        ]);
        await WaitForFileAsync(broker, Path.Combine(BrokerDir, "broker.json"), cancel);
        if (tls == TlsSetting.On)
        {
            _fleet = await BenchFleet.CreateAsync(BrokerDir, cancel);
        }
        return broker;
    }

    /// <summary>
    /// Whether this run's traffic was TLS, checked from outside the processes: broker.json says <c>"tls": true</c>
    /// and every agent holds a certificate of the broker's fleet CA (it enrolled). Returns that and a note for the report.
    /// </summary>
    public (bool Encrypted, string Note) CheckTransport(IReadOnlyList<string> agentDirs)
    {
        using var ready = JsonDocument.Parse(File.ReadAllText(Path.Combine(BrokerDir, "broker.json")));
        var brokerTls = ready.RootElement.TryGetProperty("tls", out var flag) && flag.ValueKind == JsonValueKind.True;
        var enrolled = _fleet is null ? 0 : agentDirs.Count(_fleet.HasEnrolled);
        var encrypted = brokerTls && enrolled == agentDirs.Count;
        return (encrypted, $"transport: broker.json tls={(brokerTls ? "true" : "false")}, {enrolled} of {agentDirs.Count} agents hold a certificate of the broker's fleet CA => {(encrypted ? "TLS" : "plain text")}");
    }

    /// <summary>
    /// A dfagent on node n. A receiver's upload is capped by dfbench --upload-limit, the publisher's (it only uploads)
    /// by --seed-upload-limit.
    /// </summary>
    public NodeProcess StartAgent(string name, int node, string dataDir, IEnumerable<string> extra, bool publisher = false)
    {
        var uploadLimit = publisher ? context.Options.SeedUploadLimit : context.Options.UploadLimit;
        var address = context.Testbed.Plan.Address(node);
        string[] arguments =
        [
            "--broker", $"{context.OriginAddress}:{BrokerGrpcPort}", "--mqtt", $"{context.OriginAddress}:{MqttPort}",
            "--data-dir", dataDir, "--listen", "0.0.0.0", "--advertise-addr", address,
            .. context.Options.PiecesInFlight is { } n ? new[] { "--pieces-in-flight", n.ToString(CultureInfo.InvariantCulture) } : [],
            .. uploadLimit is { } cap ? new[] { "--upload-limit", cap.BytesPerSecondText } : [],
            .. _fleet?.AgentArguments($"{context.OriginAddress}:{BrokerHttpPort}") ?? TlsArguments,
            .. extra,
        ];
        return Start(name, node, Executables.Agent, arguments);
    }

    /// <summary>Any program in node n's namespace, stopped with the rest; its output goes to NAME.log.</summary>
    public NodeProcess Start(string name, int node, string executable, IEnumerable<string> arguments)
    {
        var process = NodeProcess.Start(name, context.Testbed.Plan.NodeNamespace(node), executable, arguments,
            Path.Combine(root, name + ".log"), context.Clock);
        _processes.Add(process);
        return process;
    }

    /// <summary>
    /// Until every agent has written agent.json and reports its scheduler connection up, and those
    /// with <paramref name="subscribed"/> their MQTT one (an agent that subscribes to nothing opens no MQTT session).
    /// </summary>
    public static async Task WaitAgentsAsync(IReadOnlyList<NodeProcess> agents, IReadOnlyList<string> dataDirs, Func<int, bool> subscribed, CancellationToken cancel)
    {
        for (var i = 0; i < agents.Count; i++)
        {
            await WaitForFileAsync(agents[i], Path.Combine(dataDirs[i], "agent.json"), cancel);
        }
        for (var i = 0; i < agents.Count; i++)
        {
            await WaitConnectedAsync(agents[i], dataDirs[i], subscribed(i), cancel);
        }
    }

    /// <summary>Until the broker's own seed is connected to its scheduler, so that its start-up is not measured.</summary>
    public Task WaitSeedAsync(NodeProcess broker, CancellationToken cancel) => WaitConnectedAsync(broker, SeedDir, mqtt: false, cancel);

    public static async Task WaitForFileAsync(NodeProcess process, string path, CancellationToken cancel)
    {
        var clock = Stopwatch.StartNew();
        while (!File.Exists(path))
        {
            process.ThrowIfExited();
            if (clock.Elapsed > StartTimeout)
            {
                throw new TimeoutException($"{process.Name} wrote no {Path.GetFileName(path)} within {StartTimeout.TotalSeconds:0} s: {process.LastLine()}");
            }
            await Task.Delay(50, cancel);
        }
    }

    private static async Task WaitConnectedAsync(NodeProcess process, string dataDir, bool mqtt, CancellationToken cancel)
    {
        var clock = Stopwatch.StartNew();
        using var client = new DragonflyClient(new DragonflyClientOptions { DataDir = dataDir });
        while (true)
        {
            process.ThrowIfExited();
            try
            {
                var status = await client.GetStatusAsync(cancel).WaitAsync(TimeSpan.FromSeconds(10), cancel);
                if (status.BrokerConnected && (!mqtt || status.MqttConnected))
                {
                    return;
                }
            }
            catch (Exception e) when (e is DragonflyClientException or TimeoutException or HttpRequestException)
            {
                // Not answering yet.
            }
            if (clock.Elapsed > StartTimeout)
            {
                throw new TimeoutException($"{process.Name} ({dataDir}) did not connect to the broker within {StartTimeout.TotalSeconds:0} s: {process.LastLine()}");
            }
            await Task.Delay(100, cancel);
        }
    }

    /// <summary>
    /// Follows one agent's task (<paramref name="digest"/>, or the first task it has when null) from its
    /// event stream until it finishes; polls if the stream breaks; returns quietly when cancelled.
    /// </summary>
    public async Task WatchAsync(string dataDir, ReceiverProgress progress, string? digest, CancellationToken cancel)
    {
        using var client = new DragonflyClient(new DragonflyClientOptions { DataDir = dataDir });
        try
        {
            try
            {
                await foreach (var info in client.WatchTasksAsync(digest, cancel))
                {
                    if (Observe(progress, info))
                    {
                        return;
                    }
                }
            }
            catch (Exception e) when (e is DragonflyClientException or HttpRequestException or IOException)
            {
                // Fall through to polling.
            }
            while (true)
            {
                var tasks = await client.GetTasksAsync(cancel);
                if (tasks.FirstOrDefault(t => (digest ?? progress.Digest) is not { } followed || t.Digest == followed) is { } info && Observe(progress, info))
                {
                    return;
                }
                await Task.Delay(50, cancel);
            }
        }
        catch (OperationCanceledException) when (cancel.IsCancellationRequested)
        {
            // The run ended (or failed elsewhere).
        }
    }

    /// <summary>A counter from an agent's /metrics on its unix socket, summed over its labels.</summary>
    public static async Task<double> MetricAsync(string dataDir, string metric, CancellationToken cancel) =>
        AgentSocket.SumMetric(await AgentSocket.GetStringAsync(Path.Combine(dataDir, "dfagent.sock"), "/metrics", cancel), metric);

    public async ValueTask DisposeAsync()
    {
        await Task.WhenAll(_processes.Select(p => p.DisposeAsync().AsTask()));
        _processes.Clear();
    }

    /// <summary>Records a snapshot of the followed task; true once it is finished either way.</summary>
    private bool Observe(ReceiverProgress progress, TaskInfo info)
    {
        if (progress.Digest is { } followed && info.Digest != followed)
        {
            return false;
        }
        var now = context.Clock.Elapsed;
        progress.Digest ??= info.Digest;
        progress.FirstSeen ??= now;
        progress.Timeline.Add([now.TotalSeconds, info.CompletedPieces]);
        progress.BytesFromSource = info.BytesFromSource;
        progress.BytesFromPeers = info.BytesFromPeers;
        progress.TotalPieces = info.TotalPieces;
        if (info.State == TaskStates.Succeeded)
        {
            progress.Completed = now;
            progress.OutputPath = info.Path;
            return true;
        }
        if (info.State == TaskStates.Failed)
        {
            progress.Failure = $"{info.Name}: {info.Error ?? "failed"}";
            return true;
        }
        return false;
    }
}
