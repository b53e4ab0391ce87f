using System.Globalization;
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
    public async Task<SystemMeasurement> RunAsync(int run, CancellationToken cancel)
    {
        var curl = Executables.System("curl", "curl", "dfbench swarm");
        var root = context.Folder($"direct-{run}");
        var processes = new List<NodeProcess>();
        try
        {
            var origin = await OriginNginx.StartAsync(context, root, cancel);
            processes.Add(origin.Process);
            var nginx = origin.Process;

            var originTxBefore = await context.Testbed.TxBytesAsync(SwarmContext.OriginNode, cancel);
            var logMark = origin.Mark();
            var nginxCpuBefore = nginx.CpuSeconds() ?? 0;
            var childCpuBefore = ChildUsage.CpuSeconds();
            var outputs = Enumerable.Range(0, context.Receivers).Select(i => Path.Combine(context.Folder($"direct-{run}", $"node-{i}"), context.FileName)).ToArray();
            var start = context.Clock.Elapsed;
            var curls = outputs.Select((output, i) => NodeProcess.Start($"curl-{i}", context.Testbed.Plan.NodeNamespace(SwarmContext.ReceiverNode(i)), curl,
                ["-s", "-S", "-f", "-o", output, origin.Url], Path.Combine(root, $"curl-{i}.log"), context.Clock)).ToArray();
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
            var served = origin.ServedSince(logMark);
            var (verified, problems) = await FileDigest.VerifyAllAsync(outputs, context.Digest, cancel);
            return new SystemMeasurement
            {
                Name = "direct",
                ClockStart = "from just before every receiver's curl spawns (at once) to each curl's exit; nginx already running; curl's start-up included",
                CompletionSeconds = curls.Select(c => (c.ExitedAt!.Value - start).TotalSeconds).ToArray(),
                OriginEgressBytes = served.BodyBytes,
                OriginEgressMeasure = "nginx access log: body bytes sent",
                PublisherUploadBytes = originTx,
                PublisherUploadMeasure = "origin node link: tx bytes, headers included",
                CpuSeconds = cpu,
                PeakRssBytes = peakRss,
                Verified = verified,
                Notes =
                [
                    "nginx 1 worker, sendfile on; curl -o on every receiver at once; peak RSS sampled every 20 ms",
                    string.Create(CultureInfo.InvariantCulture, $"nginx served {served.Requests.Count} requests, {served.BodyBytes} body bytes; its link sent {originTx} bytes (headers included)"),
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
}
