using System.Net;
using Dragonfly.PubSub.Contracts.Scheduler;
using Grpc.Net.Client;

namespace Dragonfly.PubSub.IntegrationTests.Infrastructure;

/// <summary>
/// A running <c>dfbroker</c> on 127.0.0.1: secure (its fleet CA, MQTT over TLS, HTTPS) unless
/// <see cref="TlsMode.Insecure"/>. In secure mode <see cref="BrokerPorts.Mqtt"/> is its MQTT-over-TLS
/// port, the one agents use.
/// </summary>
public sealed class BrokerProcess : IAsyncDisposable
{
    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private BrokerProcess(ProcessHandle process, string dataDir, BrokerPorts ports, BrokerInfo info, IReadOnlyList<string> extraArgs)
    {
        Process = process;
        DataDir = dataDir;
        Ports = ports;
        Info = info;
        ExtraArgs = extraArgs;
        Http = new HttpClient(TestTls.Handler(this), disposeHandler: true) { BaseAddress = HttpUrl, Timeout = TimeSpan.FromSeconds(10) };
    }

    public ProcessHandle Process { get; }

    public string DataDir { get; }

    public BrokerPorts Ports { get; }

    /// <summary>What the broker wrote to <c>broker.json</c> (its seed peer's port among it).</summary>
    public BrokerInfo Info { get; }

    /// <summary>The flags given beyond the data dir and ports (kept for a restart).</summary>
    public IReadOnlyList<string> ExtraArgs { get; }

    /// <summary>A client for the broker's HTTP API (base address <see cref="HttpUrl"/>; with the test's admin certificate in secure mode).</summary>
    public HttpClient Http { get; }

    /// <summary><c>https://127.0.0.1:&lt;http-port&gt;/</c> (<c>http://</c> with --insecure).</summary>
    public Uri HttpUrl => new($"{TlsMode.HttpScheme}://127.0.0.1:{Ports.Http}/");

    /// <summary>The test's credentials (secure mode; set by the cluster once the broker runs).</summary>
    public TestFleet? Fleet { get; internal set; }

    /// <summary>The fleet CA certificate the broker made in its data dir.</summary>
    public string CaFile => Path.Combine(DataDir, "tls", "ca.crt");

    /// <summary>
    /// Starts <c>dfbroker</c> on port 0 (or on <paramref name="ports"/>, for a restart) and waits for
    /// a <c>broker.json</c> written by this process. A stale <c>broker.json</c> is removed first.
    /// Its seed peer gets a free port (<c>--seed-port 0</c>) unless <paramref name="extraArgs"/> has <c>--no-seed</c>,
    /// and may fetch from the tests' loopback origins (<c>--allow-origin 127.0.0.1</c>) unless <paramref name="extraArgs"/>
    /// names its own <c>--allow-origin</c>. It listens on 127.0.0.1 unless <paramref name="extraArgs"/> names its own <c>--listen</c>.
    /// </summary>
    public static async Task<BrokerProcess> StartAsync(
        ProcessLauncher launcher, string dataDir, BrokerPorts? ports = null, string name = "broker", IReadOnlyList<string>? extraArgs = null)
    {
        ports ??= BrokerPorts.Any;
        extraArgs ??= [];
        Directory.CreateDirectory(dataDir);
        var readyFile = Path.Combine(dataDir, "broker.json");
        File.Delete(readyFile);
        List<string> args =
        [
            "--data-dir", dataDir,
            TlsMode.Insecure ? "--mqtt-port" : "--mqtts-port", Port(ports.Mqtt), "--grpc-port", Port(ports.Grpc), "--http-port", Port(ports.Http),
        ];
        if (TlsMode.Insecure)
        {
            args.Add("--insecure");
        }
        if (!extraArgs.Contains("--no-seed") && !extraArgs.Contains("--seed-port"))
        {
            // The default seed port (8003) may be taken on a test machine.
            args.AddRange(["--seed-port", "0"]);
        }
        if (!extraArgs.Contains("--listen"))
        {
            args.AddRange(["--listen", "127.0.0.1"]);
        }
        if (!extraArgs.Contains("--allow-origin"))
        {
            // nginx, pyftpdlib, s3rver and docker-registry listen on 127.0.0.1, which the broker refuses by default (SSRF guard).
            args.AddRange(["--allow-origin", "127.0.0.1"]);
        }
        args.AddRange(extraArgs);
        var process = launcher.Start(name, Product.Broker, args);
        try
        {
            var info = await ReadyFile.WaitAsync<BrokerInfo>(readyFile, process, StartTimeout, i => i.Pid);
            var bound = new BrokerPorts(TlsMode.Insecure ? info.MqttPort : info.MqttsPort, info.GrpcPort, info.HttpPort);
            if (ports != BrokerPorts.Any && bound != ports)
            {
                throw new Xunit.Sdk.XunitException($"broker was asked for ports {ports} but reports {bound}");
            }
            if (!process.StdoutHasLine(l => l.Contains($"dfbroker ready mqtt-port={info.MqttPort} grpc-port={bound.Grpc} http-port={bound.Http}", StringComparison.Ordinal)))
            {
                // The ready line is written before or with broker.json; give stdout a moment to arrive.
                await Wait.UntilAsync("the dfbroker ready line on stdout", TimeSpan.FromSeconds(5), () => Task.FromResult(
                    process.StdoutHasLine(l => l.Contains($"dfbroker ready mqtt-port={info.MqttPort} grpc-port={bound.Grpc} http-port={bound.Http}", StringComparison.Ordinal))));
            }
            launcher.Log($"{process.Name} ready: mqtt={bound.Mqtt} grpc={bound.Grpc} http={bound.Http} seed={info.SeedPort?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"}");
            return new BrokerProcess(process, dataDir, bound, info, extraArgs);
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }
    }

    /// <summary>A gRPC channel to the scheduler (HTTPS with the test's admin certificate in secure mode).</summary>
    public GrpcChannel CreateChannel() =>
        GrpcChannel.ForAddress($"{TlsMode.HttpScheme}://{Ports.GrpcAddress}", new GrpcChannelOptions
        {
            MaxReceiveMessageSize = 64 * 1024 * 1024,
            HttpHandler = TestTls.Handler(this),
            DisposeHttpClient = true,
        });

    /// <summary>The manifest the broker stores for <paramref name="digest"/> (gRPC <c>GetManifest</c>).</summary>
    public async Task<Manifest> GetManifestAsync(string digest)
    {
        using var channel = CreateChannel();
        var client = new Scheduler.SchedulerClient(channel);
        return await client.GetManifestAsync(new GetManifestRequest { Digest = digest }, deadline: DateTime.UtcNow.AddSeconds(15));
    }

    public async Task<PrometheusMetrics> GetMetricsAsync() => PrometheusMetrics.Parse(await Http.GetStringAsync("metrics"));

    public async Task<HttpStatusCode> GetHealthAsync()
    {
        using var response = await Http.GetAsync("healthz");
        return response.StatusCode;
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Process.DisposeAsync();
    }

    private static string Port(int port) => port.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
