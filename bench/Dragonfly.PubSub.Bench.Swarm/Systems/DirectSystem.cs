using Dragonfly.PubSub.Bench.Common.Measurement;
using Dragonfly.PubSub.Bench.Common.Processes;
using Dragonfly.PubSub.Bench.Swarm.Measurement;
using Dragonfly.PubSub.Bench.Swarm.Processes;

namespace Dragonfly.PubSub.Bench.Swarm.Systems;

/// <summary>
/// What a user does without P2P: nginx (<c>sendfile on</c>) on the origin node, <c>curl -o</c> on
/// every receiver node at once, each timed from the common start to its exit.
/// </summary>
internal sealed class DirectSystem(SwarmContext context)
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(20);

    public async Task<SystemMeasurement> RunAsync(int run, CancellationToken cancel)
    {
        var curl = Executables.System("curl", "curl", "dfbench swarm");
        var nginxPath = Executables.System("nginx", "nginx", "dfbench swarm");
        var root = context.Folder($"direct-{run}");
        var processes = new List<NodeProcess>();
        try
        {
            var nginxArguments = await Common.Nginx.NginxConfig.WriteAsync(root, NginxConfig(root, Path.GetDirectoryName(context.SourceFile)!), cancel);
            var nginx = NodeProcess.Start("nginx", context.Testbed.Plan.NodeNamespace(SwarmContext.OriginNode), nginxPath,
                nginxArguments, Path.Combine(root, "nginx.log"), context.Clock);
            processes.Add(nginx);
            var url = $"http://{context.OriginAddress}/{Uri.EscapeDataString(context.FileName)}";
            await WaitServingAsync(nginx, curl, url, cancel);

            var originTxBefore = await context.Testbed.TxBytesAsync(SwarmContext.OriginNode, cancel);
            var nginxCpuBefore = nginx.CpuSeconds() ?? 0;
            var childCpuBefore = ChildUsage.CpuSeconds();
            var outputs = Enumerable.Range(0, context.Receivers).Select(i => Path.Combine(context.Folder($"direct-{run}", $"node-{i}"), context.FileName)).ToArray();
            var start = context.Clock.Elapsed;
            var curls = outputs.Select((output, i) => NodeProcess.Start($"curl-{i}", context.Testbed.Plan.NodeNamespace(SwarmContext.ReceiverNode(i)), curl,
                ["-s", "-S", "-f", "-o", output, url], Path.Combine(root, $"curl-{i}.log"), context.Clock)).ToArray();
            processes.AddRange(curls);

            var peakRss = 0L;
            var deadline = start + context.TransferTimeout;
            while (!curls.All(c => c.HasExited))
            {
                nginx.ThrowIfExited();
                peakRss = Math.Max(peakRss, curls.Select(c => c.PeakRssBytes() ?? 0).Max());
                if (context.Clock.Elapsed > deadline)
                {
                    throw new TimeoutException($"{curls.Count(c => !c.HasExited)} of {curls.Length} curl downloads did not finish within {context.TransferTimeout.TotalSeconds:0} s");
                }
                await Task.Delay(20, cancel);
            }
            foreach (var c in curls)
            {
                await c.WaitForExitAsync(cancel); // reaped: its CPU is in RUSAGE_CHILDREN now
            }
            var failed = curls.FirstOrDefault(c => c.ExitCode != 0);
            if (failed is not null)
            {
                throw new InvalidOperationException($"{failed.Name} failed with exit code {failed.ExitCode}: {failed.LastLine()}");
            }
            var cpu = ChildUsage.CpuSeconds() - childCpuBefore + ((nginx.CpuSeconds() ?? nginxCpuBefore) - nginxCpuBefore);
            var originTx = await context.Testbed.TxBytesAsync(SwarmContext.OriginNode, cancel) - originTxBefore;
            var (verified, problems) = await FileDigest.VerifyAllAsync(outputs, context.Digest, cancel);
            return new SystemMeasurement
            {
                Name = "direct",
                CompletionSeconds = curls.Select(c => (c.ExitedAt!.Value - start).TotalSeconds).ToArray(),
                OriginEgressBytes = originTx,
                PublisherUploadBytes = originTx,
                CpuSeconds = cpu,
                PeakRssBytes = peakRss,
                Verified = verified,
                Notes = ["nginx 1 worker, sendfile on; curl -o on every receiver at once; peak RSS sampled every 20 ms", .. problems],
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

    /// <summary>One process (no master), so its PID is the one serving and its CPU is all of nginx's.</summary>
    internal static string NginxConfig(string prefix, string servedFolder) =>
        Common.Nginx.NginxConfig.Render(prefix, servedFolder, listen: "0.0.0.0:80", workerConnections: 1024, singleProcess: true);

    private async Task WaitServingAsync(NodeProcess nginx, string curl, string url, CancellationToken cancel)
    {
        var deadline = context.Clock.Elapsed + StartTimeout;
        while (true)
        {
            nginx.ThrowIfExited();
            var probe = await context.Testbed.ExecAsync(SwarmContext.OriginNode, [curl, "-s", "-f", "-o", "/dev/null", "-r", "0-0", url], TimeSpan.FromSeconds(5), cancel);
            if (probe.ExitCode == 0)
            {
                return;
            }
            if (context.Clock.Elapsed > deadline)
            {
                throw new TimeoutException($"nginx did not serve {url} within {StartTimeout.TotalSeconds:0} s: {nginx.LastLine()}");
            }
            await Task.Delay(100, cancel);
        }
    }
}
