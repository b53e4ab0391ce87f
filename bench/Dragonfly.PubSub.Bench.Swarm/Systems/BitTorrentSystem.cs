using System.Globalization;
using Dragonfly.PubSub.Bench.Common.Measurement;
using Dragonfly.PubSub.Bench.Common.Processes;
using Dragonfly.PubSub.Bench.Swarm.Measurement;
using Dragonfly.PubSub.Bench.Swarm.Processes;
using Dragonfly.PubSub.Bench.Swarm.Testbed;

namespace Dragonfly.PubSub.Bench.Swarm.Systems;

/// <summary>
/// BitTorrent as performance.md measured it: mktorrent (1 MiB pieces), opentracker on the origin
/// node, an aria2c seed on the publisher node, an aria2c leecher on every receiver node, all
/// started at once. Each leecher's completion is the moment its --on-bt-download-complete hook
/// runs (every piece SHA-1 checked); leechers keep seeding until all have finished.
/// </summary>
internal sealed class BitTorrentSystem(SwarmContext context)
{
    private const int TrackerPort = 6969;
    private const int PeerPort = 6881;
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    public async Task<SystemMeasurement> RunAsync(int run, CancellationToken cancel)
    {
        var aria2c = Executables.System("aria2c", "aria2", "dfbench swarm");
        var opentracker = Executables.System("opentracker", "opentracker", "dfbench swarm");
        var mktorrent = Executables.System("mktorrent", "mktorrent", "dfbench swarm");
        var curl = Executables.System("curl", "curl", "dfbench swarm");
        var root = context.Folder($"bittorrent-{run}");
        var processes = new List<NodeProcess>();
        try
        {
            // The seed's own copy, so aria2c's files stay out of the source folder.
            var seedDir = context.Folder($"bittorrent-{run}", "seed");
            File.Copy(context.SourceFile, Path.Combine(seedDir, context.FileName));
            var torrent = Path.Combine(root, "file.torrent");
            var announce = $"http://{context.OriginAddress}:{TrackerPort}/announce";
            await ProcessRunner.RunCheckedAsync([mktorrent, "-a", announce, "-l", "20", "-o", torrent, Path.Combine(seedDir, context.FileName)],
                TimeSpan.FromMinutes(5), cancel);
            var infoHash = TorrentInfoHash.Hex(await File.ReadAllBytesAsync(torrent, cancel));

            // opentracker chroots into its folder and drops to nobody; the whitelist path is inside it.
            var trackerDir = context.Folder($"bittorrent-{run}", "tracker");
            var whitelist = Path.Combine(trackerDir, "whitelist");
            await File.WriteAllTextAsync(whitelist, infoHash + "\n", cancel);
            WorldReadable.File644(whitelist);
            var tracker = NodeProcess.Start("opentracker", context.Testbed.Plan.NodeNamespace(SwarmContext.OriginNode), opentracker,
                ["-i", context.OriginAddress, "-p", $"{TrackerPort}", "-P", $"{TrackerPort}", "-d", trackerDir, "-u", "nobody", "-w", "/whitelist"],
                Path.Combine(root, "opentracker.log"), context.Clock);
            processes.Add(tracker);

            var hook = Path.Combine(root, "done.sh");
            await File.WriteAllTextAsync(hook, "#!/bin/sh\n# aria2c: $1 gid, $2 number of files, $3 path of the first file\ntouch \"$3.done\"\n", cancel);
            WorldReadable.Executable(hook);

            var seed = NodeProcess.Start("aria2c-seed", context.Testbed.Plan.NodeNamespace(SwarmContext.PublisherNode), aria2c,
                [.. Aria2Arguments(seedDir, hook, context.Options.SeedUploadLimit), "--check-integrity=true", torrent], Path.Combine(root, "aria2c-seed.log"), context.Clock);
            processes.Add(seed);
            await WaitAsync(() => File.Exists(Path.Combine(seedDir, context.FileName + ".done")), [tracker, seed], "the aria2c seed to verify its file", cancel);
            await WaitAsync(async () => await SeedersAsync(curl, infoHash, cancel) >= 1, [tracker, seed], "the seed to announce itself to opentracker", cancel);

            var seedTxBefore = await context.Testbed.TxBytesAsync(SwarmContext.PublisherNode, cancel);
            var originTxBefore = await context.Testbed.TxBytesAsync(SwarmContext.OriginNode, cancel);
            var cpuBefore = (seed.CpuSeconds() ?? 0) + (tracker.CpuSeconds() ?? 0);
            var dirs = Enumerable.Range(0, context.Receivers).Select(i => context.Folder($"bittorrent-{run}", $"node-{i}")).ToArray();
            var start = context.Clock.Elapsed;
            var leechers = dirs.Select((dir, i) => NodeProcess.Start($"aria2c-{i}", context.Testbed.Plan.NodeNamespace(SwarmContext.ReceiverNode(i)), aria2c,
                [.. Aria2Arguments(dir, hook, context.Options.UploadLimit), torrent], Path.Combine(root, $"aria2c-{i}.log"), context.Clock)).ToArray();
            processes.AddRange(leechers);

            var markers = dirs.Select(d => Path.Combine(d, context.FileName + ".done")).ToArray();
            var finished = new TimeSpan?[markers.Length];
            var deadline = start + context.TransferTimeout;
            while (finished.Any(f => f is null))
            {
                for (var i = 0; i < markers.Length; i++)
                {
                    if (finished[i] is null && File.Exists(markers[i]))
                    {
                        finished[i] = context.Clock.Elapsed;
                    }
                }
                foreach (var p in leechers.Append(seed).Append(tracker))
                {
                    p.ThrowIfExited();
                }
                if (context.Clock.Elapsed > deadline)
                {
                    throw new TimeoutException($"{finished.Count(f => f is null)} of {markers.Length} aria2c downloads did not finish within {context.TransferTimeout.TotalSeconds:0} s");
                }
                await Task.Delay(20, cancel);
            }
            var cpu = leechers.Select(p => p.CpuSeconds() ?? 0).Sum() + (seed.CpuSeconds() ?? 0) + (tracker.CpuSeconds() ?? 0) - cpuBefore;
            var peakRss = leechers.Select(p => p.PeakRssBytes() ?? 0).Max();
            var seedTx = await context.Testbed.TxBytesAsync(SwarmContext.PublisherNode, cancel) - seedTxBefore;
            var originTx = await context.Testbed.TxBytesAsync(SwarmContext.OriginNode, cancel) - originTxBefore;
            await Task.WhenAll(processes.Select(p => p.StopAsync()));
            var (verified, problems) = await FileDigest.VerifyAllAsync(dirs.Select(d => Path.Combine(d, context.FileName)), context.Digest, cancel);
            return new SystemMeasurement
            {
                Name = "bittorrent",
                ClockStart = "from just before every receiver's aria2c spawns (at once) to each one's --on-bt-download-complete hook; opentracker and the aria2c seed "
                    + "already running, the seed's file verified and announced to the tracker; aria2c's start-up, tracker announce and peer connections included; mktorrent not",
                CompletionSeconds = finished.Select(f => (f!.Value - start).TotalSeconds).ToArray(),
                OriginEgressBytes = seedTx,
                OriginEgressMeasure = "aria2c seed node link: tx bytes, headers included",
                PublisherUploadBytes = seedTx,
                PublisherUploadMeasure = "aria2c seed node link: tx bytes, headers included",
                CpuSeconds = cpu,
                PeakRssBytes = peakRss,
                Verified = verified,
                Notes =
                [
                    $"aria2c {string.Join(' ', Aria2Arguments("DIR", "HOOK", context.Options.UploadLimit))} (the seed's upload cap: {context.Options.SeedUploadLimit?.BytesPerSecondText ?? "none"}); mktorrent -l 20 (1 MiB pieces); opentracker on the origin node (sent {originTx} bytes)",
                    .. problems,
                ],
            };
        }
        finally
        {
            await Task.WhenAll(processes.Select(p => p.DisposeAsync().AsTask()));
            if (!context.Options.Keep)
            {
                Directory.Delete(root, recursive: true);
            }
        }
    }

    /// <summary>
    /// A private tracker on a private LAN: no DHT, no local peer discovery, peer exchange on; seed
    /// for ever (ratio 0.0) so that finished leechers keep serving until the benchmark stops them.
    /// With <paramref name="uploadLimit"/> (dfbench --upload-limit for leechers, --seed-upload-limit for the seed) its upload is capped as our agents' are.
    /// </summary>
    internal static string[] Aria2Arguments(string dir, string hook, LinkRate? uploadLimit = null) =>
    [
        $"--dir={dir}",
        "--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false", "--enable-peer-exchange=true",
        "--seed-ratio=0.0", "--disable-ipv6=true", $"--listen-port={PeerPort}",
        "--file-allocation=none", "--allow-overwrite=true", "--auto-file-renaming=false",
        "--console-log-level=warn", "--summary-interval=0", "--enable-color=false",
        $"--on-bt-download-complete={hook}",
        $"--stop-with-process={Environment.ProcessId}",
        .. uploadLimit is { } cap ? new[] { "--max-overall-upload-limit=" + cap.BytesPerSecondText } : [],
    ];

    /// <summary>opentracker's scrape: how many complete peers (seeders) it knows for the torrent.</summary>
    private async Task<int> SeedersAsync(string curl, string infoHash, CancellationToken cancel)
    {
        var escaped = string.Concat(Convert.FromHexString(infoHash).Select(b => "%" + b.ToString("x2", CultureInfo.InvariantCulture)));
        var scrape = await context.Testbed.ExecAsync(SwarmContext.OriginNode,
            [curl, "-s", "-f", $"http://{context.OriginAddress}:{TrackerPort}/scrape?info_hash={escaped}"], TimeSpan.FromSeconds(5), cancel);
        var text = scrape.Stdout;
        var at = text.IndexOf("8:completei", StringComparison.Ordinal);
        if (scrape.ExitCode != 0 || at < 0)
        {
            return 0;
        }
        var digits = text[(at + "8:completei".Length)..].TakeWhile(char.IsAsciiDigit).ToArray();
        return int.Parse(digits, CultureInfo.InvariantCulture);
    }

    private async Task WaitAsync(Func<Task<bool>> condition, IReadOnlyList<NodeProcess> watched, string what, CancellationToken cancel)
    {
        var deadline = context.Clock.Elapsed + StartTimeout;
        while (!await condition())
        {
            foreach (var p in watched)
            {
                p.ThrowIfExited();
            }
            if (context.Clock.Elapsed > deadline)
            {
                throw new TimeoutException($"timed out after {StartTimeout.TotalSeconds:0} s waiting for {what}");
            }
            await Task.Delay(100, cancel);
        }
    }

    private Task WaitAsync(Func<bool> condition, IReadOnlyList<NodeProcess> watched, string what, CancellationToken cancel) =>
        WaitAsync(() => Task.FromResult(condition()), watched, what, cancel);
}
