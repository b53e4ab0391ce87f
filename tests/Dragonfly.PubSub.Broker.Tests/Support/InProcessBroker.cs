using System.Net;
using System.Text.Json;
using Dragonfly.PubSub.Broker.Configuration;
using Dragonfly.PubSub.Broker.Hosting;

namespace Dragonfly.PubSub.Broker.Tests.Support;

/// <summary>
/// A real dfbroker host in this process on loopback with free ports and a temp data dir, ready once
/// its broker.json exists; <see cref="Http"/> talks to its HTTP API. Disposing stops it and deletes the dir.
/// </summary>
public sealed class InProcessBroker : IAsyncDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private readonly string _dir;
    private readonly CancellationTokenSource _stop;
    private readonly Task<int> _run;

    private InProcessBroker(string dir, CancellationTokenSource stop, Task<int> run)
    {
        _dir = dir;
        _stop = stop;
        _run = run;
    }

    public HttpClient Http { get; } = new() { Timeout = Timeout };

    /// <summary>Starts a broker; <paramref name="seed"/> false runs it without its in-process seed peer.</summary>
    public static async Task<InProcessBroker> StartAsync(string name, bool seed)
    {
        var dir = Directory.CreateTempSubdirectory($"dfbroker-{name}-").FullName;
        var options = new BrokerOptions
        {
            DataDir = dir,
            Listen = IPAddress.Loopback,
            MqttPort = 0,
            GrpcPort = 0,
            HttpPort = 0,
            SeedPort = 0,
            Seed = seed,
        };
        var stop = new CancellationTokenSource();
        var broker = new InProcessBroker(dir, stop, Task.Run(() => BrokerHost.RunAsync(options, stop.Token)));
        try
        {
            var ready = Path.Combine(dir, BrokerHost.ReadyFileName);
            var deadline = DateTime.UtcNow + Timeout;
            while (!File.Exists(ready))
            {
                if (broker._run.IsCompleted || DateTime.UtcNow > deadline)
                {
                    throw new InvalidOperationException($"the broker did not start: {(broker._run.IsFaulted ? broker._run.Exception : "timeout")}");
                }
                await Task.Delay(20); // polls for a file; the interval does not matter
            }
            using var json = JsonDocument.Parse(await File.ReadAllTextAsync(ready));
            broker.Http.BaseAddress = new Uri($"http://127.0.0.1:{json.RootElement.GetProperty("httpPort").GetInt32()}/");
            return broker;
        }
        catch
        {
            await broker.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        try
        {
            await _run.WaitAsync(Timeout);
        }
        finally
        {
            Http.Dispose();
            _stop.Dispose();
            Directory.Delete(_dir, recursive: true);
        }
    }
}
