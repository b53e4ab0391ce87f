using System.Globalization;
using System.Text.Json;
using Dragonfly.PubSub.Bench.Common.Cli;
using Dragonfly.PubSub.Bench.Common.Measurement;
using Dragonfly.PubSub.Bench.Common.Processes;
using Dragonfly.PubSub.Bench.Swarm.Measurement;
using Dragonfly.PubSub.Bench.Swarm.Processes;
using Dragonfly.PubSub.Client;

namespace Dragonfly.PubSub.Bench.Swarm.Systems;

/// <summary>
/// Our swarm in publish mode: dfbroker on the origin node, the publishing dfagent on the publisher
/// node, one subscribed dfagent per receiver node. Timed from the announcement (the earlier of
/// dfpub's exit and the first receiver seeing the task) to each receiver's "succeeded"; the time from
/// the dfpub call is reported too (<see cref="SystemMeasurement.CommandToClockSeconds"/>).
/// </summary>
internal sealed class DragonflySystem(SwarmContext context, TlsSetting tls, string name)
{
    internal const string Clock =
        "from the announcement (the earlier of dfpub's exit and the first receiver seeing the task) to each receiver's 'succeeded' event; "
        + "broker and agents already running and connected; dfpub's start-up, import and hash come before it (allFinishedFromCommandSeconds counts from the dfpub call)";

    private const string Topic = "bench/swarm";
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private static readonly TimeSpan CpuSampleInterval = TimeSpan.FromSeconds(0.5);

    public async Task<SystemMeasurement> RunAsync(int run, CancellationToken cancel)
    {
        var root = context.Folder($"dragonfly-{run}");
        try
        {
            await using var nodes = new DragonflyNodes(context, root, tls);
            return await RunCoreAsync(nodes, root, cancel);
        }
        finally
        {
            if (!context.Options.Keep)
            {
                Directory.Delete(root, recursive: true);
            }
        }
    }

    private async Task<SystemMeasurement> RunCoreAsync(DragonflyNodes nodes, string root, CancellationToken cancel)
    {
        var options = context.Options;
        var clock = context.Clock;
        var broker = await nodes.StartBrokerAsync(cancel);

        var publisherDir = Path.Combine(root, "publisher");
        var publisher = nodes.StartAgent("dfagent-publisher", SwarmContext.PublisherNode, publisherDir, [], publisher: true);
        var receiverDirs = Enumerable.Range(0, context.Receivers).Select(i => Path.Combine(root, $"agent-{i}")).ToArray();
        var receivers = receiverDirs.Select((dir, i) =>
            nodes.StartAgent($"dfagent-{i}", SwarmContext.ReceiverNode(i), dir, ["--subscribe", Topic, "--output-dir", Path.Combine(dir, "out")])).ToArray();
        var agentDirs = receiverDirs.Prepend(publisherDir).ToArray();
        var agents = receivers.Prepend(publisher).ToArray();
        // The publisher subscribes to nothing and so opens no MQTT session.
        await DragonflyNodes.WaitAgentsAsync(agents, agentDirs, subscribed: i => i > 0, cancel);
        var transport = nodes.CheckTransport(agentDirs);
        options.Say($"  dragonfly: broker and {agents.Length} agents up and connected ({clock.Elapsed.TotalSeconds:0.0} s into the benchmark)");

        // Receivers' task streams first, so the first event marks when each learned of the task.
        using var stopWatching = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        var progress = receivers.Select(_ => new ReceiverProgress()).ToArray();
        var watchers = receiverDirs.Select((dir, i) => nodes.WatchAsync(dir, progress[i], context.Digest.ToString(), stopWatching.Token)).ToArray();
        await Task.Delay(300, cancel); // let every stream attach (the current state comes first anyway)

        var publisherTxBefore = await context.Testbed.TxBytesAsync(SwarmContext.PublisherNode, cancel);
        var originTxBefore = await context.Testbed.TxBytesAsync(SwarmContext.OriginNode, cancel);
        var uploadBefore = await DragonflyNodes.MetricAsync(publisherDir, DragonflyNodes.UploadMetric, cancel);
        var schedulerBefore = await SchedulerLoad.CountAsync(receiverDirs, cancel);

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
        // agents: the publisher's first, then the receivers'; the broker last.
        var servers = agents.Append(broker).ToArray();
        var cpuBefore = servers.Select(p => p.CpuSeconds() ?? 0).ToArray();

        var deadline = clock.Elapsed + context.TransferTimeout;
        var machine = new MachineCpu();
        machine.Sample();
        var nextSample = clock.Elapsed + CpuSampleInterval;
        while (!progress.All(p => p.Done))
        {
            if (clock.Elapsed >= nextSample)
            {
                machine.Sample();
                nextSample += CpuSampleInterval;
            }
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
        var cpuSpent = servers.Select((p, i) => (p.CpuSeconds() ?? cpuBefore[i]) - cpuBefore[i]).ToArray();
        var cpuWindow = (clock.Elapsed - publishExited).TotalSeconds;
        machine.Sample();
        var peakRss = receivers.Select(p => p.PeakRssBytes() ?? 0).Max();
        var publisherRss = publisher.PeakRssBytes() ?? 0;
        await stopWatching.CancelAsync();
        await Task.WhenAll(watchers);

        var firstRequests = await Task.WhenAll(receiverDirs.Select(dir => TaskTimes.AnnouncedToFirstRequestAsync(dir, context.Digest.ToString(), cancel)));

        var failures = progress.Where(p => p.Failure is not null).Select(p => p.Failure!).ToArray();
        if (failures.Length > 0)
        {
            throw new InvalidOperationException($"{failures.Length} dragonfly download(s) failed: {failures[0]}");
        }
        var publisherTx = await context.Testbed.TxBytesAsync(SwarmContext.PublisherNode, cancel) - publisherTxBefore;
        var originTx = await context.Testbed.TxBytesAsync(SwarmContext.OriginNode, cancel) - originTxBefore;
        var upload = await DragonflyNodes.MetricAsync(publisherDir, DragonflyNodes.UploadMetric, cancel) - uploadBefore;
        var schedulerAfter = await SchedulerLoad.CountAsync(receiverDirs, cancel);

        // The announcement is the start: dfpub returns after it, and no receiver can see the task before it.
        var start = progress.Select(p => p.FirstSeen!.Value).Append(publishExited).Min();
        var outputs = progress.Select((p, i) => p.OutputPath ?? Path.Combine(receiverDirs[i], "out", Topic, published.Name)).ToArray();
        var (verified, problems) = await FileDigest.VerifyAllAsync(outputs, context.Digest, cancel);
        return new SystemMeasurement
        {
            Name = name,
            CompletionSeconds = progress.Select(p => (p.Completed!.Value - start).TotalSeconds).ToArray(),
            ClockStart = Clock,
            CommandToClockSeconds = (start - publishStarted).TotalSeconds,
            AnnouncedToFirstRequestMilliseconds = firstRequests,
            OriginEgressBytes = publisherTx,
            OriginEgressMeasure = "publisher node link: tx bytes, headers included",
            PublisherUploadBytes = (long)upload,
            PublisherUploadMeasure = "publisher agent: dragonfly_agent_upload_bytes_total",
            CpuSeconds = cpuSpent.Sum(),
            PeakRssBytes = peakRss,
            Verified = verified,
            Encrypted = transport.Encrypted,
            SchedulerEvents = (schedulerBefore, schedulerAfter),
            Notes =
            [
                transport.Note,
                string.Create(CultureInfo.InvariantCulture, $"dfpub took {(publishExited - publishStarted).TotalSeconds:0.00} s (import and hash, not timed); first receiver saw the task {(progress.Min(p => p.FirstSeen!.Value) - publishExited).TotalMilliseconds:0} ms after dfpub exited"),
                $"{published.PieceCount} pieces of {published.PieceSize} bytes",
                $"origin node (broker) sent {originTx} bytes; publisher node link sent {publisherTx} bytes; publisher agent peak RSS {publisherRss}",
                string.Create(CultureInfo.InvariantCulture,
                    $"CPU seconds: receivers' agents {cpuSpent[1..^1].Sum():0.0} (most {cpuSpent[1..^1].Max():0.00} per agent), publisher's agent {cpuSpent[0]:0.00}, broker {cpuSpent[^1]:0.00}; {cpuSpent.Sum() / cpuWindow / Environment.ProcessorCount * 100:0} % of the {Environment.ProcessorCount} cores on average over those {cpuWindow:0.0} s; the whole machine's CPU was {machine.AverageBusy * 100:0} % busy on average during the transfer, {machine.PeakBusy * 100:0} % at the busiest {CpuSampleInterval.TotalSeconds:0.0} s"),
                .. problems,
            ],
            Timelines = progress.Select(p => (IReadOnlyList<double[]>)p.Timeline.Select(e => new[] { Math.Round(e[0] - start.TotalSeconds, 3), e[1] }).ToArray()).ToArray(),
        };
    }
}
