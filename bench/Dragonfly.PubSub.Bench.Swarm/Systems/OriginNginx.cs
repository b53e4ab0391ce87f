using Dragonfly.PubSub.Bench.Common.Nginx;
using Dragonfly.PubSub.Bench.Common.Processes;
using Dragonfly.PubSub.Bench.Swarm.Processes;

namespace Dragonfly.PubSub.Bench.Swarm.Systems;

/// <summary>
/// nginx (<c>sendfile on</c>, one process, port 80) serving the source file on the origin node, with an
/// access log of body bytes per request: the origin of the direct baseline and of URL tasks.
/// Disposing stops it by PID.
/// </summary>
internal sealed class OriginNginx : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(20);
    private readonly string _accessLog;

    private OriginNginx(NodeProcess process, string url, string accessLog)
    {
        Process = process;
        Url = url;
        _accessLog = accessLog;
    }

    public NodeProcess Process { get; }

    /// <summary>The file's URL as every node dials it: the origin node's testbed address.</summary>
    public string Url { get; }

    public static async Task<OriginNginx> StartAsync(SwarmContext context, string prefix, CancellationToken cancel)
    {
        var nginxPath = Executables.System("nginx", "nginx", "dfbench swarm");
        var curl = Executables.System("curl", "curl", "dfbench swarm");
        var accessLog = Path.Combine(prefix, "access.log");
        var arguments = await NginxConfig.WriteAsync(prefix, Config(prefix, Path.GetDirectoryName(context.SourceFile)!, accessLog), cancel);
        var process = NodeProcess.Start("nginx", context.Testbed.Plan.NodeNamespace(SwarmContext.OriginNode), nginxPath,
            arguments, Path.Combine(prefix, "nginx.log"), context.Clock);
        var origin = new OriginNginx(process, $"http://{context.OriginAddress}/{Uri.EscapeDataString(context.FileName)}", accessLog);
        try
        {
            await origin.WaitServingAsync(context, curl, cancel);
            return origin;
        }
        catch
        {
            await origin.DisposeAsync();
            throw;
        }
    }

    /// <summary>One process (no master), so its PID is the one serving and its CPU is all of nginx's.</summary>
    internal static string Config(string prefix, string servedFolder, string? accessLog = null) =>
        NginxConfig.Render(prefix, servedFolder, listen: "0.0.0.0:80", workerConnections: 1024, singleProcess: true, accessLog: accessLog);

    /// <summary>Where the access log stands now; <see cref="ServedSince"/> counts what comes after.</summary>
    public long Mark() => AccessLog.Mark(_accessLog);

    public AccessLogTotals ServedSince(long mark) => AccessLog.ReadSince(_accessLog, mark);

    public ValueTask DisposeAsync() => Process.DisposeAsync();

    private async Task WaitServingAsync(SwarmContext context, string curl, CancellationToken cancel)
    {
        var deadline = context.Clock.Elapsed + StartTimeout;
        while (true)
        {
            Process.ThrowIfExited();
            var probe = await context.Testbed.ExecAsync(SwarmContext.OriginNode, [curl, "-s", "-f", "-o", "/dev/null", "-r", "0-0", Url], TimeSpan.FromSeconds(5), cancel);
            if (probe.ExitCode == 0)
            {
                return;
            }
            if (context.Clock.Elapsed > deadline)
            {
                throw new TimeoutException($"nginx did not serve {Url} within {StartTimeout.TotalSeconds:0} s: {Process.LastLine()}");
            }
            await Task.Delay(100, cancel);
        }
    }
}
