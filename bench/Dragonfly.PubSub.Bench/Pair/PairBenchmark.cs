using System.Diagnostics;
using System.Globalization;
using Dragonfly.PubSub.Bench.Baselines;
using Dragonfly.PubSub.Bench.Common.Cli;
using Dragonfly.PubSub.Bench.Common.Measurement;
using Dragonfly.PubSub.Bench.Common.Processes;
using Dragonfly.PubSub.Bench.Measurement;
using Dragonfly.PubSub.Bench.Processes;
using Dragonfly.PubSub.Bench.Swarm;
using Dragonfly.PubSub.Client;
using Dragonfly.PubSub.Contracts;

namespace Dragonfly.PubSub.Bench.Pair;

/// <summary>
/// One agent pulls one file from one peer over loopback, verification included, against
/// nginx→curl on the same file in the same run (design/performance.md).
/// <para>
/// Setup: a broker and our own nginx serving the file. Each run: curl fetches the file from
/// nginx; then, in one or both of two ways (<see cref="PairMode"/>), a fresh agent A publishes
/// the file with dfpub and a fresh agent B (new data dir, so it holds nothing) pulls it from A:
/// timed <c>dfget</c> from start to exit, or subscribed and timed from its first event for the
/// announced task to "succeeded". Every output is hashed afterwards (untimed) to prove it is
/// right. B's peak RSS is its VmHWM at the end of the transfer.
/// </para>
/// <para>
/// With <c>--tls both</c> each setting has a broker of its own, every run is made with each setting in
/// turn, and each setting has its medians; the report compares them (<see cref="PairReport.TlsRatios"/>).
/// TLS on: the broker makes its fleet CA and the agents enrol (<see cref="LocalSwarm"/>); off: --insecure everywhere.
/// </para>
/// </summary>
internal sealed class PairBenchmark(PairOptions options)
{
    private const string Topic = "bench/pair";
    private const int Seed = 20240601;
    private readonly TimeSpan _transferTimeout = TimeSpan.FromSeconds(Math.Max(120, options.Size / (20.0 * (1 << 20))));

    public async Task<PairReport> RunAsync(CancellationToken cancel)
    {
        // Fail early, with one line, when a tool or an executable is missing.
        var curl = Executables.System("curl", "curl", "the baseline");
        _ = Executables.System("nginx", "nginx", "the baseline");
        var dfget = Executables.Get;
        var dfpub = Executables.Publish;
        TlsFlags.EnsureSupported(options.Tls);
        var startedAt = DateTimeOffset.UtcNow;
        var loadAtStart = PairMachine.LoadAverage();

        // Source file, agent A's copy in its store, B's store and output, curl's output, and slack.
        using var workspace = Workspace.Create("pair", 5 * options.Size + (512L << 20));
        var fileName = $"pair-{options.Size}.bin";
        var source = Path.Combine(workspace.Folder("source"), fileName);
        var outputs = workspace.Folder("out");
        Say($"dfbench pair: {ByteSize.Format(options.Size)} over loopback, {options.Runs} run(s), files in {workspace.Path}{(workspace.OnTmpfs ? " (tmpfs)" : "")}, " +
            $"--pieces-in-flight {PiecesInFlightText}, {Executables.Configuration} build, load average {loadAtStart}");

        Say($"writing {ByteSize.Format(options.Size)} of seeded random bytes ...");
        var digest = await FileDigest.WriteAsync(source, options.Size, Seed, cancel);

        await using var nginx = await NginxOrigin.StartAsync(workspace.Folder("nginx"), Path.GetDirectoryName(source)!, cancel);
        // The processes' output goes next to result.json, for a look afterwards.
        var logs = Path.Combine(options.OutputFolder, "logs");
        if (Directory.Exists(logs))
        {
            Directory.Delete(logs, recursive: true); // ours, from an earlier run
        }
        Directory.CreateDirectory(logs);
        double? startup = null;
        if (options.Mode.HasFlag(PairMode.Dfget))
        {
            startup = await MeasureDfgetStartupAsync(dfget, cancel);
            Say(string.Create(CultureInfo.InvariantCulture, $"dfget start-up (dfget --help, median of 3): {startup:0.000} s, included in every dfget time"));
        }
        var (runs, medians) = await RunAllAsync(workspace, logs, nginx, curl, dfget, dfpub, source, digest, outputs, cancel);
        var report = new PairReport
        {
            StartedAt = startedAt,
            SizeBytes = options.Size,
            Workspace = workspace.Path,
            OnTmpfs = workspace.OnTmpfs,
            PiecesInFlight = PiecesInFlightText,
            Configuration = Executables.Configuration,
            DfgetStartupSeconds = startup,
            LoadAverageAtStart = loadAtStart,
            LoadAverageAtEnd = PairMachine.LoadAverage(),
            Runs = runs,
            Medians = medians,
        };
        foreach (var line in report.TargetLines)
        {
            Say(line);
        }
        Say($"load average at start {report.LoadAverageAtStart}, at end {report.LoadAverageAtEnd} ({Environment.ProcessorCount} cores)");
        return report;
    }

    /// <summary>
    /// Every run, each --tls setting against a broker of its own, interleaved (run 1 on, run 1 off, run 2 on, ...)
    /// so that a change in the shared machine's load skews both settings alike; returns the runs and each setting's medians.
    /// </summary>
    private async Task<(List<PairFigures> Runs, List<PairFigures> Medians)> RunAllAsync(Workspace workspace, string logs, NginxOrigin nginx,
        string curl, string dfget, string dfpub, string source, ContentDigest digest, string outputs, CancellationToken cancel)
    {
        var swarms = new List<LocalSwarm>();
        try
        {
            foreach (var tls in options.Tls)
            {
                var tlsName = TlsFlags.Name(tls);
                var swarmLogs = Directory.CreateDirectory(Path.Combine(logs, $"tls-{tlsName}")).FullName;
                var swarm = await LocalSwarm.StartAsync(workspace.Folder($"swarm-tls-{tlsName}"), swarmLogs, tls, cancel);
                swarms.Add(swarm);
                Say($"TLS {TlsFlags.Describe(tls)}; broker grpc :{swarm.Broker.GrpcPort}, logs in {swarmLogs}");
            }
            Say($"nginx on :{nginx.Port}");
            Say("");
            Say(PairReport.Header);
            var runs = new List<PairFigures>();
            for (var run = 1; run <= options.Runs; run++)
            {
                foreach (var swarm in swarms)
                {
                    var figures = await RunOnceAsync(swarm, run, nginx, curl, dfget, dfpub, source, digest, outputs, cancel);
                    runs.Add(figures);
                    Say(PairReport.Row($"{run}/{figures.Tls}", figures));
                }
            }
            var medians = swarms.Select(swarm => MedianOf(runs.Where(r => r.Tls == TlsFlags.Name(swarm.Tls)).ToList())).ToList();
            foreach (var median in medians)
            {
                Say(PairReport.Row($"med/{median.Tls}", median));
            }
            return (runs, medians);
        }
        finally
        {
            foreach (var swarm in swarms)
            {
                await swarm.DisposeAsync();
            }
        }
    }

    /// <summary>One run with one --tls setting: curl, then the ways of pulling that were asked for.</summary>
    private async Task<PairFigures> RunOnceAsync(LocalSwarm swarm, int run, NginxOrigin nginx, string curl, string dfget, string dfpub,
        string source, ContentDigest digest, string outputs, CancellationToken cancel)
    {
        var curlSeconds = await RunCurlAsync(curl, nginx.UrlOf(Path.GetFileName(source)), Path.Combine(outputs, "curl.bin"), digest, cancel);
        var figures = new PairFigures { Run = run, Tls = TlsFlags.Name(swarm.Tls), CurlSeconds = curlSeconds, CurlGiBPerSecond = GiBPerSecond(curlSeconds) };
        if (options.Mode.HasFlag(PairMode.Dfget))
        {
            figures = figures with { Dfget = await RunDfgetAsync(swarm, dfget, dfpub, source, digest, Path.Combine(outputs, "dfget.bin"), run, curlSeconds, cancel) };
        }
        if (options.Mode.HasFlag(PairMode.Subscribe))
        {
            figures = figures with { Subscribe = await RunSubscribedAsync(swarm, dfpub, source, digest, run, curlSeconds, cancel) };
        }
        return figures;
    }

    private PairFigures MedianOf(IReadOnlyList<PairFigures> runs)
    {
        var curlMedian = Statistics.Median(runs.Select(r => r.CurlSeconds));
        return new PairFigures
        {
            Tls = runs[0].Tls,
            CurlSeconds = curlMedian,
            CurlGiBPerSecond = GiBPerSecond(curlMedian),
            Dfget = MedianOf(runs.Select(r => r.Dfget)),
            Subscribe = MedianOf(runs.Select(r => r.Subscribe)),
        };
    }

    private string PiecesInFlightText => options.PiecesInFlight?.ToString(CultureInfo.InvariantCulture) ?? "default";

    /// <summary>The baseline: curl from our nginx; timed from curl's start to its exit.</summary>
    private async Task<double> RunCurlAsync(string curl, string url, string output, ContentDigest digest, CancellationToken cancel)
    {
        var result = await ProcessRunner.RunAsync(curl, ["-s", "-f", "-o", output, url], _transferTimeout, cancel);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"curl {url} exited with code {result.ExitCode}: {result.Reason}");
        }
        await VerifyAndDeleteAsync("curl", output, digest, cancel);
        return result.Elapsed.TotalSeconds;
    }

    /// <summary>
    /// A fresh agent A publishes the file; a fresh agent B pulls it through dfget, timed from
    /// dfget's start to its exit.
    /// </summary>
    private async Task<AgentTransfer> RunDfgetAsync(LocalSwarm swarm, string dfget, string dfpub, string source, ContentDigest digest,
        string output, int run, double curlSeconds, CancellationToken cancel)
    {
        var publisher = await StartPublisherAsync(swarm, $"agent-a{run}-dfget", cancel);
        await PublishAsync(dfpub, publisher, source, Topic, digest, cancel);
        var puller = await StartPullerAsync(swarm, $"agent-b{run}-dfget", [], cancel);
        var idleRss = ProcFs.StatusBytes(puller.Process.Id, "VmRSS");
        var publisherCpu = publisher.Process.CpuTime;
        var pullerCpu = puller.Process.CpuTime;
        CommandResult result;
        try
        {
            result = await ProcessRunner.RunAsync(dfget, [digest.ToString(), "-O", output, "--data-dir", puller.DataDir, .. puller.Tls], _transferTimeout, cancel);
        }
        catch (TimeoutException e)
        {
            throw new TimeoutException($"{e.Message}; agent B's last log line: {puller.Process.LastLine()}", e);
        }
        var transfer = Measure(puller, publisher, result.Elapsed.TotalSeconds, curlSeconds, idleRss, pullerCpu, publisherCpu);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"dfget exited with code {result.ExitCode}: {result.Reason}");
        }
        transfer = transfer with { Encrypted = await swarm.RunsWithTlsAsync([publisher, puller], cancel) };
        await VerifyAndDeleteAsync("dfget", output, digest, cancel);
        await RemovePairAsync(swarm, publisher, puller);
        return transfer;
    }

    /// <summary>
    /// A fresh agent B subscribes to a topic of its own; a fresh agent A announces the file there.
    /// Timed from B's first event for the task (the announcement reached it) to its "succeeded"
    /// event (every piece verified, the whole-file digest checked, the file in the output dir).
    /// </summary>
    private async Task<AgentTransfer> RunSubscribedAsync(LocalSwarm swarm, string dfpub, string source,
        ContentDigest digest, int run, double curlSeconds, CancellationToken cancel)
    {
        // A topic per run: a fresh B must not also receive the retained announcements of earlier runs.
        var topic = $"{Topic}/run-{run}";
        var publisher = await StartPublisherAsync(swarm, $"agent-a{run}-subscribe", cancel);
        var puller = await StartPullerAsync(swarm, $"agent-b{run}-subscribe", ["--subscribe", topic], cancel);
        var idleRss = ProcFs.StatusBytes(puller.Process.Id, "VmRSS");
        await using var events = new TaskEventStream(puller.Ready.Socket, digest.ToString());
        await Task.Delay(TimeSpan.FromMilliseconds(250), cancel); // let the request reach B before A announces
        await PublishAsync(dfpub, publisher, source, topic, digest, cancel);

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancel);
        timeout.CancelAfter(_transferTimeout);
        Stopwatch? clock = null;
        TimeSpan publisherCpu = default, pullerCpu = default;
        TaskInfo? last = null;
        try
        {
            await foreach (var task in events.ReadAllAsync(timeout.Token))
            {
                if (clock is null)
                {
                    if (task.CompletedPieces > 0)
                    {
                        throw new InvalidOperationException("the event stream attached after agent B had started the download; the time would be short");
                    }
                    clock = Stopwatch.StartNew();
                    publisherCpu = publisher.Process.CpuTime;
                    pullerCpu = puller.Process.CpuTime;
                }
                last = task;
                if (task.IsFinished)
                {
                    break;
                }
            }
        }
        catch (OperationCanceledException) when (!cancel.IsCancellationRequested)
        {
            throw new TimeoutException($"agent B did not finish within {_transferTimeout.TotalSeconds:0} s (last state {last?.State ?? "none"}); its last log line: {puller.Process.LastLine()}");
        }
        if (clock is null || last is null)
        {
            throw new InvalidOperationException($"agent B closed its event stream without reporting the task; its last log line: {puller.Process.LastLine()}");
        }
        var transfer = Measure(puller, publisher, clock.Elapsed.TotalSeconds, curlSeconds, idleRss, pullerCpu, publisherCpu);
        if (last.State != TaskStates.Succeeded)
        {
            throw new InvalidOperationException($"agent B's task ended {last.State}: {last.Error ?? puller.Process.LastLine()}");
        }
        transfer = transfer with { Encrypted = await swarm.RunsWithTlsAsync([publisher, puller], cancel) };
        await VerifyAndDeleteAsync("the subscribed agent", last.Path ?? "(no path reported)", digest, cancel);
        await RemovePairAsync(swarm, publisher, puller);
        return transfer;
    }

    /// <summary>
    /// Agent A, fresh for every measurement: a seed that has sent a piece before holds it back for
    /// a while (super-seeding), so a reused A would measure that pause, not the transfer.
    /// </summary>
    private static async Task<AgentHandle> StartPublisherAsync(LocalSwarm swarm, string name, CancellationToken cancel)
    {
        var publisher = await swarm.StartAgentAsync(name, [], cancel);
        // The broker's own seed is a peer too: A is counted once the gauge passes it.
        if (!await swarm.WaitForPeersAsync(peers => peers >= swarm.Broker.OwnPeers + 1, TimeSpan.FromSeconds(30), cancel))
        {
            throw new TimeoutException($"the broker did not count agent A as a peer within 30 s: {publisher.Process.LastLine()}");
        }
        return publisher;
    }

    private async Task<AgentHandle> StartPullerAsync(LocalSwarm swarm, string name, string[] arguments, CancellationToken cancel)
    {
        string[] tuning = options.PiecesInFlight is { } n ? ["--pieces-in-flight", n.ToString(CultureInfo.InvariantCulture)] : [];
        var puller = await swarm.StartAgentAsync(name, [.. arguments, .. tuning], cancel);
        // B reports ready before it has reached the broker; start the clock once the broker counts it.
        var expected = swarm.Broker.OwnPeers + 2;
        if (!await swarm.WaitForPeersAsync(peers => peers >= expected, TimeSpan.FromSeconds(30), cancel))
        {
            throw new TimeoutException($"the broker did not count agent B as a peer within 30 s (dragonfly_broker_peers < {expected}, its own seed included): {puller.Process.LastLine()}");
        }
        return puller;
    }

    private static async Task RemovePairAsync(LocalSwarm swarm, AgentHandle publisher, AgentHandle puller)
    {
        await swarm.RemoveAgentAsync(puller);
        await swarm.RemoveAgentAsync(publisher);
        // So that the next "broker counts A and B" checks are not met by these agents' stale entries;
        // what remains is the broker's own seed.
        var own = swarm.Broker.OwnPeers;
        if (!await swarm.WaitForPeersAsync(peers => peers <= own, TimeSpan.FromSeconds(15), CancellationToken.None))
        {
            Say($"warning: 15 s after agents A and B stopped, the broker still counts them (dragonfly_broker_peers > {own}, its own seed)");
        }
    }

    private AgentTransfer Measure(AgentHandle puller, AgentHandle publisher, double seconds, double curlSeconds, long idleRss,
        TimeSpan pullerCpuBefore, TimeSpan publisherCpuBefore)
    {
        puller.Process.ThrowIfExited();
        return new AgentTransfer
        {
            Seconds = seconds,
            GiBPerSecond = GiBPerSecond(seconds),
            Ratio = curlSeconds / seconds,
            AgentPeakRssBytes = ProcFs.StatusBytes(puller.Process.Id, "VmHWM"),
            AgentIdleRssBytes = idleRss,
            AgentCpuSeconds = (puller.Process.CpuTime - pullerCpuBefore).TotalSeconds,
            PublisherCpuSeconds = (publisher.Process.CpuTime - publisherCpuBefore).TotalSeconds,
        };
    }

    private async Task PublishAsync(string dfpub, AgentHandle publisher, string source, string topic, ContentDigest digest, CancellationToken cancel)
    {
        var published = await ProcessRunner.RunAsync(dfpub, [source, "--topic", topic, "--data-dir", publisher.DataDir], _transferTimeout, cancel);
        if (published.ExitCode != 0)
        {
            throw new InvalidOperationException($"dfpub exited with code {published.ExitCode}: {published.Reason}");
        }
        var announced = published.Stdout.Trim().Split('\n')[^1].Trim();
        if (announced != digest.ToString())
        {
            throw new InvalidOperationException($"dfpub announced '{announced}', but the file's SHA-256 is {digest}");
        }
    }

    private static async Task<double> MeasureDfgetStartupAsync(string dfget, CancellationToken cancel)
    {
        var times = new List<double>();
        for (var i = 0; i < 3; i++)
        {
            var result = await ProcessRunner.RunAsync(dfget, ["--help"], TimeSpan.FromSeconds(30), cancel);
            times.Add(result.Elapsed.TotalSeconds);
        }
        return Statistics.Median(times);
    }

    private static async Task VerifyAndDeleteAsync(string who, string path, ContentDigest expected, CancellationToken cancel)
    {
        if (!File.Exists(path))
        {
            throw new InvalidOperationException($"{who} reported success but there is no file at {path}");
        }
        var actual = await FileDigest.HashAsync(path, cancel);
        File.Delete(path);
        if (actual != expected)
        {
            throw new InvalidOperationException($"{who} wrote a file with {actual}, expected {expected}");
        }
    }

    private AgentTransfer? MedianOf(IEnumerable<AgentTransfer?> transfers)
    {
        var all = transfers.OfType<AgentTransfer>().ToList();
        if (all.Count == 0)
        {
            return null;
        }
        var seconds = Statistics.Median(all.Select(t => t.Seconds));
        return new AgentTransfer
        {
            Seconds = seconds,
            GiBPerSecond = GiBPerSecond(seconds),
            Ratio = Statistics.Median(all.Select(t => t.Ratio)),
            AgentPeakRssBytes = (long)Statistics.Median(all.Select(t => (double)t.AgentPeakRssBytes)),
            AgentIdleRssBytes = (long)Statistics.Median(all.Select(t => (double)t.AgentIdleRssBytes)),
            AgentCpuSeconds = Statistics.Median(all.Select(t => t.AgentCpuSeconds)),
            PublisherCpuSeconds = Statistics.Median(all.Select(t => t.PublisherCpuSeconds)),
            Encrypted = all.All(t => t.Encrypted),
        };
    }

    private double GiBPerSecond(double seconds) => options.Size / seconds / (1 << 30);

    private static void Say(string line) => Console.WriteLine(line);
}
