using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using Dragonfly.PubSub.Bench.Common.Cli;
using Dragonfly.PubSub.Bench.Common.Measurement;
using Dragonfly.PubSub.Bench.Common.Processes;
using Dragonfly.PubSub.Bench.Swarm.Measurement;
using Dragonfly.PubSub.Bench.Swarm.Processes;
using Dragonfly.PubSub.Bench.Swarm.Systems;
using Dragonfly.PubSub.Bench.Swarm.Testbed;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Contracts.Cli;

namespace Dragonfly.PubSub.Bench.Swarm;

/// <summary>
/// Builds the testbed (origin, publisher and N receiver nodes), runs our swarm and the baselines on
/// it, each --runs times, and writes result.json, timelines.json and cdf.svg. Everything it made
/// (processes, namespaces, the workspace unless --keep) is removed at the end, also on failure.
/// </summary>
internal sealed class SwarmBenchmark(SwarmOptions options)
{
    private const int Seed = 20240601;
    private const string TmpfsRoot = "/dev/shm";

    public async Task<SwarmReport> RunAsync(CancellationToken cancel)
    {
        if (Environment.UserName != "root" && geteuid() != 0)
        {
            throw new UserFacingException("dfbench swarm needs root (it creates network namespaces and tc qdiscs); run it with sudo", ExitCodes.Usage);
        }
        // Fail before building anything when a tool or an executable is missing.
        _ = Executables.System("ip", "iproute2", "dfbench swarm");
        _ = Executables.System("tc", "iproute2", "dfbench swarm");
        _ = (Executables.Broker, Executables.Agent, Executables.Publish);
        if (options.Modes.Contains(SwarmModes.Url))
        {
            _ = Executables.Get;
        }
        if (options.Baselines.Contains("direct") || options.Modes.Any(m => m != SwarmModes.Publish))
        {
            _ = (Executables.System("nginx", "nginx", "dfbench swarm"), Executables.System("curl", "curl", "dfbench swarm"));
        }
        if (options.Baselines.Contains("bittorrent"))
        {
            _ = (Executables.System("aria2c", "aria2", "dfbench swarm"), Executables.System("opentracker", "opentracker", "dfbench swarm"),
                Executables.System("mktorrent", "mktorrent", "dfbench swarm"), Executables.System("curl", "curl", "dfbench swarm"));
        }

        TlsFlags.EnsureSupported(options.Tls);

        var swept = await NetworkTestbed.SweepStale(cancel);
        if (swept > 0)
        {
            options.Say($"removed {swept} network namespace(s) left by an earlier dfbench swarm run");
        }
        var date = DateTimeOffset.UtcNow;
        var loadAtStart = MachineInfo.LoadAverage();
        var clock = Stopwatch.StartNew();
        var (workspace, onTmpfs) = CreateWorkspace();
        try
        {
            var source = Path.Combine(Directory.CreateDirectory(Path.Combine(workspace, "source")).FullName, $"swarm-{options.Size}.bin");
            options.Say($"dfbench swarm: {options.Agents} agents x {ByteSize.Format(options.Size)} at {options.Rate} per link, files in {workspace}{(onTmpfs ? " (tmpfs)" : "")}, {Executables.Configuration} build, load {loadAtStart}");
            var digest = await FileDigest.WriteAsync(source, options.Size, Seed, cancel);
            var plan = new TestbedPlan(Environment.ProcessId.ToString(CultureInfo.InvariantCulture), options.Agents + 2, options.Rate);
            await using var testbed = await NetworkTestbed.CreateAsync(plan, cancel);
            var context = new SwarmContext(options, testbed, workspace, source, digest, clock);
            var dMin = LowerBound.DMinSeconds(options.Size, options.Agents, options.Rate.BytesPerSecond);
            var clientServer = LowerBound.ClientServerSeconds(options.Size, options.Agents, options.Rate.BytesPerSecond);
            options.Say($"testbed: {plan.Nodes} namespaces {plan.NodeNamespace(0)}..{plan.NodeNamespace(plan.Nodes - 1)} on bridge {plan.BridgeNamespace}, tbf {options.Rate} each way; D_min {dMin:0.00} s, client-server {clientServer:0.00} s");

            var results = new List<SystemResult>();
            var timelines = new List<object>();
            for (var run = 1; run <= options.Runs; run++)
            {
                // Ours once per --tls setting, the baselines once (they have no such setting).
                var scenarios = options.Modes.SelectMany(m => options.Tls.Select(t => (Scenario: m, Tls: (TlsSetting?)t)))
                    .Concat(options.Baselines.Select(b => (Scenario: b, Tls: (TlsSetting?)null)));
                foreach (var (scenario, tls) in scenarios)
                {
                    var system = tls is { } t ? SwarmModes.SystemName(scenario, t, options.Tls.Count > 1) : scenario;
                    options.Say($"run {run}: {system} ...");
                    var loadBefore = MachineInfo.LoadAverage();
                    var measurement = scenario switch
                    {
                        SwarmModes.Publish => await new DragonflySystem(context, tls!.Value, system).RunAsync(run, cancel),
                        SwarmModes.Url or SwarmModes.UrlAnnounce => await new UrlTaskSystem(context, scenario, tls!.Value, system).RunAsync(run, cancel),
                        "direct" => await new DirectSystem(context).RunAsync(run, cancel),
                        "bittorrent" => await new BitTorrentSystem(context).RunAsync(run, cancel),
                        _ => throw new UnreachableException(scenario),
                    };
                    var result = SystemResult.From(measurement, run, options.Size, dMin) with
                    {
                        Tls = tls is { } used ? TlsFlags.Describe(used) : null,
                        LoadAverageBefore = loadBefore,
                        LoadAverageAfter = MachineInfo.LoadAverage(),
                    };
                    results.Add(result);
                    if (measurement.Timelines.Count > 0)
                    {
                        // Per receiver, in the same order: (seconds, completed pieces) and announcement → first piece request.
                        timelines.Add(new { system, run, receivers = measurement.Timelines, announcementToFirstPieceRequestMs = measurement.AnnouncedToFirstRequestMilliseconds });
                    }
                    options.Say(string.Create(CultureInfo.InvariantCulture,
                        $"run {run}: {system} all finished in {result.AllFinishedSeconds:0.00} s ({result.RatioToDMin:0.000} x D_min; {result.AllFinishedFromCommandSeconds:0.00} s from the command), p50 {result.P50Seconds:0.00} s, origin/F {result.OriginEgressRatio:0.000}, verified {result.Verified}"));
                    if (result.AnnouncementToFirstPieceRequest is { } first)
                    {
                        options.Say(string.Create(CultureInfo.InvariantCulture,
                            $"run {run}: {system} announcement -> first piece requested: p50 {first.P50Milliseconds:0} ms, p99 {first.P99Milliseconds:0} ms ({first.Agents} agents)"));
                    }
                    if (result.SchedulerLoad is { } load)
                    {
                        options.Say(string.Create(CultureInfo.InvariantCulture,
                            $"run {run}: {system} scheduler load per receiving agent and second: NeedParents {load.NeedParentsPerAgentSecond:0.000}, piece reports {load.PieceReportsPerAgentSecond:0.00}; heard ParentSets {load.ParentSetsPerAgentSecond:0.00}, PieceAvailable {load.PieceAvailablePerAgentSecond:0.00}"));
                    }
                }
            }

            var report = new SwarmReport
            {
                Scenario = new SwarmScenario(options.Agents, options.Size, options.Rate.ToString(), options.Rate.BitsPerSecond, string.Join(',', options.Modes), options.Runs,
                    options.PieceSize, options.PiecesInFlight, string.Join(',', options.Tls.Select(TlsFlags.Name)),
                    $"one network namespace per node, veth pairs into a bridge, tbf {options.Rate} on both ends of every link (upload and download); no latency or loss emulation (netem is not available on this kernel); node 0 origin (broker with its in-process seed, nginx, tracker), node 1 publisher (dfpub's agent, the BitTorrent seed), nodes 2..{options.Agents + 1} receivers",
                    options.UploadLimit?.BitsPerSecond, options.SeedUploadLimit?.BitsPerSecond),
                Date = date,
                Machine = new MachineInfo(Environment.MachineName, Environment.ProcessorCount, RuntimeInformation.OSDescription, MachineInfo.KernelRelease(),
                    GC.GetGCMemoryInfo().TotalAvailableMemoryBytes, RuntimeInformation.FrameworkDescription, Executables.Configuration, onTmpfs,
                    loadAtStart, MachineInfo.LoadAverage()),
                DMinSeconds = dMin,
                ClientServerSeconds = clientServer,
                Systems = SwarmReport.MedianRuns(results),
                Runs = results,
                Notes = results.SelectMany(r => r.Notes.Select(n => $"{r.Name} run {r.Run}: {n}")).ToArray(),
            };
            Directory.CreateDirectory(options.Out);
            await File.WriteAllTextAsync(Path.Combine(options.Out, "result.json"), JsonSerializer.Serialize(report, SwarmReport.Json), cancel);
            await File.WriteAllTextAsync(Path.Combine(options.Out, "timelines.json"), JsonSerializer.Serialize(timelines, SwarmReport.Json), cancel);
            await File.WriteAllTextAsync(Path.Combine(options.Out, "cdf.svg"),
                CdfPlot.Svg($"{options.Agents} x {ByteSize.Format(options.Size)} at {options.Rate} per link: completion-time CDF", report.Systems, dMin), cancel);
            options.Say("");
            options.Say(report.Table());
            options.Say($"wrote result.json, timelines.json and cdf.svg to {Path.GetFullPath(options.Out)}");
            return report;
        }
        finally
        {
            if (options.Keep)
            {
                options.Say($"kept the workspace {workspace} (--keep)");
            }
            else
            {
                try
                {
                    Directory.Delete(workspace, recursive: true);
                }
                catch (IOException e)
                {
                    Console.Error.WriteLine($"dfbench swarm: could not remove {workspace}: {e.Message}");
                }
            }
        }
    }

    /// <summary>
    /// tmpfs when it holds the source, a store and an output copy per agent with room to spare
    /// (the runs are sequential and each deletes its copies), so the disk is not what is measured.
    /// </summary>
    private (string Path, bool OnTmpfs) CreateWorkspace()
    {
        var needed = (3L * options.Agents + 4) * options.Size + (1L << 30);
        var onTmpfs = Directory.Exists(TmpfsRoot) && new DriveInfo(TmpfsRoot).AvailableFreeSpace > needed;
        var root = onTmpfs ? TmpfsRoot : Path.GetTempPath();
        if (!onTmpfs && new DriveInfo(root).AvailableFreeSpace < needed)
        {
            throw new UserFacingException($"neither {TmpfsRoot} nor {root} has {ByteSize.Format(needed)} free; use a smaller --size or fewer --agents");
        }
        var path = Path.Combine(root, $"dfbench-swarm-{Environment.ProcessId}");
        return (WorldReadable.CreateDirectory(path), onTmpfs);
    }

    [DllImport("libc")]
    private static extern uint geteuid();
}
