using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
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
        var nginx = Executables.System("nginx", "nginx");
        Directory.CreateDirectory(prefix);
        var port = FreeLoopbackPort();
        var config = Path.Combine(prefix, "nginx.conf");
        await File.WriteAllTextAsync(config, Config(prefix, servedFolder, port), cancel);

        // -e: the error log before the config is read (else nginx opens its compiled-in path).
        var process = ChildProcess.Start("nginx", nginx, ["-c", config, "-p", prefix, "-e", Path.Combine(prefix, "error.log")]);
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

    private static string Config(string prefix, string servedFolder, int port) => string.Create(CultureInfo.InvariantCulture, $$"""
        daemon off;
        worker_processes 1;
        pid {{prefix}}/nginx.pid;
        error_log {{prefix}}/error.log warn;
        events { worker_connections 64; }
        http {
            access_log off;
            sendfile on;
            tcp_nopush on;
            default_type application/octet-stream;
            client_body_temp_path {{prefix}}/client_body;
            proxy_temp_path {{prefix}}/proxy;
            fastcgi_temp_path {{prefix}}/fastcgi;
            uwsgi_temp_path {{prefix}}/uwsgi;
            scgi_temp_path {{prefix}}/scgi;
            server {
                listen 127.0.0.1:{{port}};
                root {{servedFolder}};
            }
        }
        """);

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
