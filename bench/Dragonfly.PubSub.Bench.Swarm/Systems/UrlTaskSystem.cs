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
/// Our swarm with a URL task (back-to-source): the file sits on nginx on the origin node, where
/// dfbroker runs with its in-process seed, the only peer the scheduler lets read the origin.
/// <see cref="SwarmModes.Url"/>: every receiver runs <c>dfget URL -O FILE</c> through its dfagent at
/// once, each timed from the common start to dfget's exit. <see cref="SwarmModes.UrlAnnounce"/>:
/// subscribed receivers get a <c>dfpub --url</c> announcement (dfpub runs against an unsubscribed
/// dfagent on the publisher node), each timed from the announcement (as in publish mode) to its "succeeded". Origin egress is
/// what nginx's access log says it sent (body bytes); the seed's upload is its own counter.
/// </summary>
internal sealed class UrlTaskSystem(SwarmContext context, string mode, TlsSetting tls, string name)
{
    private const string DfgetClock =
        "from the common launch of every receiver's dfget (taken just before they spawn) to each dfget's exit; broker, its seed and the agents "
        + "already running and connected; dfget's start-up included, as curl's is";

    private const string Topic = "bench/url";
    private static readonly TimeSpan CpuSampleInterval = TimeSpan.FromSeconds(0.5);
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private string Name => name;

    private bool Announce => mode == SwarmModes.UrlAnnounce;

    public async Task<SystemMeasurement> RunAsync(int run, CancellationToken cancel)
    {
        var root = context.Folder($"{Name}-{run}");
        try
        {
            await using var origin = await OriginNginx.StartAsync(context, context.Folder($"{Name}-{run}", "nginx"), cancel);
            await using var nodes = new DragonflyNodes(context, root, tls);
            return await RunCoreAsync(origin, nodes, root, cancel);
        }
        finally
        {
            if (!context.Options.Keep)
            {
                Directory.Delete(root, recursive: true);
            }
        }
    }

    private async Task<SystemMeasurement> RunCoreAsync(OriginNginx origin, DragonflyNodes nodes, string root, CancellationToken cancel)
    {
        var options = context.Options;
        var clock = context.Clock;
        var broker = await nodes.StartBrokerAsync(cancel);

        var receiverDirs = Enumerable.Range(0, context.Receivers).Select(i => Path.Combine(root, $"agent-{i}")).ToArray();
        var receivers = receiverDirs.Select((dir, i) => nodes.StartAgent($"dfagent-{i}", SwarmContext.ReceiverNode(i), dir,
            Announce ? ["--subscribe", Topic, "--output-dir", Path.Combine(dir, "out")] : [])).ToArray();
        var publisherDir = Path.Combine(root, "publisher");
        var publisher = Announce ? nodes.StartAgent("dfagent-publisher", SwarmContext.PublisherNode, publisherDir, [], publisher: true) : null;
        var agents = publisher is null ? receivers : [.. receivers, publisher];
        var agentDirs = publisher is null ? receiverDirs : [.. receiverDirs, publisherDir];
        await DragonflyNodes.WaitAgentsAsync(agents, agentDirs, subscribed: i => Announce && i < receivers.Length, cancel);
        var transport = nodes.CheckTransport(agentDirs);
        await nodes.WaitSeedAsync(broker, cancel);
        options.Say($"  {Name}: broker with its seed and {agents.Length} agents up and connected, origin {origin.Url} ({clock.Elapsed.TotalSeconds:0.0} s into the benchmark)");
        if (!Announce && options.PieceSize is not null)
        {
            options.Say("  dfget has no --piece-size: the broker chooses the piece size of a URL task that dfget registers");
        }

        using var stopWatching = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        var progress = receivers.Select(_ => new ReceiverProgress()).ToArray();
        var seedProgress = new ReceiverProgress();
        var watchers = receiverDirs.Select((dir, i) => nodes.WatchAsync(dir, progress[i], digest: null, stopWatching.Token))
            .Append(nodes.WatchAsync(nodes.SeedDir, seedProgress, digest: null, stopWatching.Token)).ToArray();
        await Task.Delay(300, cancel); // let every stream attach (the current state comes first anyway)

        var originTxBefore = await context.Testbed.TxBytesAsync(SwarmContext.OriginNode, cancel);
        var logMark = origin.Mark();
        var seedUploadBefore = await DragonflyNodes.MetricAsync(nodes.SeedDir, DragonflyNodes.UploadMetric, cancel);
        var sourcedBefore = await DragonflyNodes.MetricAsync(nodes.SeedDir, DragonflyNodes.SourceMetric, cancel);
        var schedulerBefore = await SchedulerLoad.CountAsync(receiverDirs, cancel);
        var servers = agents.Append(broker).Append(origin.Process).ToArray();
        var cpuBefore = servers.Select(p => p.CpuSeconds() ?? 0).ToArray();
        var cpuAtStart = cpuBefore.Sum();
        var childCpuAtStart = ChildUsage.CpuSeconds();

        var launched = clock.Elapsed;
        var outputs = receiverDirs.Select(dir => Path.Combine(dir, "dfget-out", context.FileName)).ToArray();
        NodeProcess[] clis;
        if (Announce)
        {
            string[] arguments = ["--url", origin.Url, "--topic", Topic, "--data-dir", publisherDir, "--json",
                .. options.PieceSize is { } p ? new[] { "--piece-size", p.ToString(CultureInfo.InvariantCulture) } : []];
            clis = [nodes.Start("dfpub", SwarmContext.PublisherNode, Executables.Publish, arguments)];
        }
        else
        {
            foreach (var output in outputs)
            {
                Directory.CreateDirectory(Path.GetDirectoryName(output)!);
            }
            var timeout = string.Create(CultureInfo.InvariantCulture, $"{context.TransferTimeout.TotalSeconds:0}s");
            clis = outputs.Select((output, i) => nodes.Start($"dfget-{i}", SwarmContext.ReceiverNode(i), Executables.Get,
                [origin.Url, "-O", output, "--data-dir", receiverDirs[i], "--timeout", timeout, .. nodes.TlsArguments])).ToArray();
        }

        var cliPeakRss = 0L;
        var machine = new MachineCpu();
        machine.Sample();
        var nextSample = clock.Elapsed + CpuSampleInterval;
        var deadline = launched + context.TransferTimeout;
        // dfget: done when every dfget has exited; announce: when dfpub has and every receiver's task has finished.
        while (!clis.All(c => c.HasExited) || (Announce && !progress.All(p => p.Done)))
        {
            foreach (var process in servers)
            {
                process.ThrowIfExited();
            }
            if (clis.FirstOrDefault(c => c.HasExited && c.ExitCode != 0) is { } failed)
            {
                throw new InvalidOperationException($"{failed.Name} failed with exit code {failed.ExitCode}: {failed.LastLine()}");
            }
            if (progress.FirstOrDefault(p => p.Failure is not null) is { } failure)
            {
                throw new InvalidOperationException($"a {Name} download failed: {failure.Failure}");
            }
            cliPeakRss = Math.Max(cliPeakRss, clis.Select(c => c.PeakRssBytes() ?? 0).Max());
            if (clock.Elapsed >= nextSample)
            {
                machine.Sample();
                nextSample += CpuSampleInterval;
            }
            if (clock.Elapsed > deadline)
            {
                var late = Announce ? progress.Count(p => !p.Done) : clis.Count(c => !c.HasExited);
                throw new TimeoutException($"{late} of {receivers.Length} {Name} downloads did not finish within {context.TransferTimeout.TotalSeconds:0} s");
            }
            await Task.Delay(20, cancel);
        }
        foreach (var cli in clis)
        {
            await cli.WaitForExitAsync(cancel); // reaped: its CPU is in RUSAGE_CHILDREN now
        }
        if (clis.FirstOrDefault(c => c.ExitCode != 0) is { } failedLast)
        {
            throw new InvalidOperationException($"{failedLast.Name} failed with exit code {failedLast.ExitCode}: {failedLast.LastLine()}");
        }
        var cpuSpent = servers.Select((p, i) => (p.CpuSeconds() ?? cpuBefore[i]) - cpuBefore[i]).ToArray();
        var cliCpu = ChildUsage.CpuSeconds() - childCpuAtStart;
        var cpu = cpuSpent.Sum() + cliCpu;
        var cpuWindow = (clock.Elapsed - launched).TotalSeconds;
        machine.Sample();
        var peakRss = receivers.Select(p => p.PeakRssBytes() ?? 0).Max();
        var brokerRss = broker.PeakRssBytes() ?? 0;

        // dfget exits on the daemon's last update; give the event streams a moment to show "succeeded" too.
        var settle = clock.Elapsed + TimeSpan.FromSeconds(5);
        while (!progress.All(p => p.Done) && clock.Elapsed < settle)
        {
            await Task.Delay(20, cancel);
        }
        await stopWatching.CancelAsync();
        await Task.WhenAll(watchers);
        var firstRequests = await Task.WhenAll(receiverDirs.Select((dir, i) => progress[i].Digest is { } task
            ? TaskTimes.AnnouncedToFirstRequestAsync(dir, task, cancel)
            : Task.FromResult<double?>(null)));

        var served = origin.ServedSince(logMark);
        var originTx = await context.Testbed.TxBytesAsync(SwarmContext.OriginNode, cancel) - originTxBefore;
        var seedUpload = await DragonflyNodes.MetricAsync(nodes.SeedDir, DragonflyNodes.UploadMetric, cancel) - seedUploadBefore;
        var sourced = await DragonflyNodes.MetricAsync(nodes.SeedDir, DragonflyNodes.SourceMetric, cancel) - sourcedBefore;
        var schedulerAfter = await SchedulerLoad.CountAsync(receiverDirs, cancel);

        PublishResult? published = null;
        if (Announce)
        {
            var line = File.ReadLines(Path.Combine(root, "dfpub.log")).LastOrDefault(l => l.TrimStart().StartsWith('{'))
                ?? throw new InvalidOperationException("dfpub --url printed no JSON");
            published = JsonSerializer.Deserialize<PublishResult>(line, Json) ?? throw new InvalidOperationException("dfpub --url printed no JSON");
            outputs = progress.Select((p, i) => p.OutputPath ?? Path.Combine(receiverDirs[i], "out", Topic, published.Name)).ToArray();
        }
        var (verified, problems) = await FileDigest.VerifyAllAsync(outputs, context.Digest, cancel);

        // dfget: the common launch, as curl's; announce: the announcement, as in publish mode (the earlier of
        // dfpub's exit and the first receiver seeing the task: no receiver can see it before).
        var start = Announce ? progress.Select(p => p.FirstSeen!.Value).Append(clis[0].ExitedAt!.Value).Min() : launched;
        var completion = Announce
            ? progress.Select(p => (p.Completed!.Value - start).TotalSeconds).ToArray()
            : clis.Select(c => (c.ExitedAt!.Value - start).TotalSeconds).ToArray();
        var fromOrigin = progress.Sum(p => p.BytesFromSource);
        return new SystemMeasurement
        {
            Name = Name,
            CompletionSeconds = completion,
            ClockStart = Announce ? DragonflySystem.Clock.Replace("dfpub", "dfpub --url", StringComparison.Ordinal) : DfgetClock,
            CommandToClockSeconds = (start - launched).TotalSeconds,
            AnnouncedToFirstRequestMilliseconds = firstRequests,
            OriginEgressBytes = served.BodyBytes,
            OriginEgressMeasure = "nginx access log: body bytes sent",
            PublisherUploadBytes = (long)seedUpload,
            PublisherUploadMeasure = "broker's seed: dragonfly_agent_upload_bytes_total",
            CpuSeconds = cpu,
            PeakRssBytes = peakRss,
            Verified = verified,
            Encrypted = transport.Encrypted,
            SchedulerEvents = (schedulerBefore, schedulerAfter),
            Notes =
            [
                transport.Note,
                Announce
                    ? string.Create(CultureInfo.InvariantCulture, $"dfpub --url on the publisher node (its dfagent subscribes to nothing) took {(clis[0].ExitedAt!.Value - launched).TotalSeconds:0.00} s (start-up, registration, announcement: not timed); receivers saw the task {Span(progress.Select(p => p.FirstSeen))} after the announcement, {(clis[0].ExitedAt!.Value - start).TotalMilliseconds:0} ms before dfpub exited; each timed from the announcement to its 'succeeded'; from dfpub's start all finished in {(progress.Max(p => p.Completed!.Value) - launched).TotalSeconds:0.00} s")
                    : string.Create(CultureInfo.InvariantCulture, $"dfget URL -O FILE on every receiver at once, through its dfagent; timed from the start to dfget's exit; the daemons registered the task {Span(progress.Select(p => p.FirstSeen))} and reported 'succeeded' {Span(progress.Select(p => p.Completed))} after the start (dfget exits {Span(clis.Select(c => c.ExitedAt))}); each dfget exited {Lag()} after its daemon's 'succeeded'"),
                $"task {progress.FirstOrDefault(p => p.Digest is not null)?.Digest}: pieces {progress.Max(p => p.TotalPieces)}{(published is null ? "" : $" of {published.PieceSize} bytes")}",
                string.Create(CultureInfo.InvariantCulture,
                    $"origin nginx served {served.Requests.Count} requests ({served.Count("HEAD")} HEAD, {served.RangedGets} ranged GET, {served.Requests.Count - served.Count("HEAD") - served.RangedGets} other), {served.BodyBytes} body bytes = {served.BodyBytes / (double)options.Size:0.0000} x F; by client: {string.Join(", ", served.ByClient.Select(c => $"{c.Client} {c.BodyBytes} B in {c.Requests}"))}"),
                string.Create(CultureInfo.InvariantCulture,
                    $"the broker counted {sourced:0} bytes fetched from the origin (dragonfly_broker_source_bytes_total); the seed had every piece {(seedProgress.Completed is { } sourcedAt ? $"{(sourcedAt - start).TotalSeconds:0.00} s" : "(not seen)")} after the start; receivers fetched {fromOrigin} bytes from the origin themselves"),
                string.Create(CultureInfo.InvariantCulture,
                    $"origin node link sent {originTx} bytes (seed pieces, scheduler and MQTT, headers included); broker+seed peak RSS {brokerRss}; {(Announce ? "dfpub" : "dfget")} peak RSS {cliPeakRss} (sampled every 20 ms); CPU includes the agents, the broker with its seed, nginx and the {(Announce ? "dfpub" : "dfget")} processes"),
                // servers: receivers' agents, [the publisher's agent], the broker, nginx.
                string.Create(CultureInfo.InvariantCulture,
                    $"CPU seconds: receivers' agents {cpuSpent[..receivers.Length].Sum():0.0} (most {cpuSpent[..receivers.Length].Max():0.0} per agent), broker with its seed {cpuSpent[^2]:0.0}, nginx {cpuSpent[^1]:0.00}, {(Announce ? "dfpub and its idle agent" : "dfget processes")} {cliCpu + (Announce ? cpuSpent[receivers.Length] : 0):0.0}; {cpu / cpuWindow / Environment.ProcessorCount * 100:0} % of the {Environment.ProcessorCount} cores on average over those {cpuWindow:0.0} s; the whole machine's CPU was {machine.AverageBusy * 100:0} % busy on average, {machine.PeakBusy * 100:0} % at the busiest {CpuSampleInterval.TotalSeconds:0.0} s"),
                .. fromOrigin == 0 ? Array.Empty<string>() : [$"WRONG: receivers went to the origin themselves ({fromOrigin} bytes); only the scheduler's source may"],
                .. problems,
            ],
            Timelines = progress.Select(p => (IReadOnlyList<double[]>)p.Timeline.Select(e => new[] { Math.Round(e[0] - start.TotalSeconds, 3), e[1] }).ToArray()).ToArray(),
        };

        string Lag()
        {
            var lags = clis.Zip(progress).Where(x => x.Second.Completed is not null)
                .Select(x => (x.First.ExitedAt!.Value - x.Second.Completed!.Value).TotalSeconds).Order().ToArray();
            return lags.Length == 0 ? "(not seen)" : string.Create(CultureInfo.InvariantCulture, $"{lags[0]:0.00}-{lags[^1]:0.00} s (median {Statistics.Median(lags):0.00} s)");
        }

        string Span(IEnumerable<TimeSpan?> times)
        {
            var seconds = times.Where(t => t is not null).Select(t => (t!.Value - start).TotalSeconds).Order().ToArray();
            return seconds.Length == 0 ? "(not seen)" : string.Create(CultureInfo.InvariantCulture, $"{seconds[0]:0.00}-{seconds[^1]:0.00} s (median {Statistics.Median(seconds):0.00} s)");
        }
    }
}
