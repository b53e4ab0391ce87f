using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Dragonfly.PubSub.Bench.Common.Nginx;
using Dragonfly.PubSub.Bench.Common.Processes;
using Dragonfly.PubSub.Bench.Processes;

namespace Dragonfly.PubSub.Bench.Baselines;

/// <summary>
/// Our own nginx (not the system's service): a generated config in a temp prefix, one worker,
/// <c>sendfile on</c>, serving one folder on 127.0.0.1 at a free port. Disposing stops it by PID.
/// </summary>
internal sealed class NginxOrigin : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(15);
    private readonly ChildProcess _process;

    private NginxOrigin(ChildProcess process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }

    public string UrlOf(string fileName) => $"http://127.0.0.1:{Port}/{Uri.EscapeDataString(fileName)}";

    public static async Task<NginxOrigin> StartAsync(string prefix, string servedFolder, CancellationToken cancel)
    {
        var nginx = Executables.System("nginx", "nginx", "the baseline");
        Directory.CreateDirectory(prefix);
        var port = FreeLoopbackPort();
        var arguments = await NginxConfig.WriteAsync(prefix, Config(prefix, servedFolder, port), cancel);
        var process = ChildProcess.Start("nginx", nginx, arguments);
        var origin = new NginxOrigin(process, port);
        try
        {
            await origin.WaitUntilServingAsync(cancel);
            return origin;
        }
        catch
        {
            await origin.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync() => await _process.DisposeAsync();

    private static string Config(string prefix, string servedFolder, int port) =>
        NginxConfig.Render(prefix, servedFolder, listen: $"127.0.0.1:{port}", workerConnections: 64, singleProcess: false);

    private async Task WaitUntilServingAsync(CancellationToken cancel)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var clock = Stopwatch.StartNew();
        while (true)
        {
            _process.ThrowIfExited();
            try
            {
                // Any HTTP answer (404 for the root of a folder without index) means it is listening.
                using var response = await http.GetAsync($"http://127.0.0.1:{Port}/", cancel);
                return;
            }
            catch (HttpRequestException) when (clock.Elapsed < StartTimeout)
            {
                await Task.Delay(50, cancel);
            }
        }
    }

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
