using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Dragonfly.PubSub.Bench.Common.Measurement;
using Dragonfly.PubSub.Bench.Common.Processes;
using Dragonfly.PubSub.Bench.Swarm.Measurement;
using Dragonfly.PubSub.Bench.Swarm.Processes;
using Dragonfly.PubSub.Client;

namespace Dragonfly.PubSub.Bench.Swarm.Systems;

/// <summary>
/// Our swarm in publish mode: dfbroker on the origin node, the publishing dfagent on the publisher
/// node, one subscribed dfagent per receiver node. Timed from the announcement (the earlier of
/// dfpub's exit and the first receiver seeing the task) to each receiver's "succeeded".
/// </summary>
internal sealed class DragonflySystem(SwarmContext context)
{
    private const string Topic = "bench/swarm";
    private const int BrokerGrpcPort = 8002;
    private const int BrokerMqttPort = 1883;
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly List<NodeProcess> _processes = [];

    public async Task<SystemMeasurement> RunAsync(int run, CancellationToken cancel)
    {
        var root = context.Folder($"dragonfly-{run}");
        try
        {
            return await RunCoreAsync(root, cancel);
        }
        finally
        {
            await Task.WhenAll(_processes.Select(p => p.DisposeAsync().AsTask()));
            _processes.Clear();
            if (!context.Options.Keep)
            {
                Directory.Delete(root, recursive: true);
            }
        }
    }

    private async Task<SystemMeasurement> RunCoreAsync(string root, CancellationToken cancel)
    {
        var options = context.Options;
        var clock = context.Clock;
        var brokerDir = Path.Combine(root, "broker");
        var broker = Start("dfbroker", SwarmContext.OriginNode, Executables.Broker,
            ["--data-dir", brokerDir, "--listen", "0.0.0.0", "--mqtt-port", $"{BrokerMqttPort}", "--grpc-port", $"{BrokerGrpcPort}", "--http-port", "8080"], root);
        await WaitForFileAsync(broker, Path.Combine(brokerDir, "broker.json"), cancel);

        var publisherDir = Path.Combine(root, "publisher");
        var publisher = StartAgent("dfagent-publisher", SwarmContext.PublisherNode, publisherDir, [], root);
        var receiverDirs = Enumerable.Range(0, context.Receivers).Select(i => Path.Combine(root, $"agent-{i}")).ToArray();
        var receivers = receiverDirs.Select((dir, i) =>
            StartAgent($"dfagent-{i}", SwarmContext.ReceiverNode(i), dir, ["--subscribe", Topic, "--output-dir", Path.Combine(dir, "out")], root)).ToArray();
        var agentDirs = receiverDirs.Prepend(publisherDir).ToArray();
        var agents = receivers.Prepend(publisher).ToArray();
        for (var i = 0; i < agents.Length; i++)
        {
            await WaitForFileAsync(agents[i], Path.Combine(agentDirs[i], "agent.json"), cancel);
        }
        await WaitConnectedAsync(agents, agentDirs, cancel);
        options.Say($"  dragonfly: broker and {agents.Length} agents up and connected ({clock.Elapsed.TotalSeconds:0.0} s into the benchmark)");

        // Receivers' task streams first, so the first event marks when each learned of the task.
        using var stopWatching = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        var progress = receivers.Select(_ => new ReceiverProgress()).ToArray();
        var clients = receiverDirs.Select(dir => new DragonflyClient(new DragonflyClientOptions { DataDir = dir })).ToArray();
        var watchers = clients.Select((c, i) => WatchAsync(c, progress[i], stopWatching.Token)).ToArray();
        await Task.Delay(300, cancel); // let every stream attach (the current state comes first anyway)

        var publisherTxBefore = await context.Testbed.TxBytesAsync(SwarmContext.PublisherNode, cancel);
        var originTxBefore = await context.Testbed.TxBytesAsync(SwarmContext.OriginNode, cancel);
        var uploadBefore = await UploadBytesAsync(publisherDir, cancel);

        string[] publishArgs = [context.SourceFile, "--topic", Topic, "--data-dir", publisherDir, "--json",
            .. options.PieceSize is { } p ? new[] { "--piece-size", p.ToString(CultureInfo.InvariantCulture) } : []];
        var publishStarted = clock.Elapsed;
        var publish = await context.Testbed.ExecAsync(SwarmContext.PublisherNode, [Executables.Publish, .. publishArgs], TimeSpan.FromMinutes(5), cancel);
        var publishExited = clock.Elapsed;
        if (publish.ExitCode != 0)
        {
            throw new InvalidOperationException($"dfpub failed with exit code {publish.ExitCode}: {publish.LastLine}");
        }
        var published = JsonSerializer.Deserialize<PublishResult>(publish.Stdout, Json)
            ?? throw new InvalidOperationException("dfpub printed no JSON");
        if (published.Digest != context.Digest.ToString())
        {
            throw new InvalidOperationException($"dfpub announced {published.Digest}, but the file is {context.Digest}");
        }
        var cpuAtStart = agents.Append(broker).Select(p => p.CpuSeconds() ?? 0).Sum();

        var deadline = clock.Elapsed + context.TransferTimeout;
        while (!progress.All(p => p.Done))
        {
            foreach (var agent in agents.Append(broker))
            {
                agent.ThrowIfExited();
            }
            if (clock.Elapsed > deadline)
            {
                var late = progress.Count(p => !p.Done);
                throw new TimeoutException($"{late} of {progress.Length} dragonfly agents did not finish within {context.TransferTimeout.TotalSeconds:0} s");
            }
            await Task.Delay(20, cancel);
        }
        var cpuAtEnd = agents.Append(broker).Select(p => p.CpuSeconds() ?? 0).Sum();
        var peakRss = receivers.Select(p => p.PeakRssBytes() ?? 0).Max();
        var publisherRss = publisher.PeakRssBytes() ?? 0;
        await stopWatching.CancelAsync();
        await Task.WhenAll(watchers);
        foreach (var client in clients)
        {
            client.Dispose();
        }

        var failures = progress.Where(p => p.Failure is not null).Select(p => p.Failure!).ToArray();
        if (failures.Length > 0)
        {
            throw new InvalidOperationException($"{failures.Length} dragonfly download(s) failed: {failures[0]}");
        }
        var publisherTx = await context.Testbed.TxBytesAsync(SwarmContext.PublisherNode, cancel) - publisherTxBefore;
        var originTx = await context.Testbed.TxBytesAsync(SwarmContext.OriginNode, cancel) - originTxBefore;
        var upload = await UploadBytesAsync(publisherDir, cancel) - uploadBefore;

        // The announcement is the start: dfpub returns after it, and no receiver can see the task before it.
        var start = progress.Select(p => p.FirstSeen!.Value).Append(publishExited).Min();
        var outputs = progress.Select((p, i) => p.OutputPath ?? Path.Combine(receiverDirs[i], "out", Topic, published.Name)).ToArray();
        var (verified, problems) = await FileDigest.VerifyAllAsync(outputs, context.Digest, cancel);
        return new SystemMeasurement
        {
            Name = "dragonfly",
            CompletionSeconds = progress.Select(p => (p.Completed!.Value - start).TotalSeconds).ToArray(),
            OriginEgressBytes = publisherTx,
            PublisherUploadBytes = (long)upload,
            CpuSeconds = cpuAtEnd - cpuAtStart,
            PeakRssBytes = peakRss,
            Verified = verified,
            Notes =
            [
                string.Create(CultureInfo.InvariantCulture, $"dfpub took {(publishExited - publishStarted).TotalSeconds:0.00} s (import and hash, not timed); first receiver saw the task {(progress.Min(p => p.FirstSeen!.Value) - publishExited).TotalMilliseconds:0} ms after dfpub exited"),
                $"{published.PieceCount} pieces of {published.PieceSize} bytes",
                $"origin node (broker) sent {originTx} bytes; publisher node link sent {publisherTx} bytes; publisher agent peak RSS {publisherRss}",
                .. problems,
            ],
            Timelines = progress.Select(p => (IReadOnlyList<double[]>)p.Timeline.Select(e => new[] { Math.Round(e[0] - start.TotalSeconds, 3), e[1] }).ToArray()).ToArray(),
        };
    }

    private NodeProcess StartAgent(string name, int node, string dataDir, IEnumerable<string> extra, string root)
    {
        var address = context.Testbed.Plan.Address(node);
        string[] arguments =
        [
            "--broker", $"{context.OriginAddress}:{BrokerGrpcPort}", "--mqtt", $"{context.OriginAddress}:{BrokerMqttPort}",
            "--data-dir", dataDir, "--listen", "0.0.0.0", "--advertise-addr", address,
            .. context.Options.PiecesInFlight is { } n ? new[] { "--pieces-in-flight", n.ToString(CultureInfo.InvariantCulture) } : [],
            .. extra,
        ];
        return Start(name, node, Executables.Agent, arguments, root);
    }

    private NodeProcess Start(string name, int node, string executable, IEnumerable<string> arguments, string root)
    {
        var process = NodeProcess.Start(name, context.Testbed.Plan.NodeNamespace(node), executable, arguments,
            Path.Combine(root, name + ".log"), context.Clock);
        _processes.Add(process);
        return process;
    }

    private static async Task WaitForFileAsync(NodeProcess process, string path, CancellationToken cancel)
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

    /// <summary>
    /// Until every agent reports its scheduler connection up, and the subscribers (all but the
    /// first, the publisher, which subscribes to nothing and so opens no MQTT session) their MQTT one.
    /// </summary>
    private static async Task WaitConnectedAsync(IReadOnlyList<NodeProcess> agents, IReadOnlyList<string> dataDirs, CancellationToken cancel)
    {
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < agents.Count; i++)
        {
            using var client = new DragonflyClient(new DragonflyClientOptions { DataDir = dataDirs[i] });
            while (true)
            {
                agents[i].ThrowIfExited();
                try
                {
                    var status = await client.GetStatusAsync(cancel).WaitAsync(TimeSpan.FromSeconds(10), cancel);
                    if (status.BrokerConnected && (i == 0 || status.MqttConnected))
                    {
                        break;
                    }
                }
                catch (Exception e) when (e is DragonflyClientException or TimeoutException or HttpRequestException)
                {
                    // Not answering yet.
                }
                if (clock.Elapsed > StartTimeout)
                {
                    throw new TimeoutException($"{agents[i].Name} did not connect to the broker within {StartTimeout.TotalSeconds:0} s: {agents[i].LastLine()}");
                }
                await Task.Delay(100, cancel);
            }
        }
    }

    /// <summary>Follows one receiver's task from its event stream; polls if the stream breaks.</summary>
    private async Task WatchAsync(DragonflyClient client, ReceiverProgress progress, CancellationToken cancel)
    {
        var digest = context.Digest.ToString();
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
                if (tasks.FirstOrDefault(t => t.Digest == digest) is { } info && Observe(progress, info))
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

    /// <summary>Records a snapshot; true once the task is finished either way.</summary>
    private bool Observe(ReceiverProgress progress, TaskInfo info)
    {
        var now = context.Clock.Elapsed;
        progress.FirstSeen ??= now;
        progress.Timeline.Add([now.TotalSeconds, info.CompletedPieces]);
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

    private static async Task<double> UploadBytesAsync(string dataDir, CancellationToken cancel) =>
        AgentSocket.SumMetric(await AgentSocket.GetStringAsync(Path.Combine(dataDir, "dfagent.sock"), "/metrics", cancel), "dragonfly_agent_upload_bytes_total");
}
