using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Dragonfly.PubSub.Bench.Common.Cli;
using Dragonfly.PubSub.Bench.Common.Processes;
using Dragonfly.PubSub.Bench.Common.Tls;
using Dragonfly.PubSub.Bench.Processes;

namespace Dragonfly.PubSub.Bench.Swarm;

/// <summary>
/// A broker and agents on loopback, each a real process on port 0 with its data dir under one
/// folder. With TLS on (the executables' default) the broker makes its fleet CA and every agent
/// enrols with a join token (<see cref="BenchFleet"/>); with TLS off every process gets --insecure.
/// Disposing stops the agents, then the broker (SIGTERM, then kill by PID).
/// </summary>
internal sealed class LocalSwarm : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly string _root;
    private readonly string? _logs;
    private readonly ChildProcess _broker;
    private readonly List<AgentHandle> _agents = [];
    private readonly HttpClient _http;
    private readonly BenchFleet? _fleet;

    private LocalSwarm(string root, string? logs, ChildProcess broker, BrokerReady ready, TlsSetting tls, BenchFleet? fleet)
    {
        _root = root;
        _logs = logs;
        _broker = broker;
        _fleet = fleet;
        Tls = tls;
        Broker = ready;
        _http = fleet?.CreateHttpClient(TimeSpan.FromSeconds(5)) ?? new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
    }

    public BrokerReady Broker { get; }

    public TlsSetting Tls { get; }

    /// <summary>
    /// Starts the broker (every process's output also goes to <c>&lt;logs&gt;/&lt;name&gt;.log</c> when <paramref name="logs"/>
    /// is given) and, with TLS on, takes a join token for its agents from it.
    /// </summary>
    public static async Task<LocalSwarm> StartAsync(string root, string? logs, TlsSetting tls, CancellationToken cancel)
    {
        var dataDir = Path.Combine(root, "broker");
        // --seed-port 0: several brokers (--tls both) and other benchmarks on the machine do not share a port.
        var broker = ChildProcess.Start("dfbroker", Executables.Broker,
            ["--data-dir", dataDir, "--listen", "127.0.0.1", "--grpc-port", "0", "--http-port", "0", "--seed-port", "0", .. TlsFlags.BrokerArguments(tls, 0)],
            LogPath(logs, "broker"));
        try
        {
            var ready = await WaitForReadinessFileAsync<BrokerReady>(broker, Path.Combine(dataDir, "broker.json"), cancel);
            if (ready.Tls != (tls == TlsSetting.On))
            {
                throw new InvalidOperationException($"dfbroker wrote tls={ready.Tls} to broker.json, but --tls {TlsFlags.Name(tls)} was asked for");
            }
            var fleet = tls == TlsSetting.On ? await BenchFleet.CreateAsync(dataDir, cancel) : null;
            var swarm = new LocalSwarm(root, logs, broker, ready, tls, fleet);
            // The broker's seed connects after broker.json is written; wait for it, so that every later
            // peer count is "our agents + OwnPeers" and not met early by a seed that was still connecting.
            if (!await swarm.WaitForPeersAsync(peers => peers >= ready.OwnPeers, StartTimeout, cancel))
            {
                throw new TimeoutException($"the broker's own seed did not connect within {StartTimeout.TotalSeconds:0} s (dragonfly_broker_peers < {ready.OwnPeers})");
            }
            return swarm;
        }
        catch
        {
            await broker.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts an agent on loopback ports chosen by the OS and waits until it is ready.</summary>
    public async Task<AgentHandle> StartAgentAsync(string name, IEnumerable<string> extraArguments, CancellationToken cancel)
    {
        var dataDir = Path.Combine(_root, name);
        string[] arguments =
        [
            "--broker", $"127.0.0.1:{Broker.GrpcPort}", "--mqtt", $"127.0.0.1:{Broker.AgentMqttPort}",
            "--data-dir", dataDir, "--listen", "127.0.0.1",
            "--peer-port", "0", "--proxy-port", "0", "--http-port", "0",
            .. _fleet?.AgentArguments($"127.0.0.1:{Broker.HttpPort}") ?? TlsFlags.Arguments(Tls),
            .. extraArguments,
        ];
        var process = ChildProcess.Start(name, Executables.Agent, arguments, LogPath(_logs, name));
        var agent = new AgentHandle(name, dataDir, process, new AgentReady(0, "", 0, 0, ""), TlsFlags.Arguments(Tls));
        _agents.Add(agent); // from here on, disposing the swarm stops it
        var ready = await WaitForReadinessFileAsync<AgentReady>(process, Path.Combine(dataDir, "agent.json"), cancel);
        _agents.Remove(agent);
        agent = agent with { Ready = ready };
        _agents.Add(agent);
        return agent;
    }

    /// <summary>Stops one agent and removes its data dir.</summary>
    public async Task RemoveAgentAsync(AgentHandle agent)
    {
        _agents.RemoveAll(a => a.Process == agent.Process);
        await agent.Process.DisposeAsync();
        Directory.Delete(agent.DataDir, recursive: true);
    }

    /// <summary>Waits until the broker's <c>dragonfly_broker_peers</c> gauge satisfies <paramref name="condition"/>.</summary>
    public async Task<bool> WaitForPeersAsync(Func<double, bool> condition, TimeSpan timeout, CancellationToken cancel)
    {
        var clock = Stopwatch.StartNew();
        while (true)
        {
            _broker.ThrowIfExited();
            if (condition(await BrokerMetricAsync("dragonfly_broker_peers", cancel)))
            {
                return true;
            }
            if (clock.Elapsed > timeout)
            {
                return false;
            }
            await Task.Delay(50, cancel);
        }
    }

    public async Task<double> BrokerMetricAsync(string metric, CancellationToken cancel) =>
        SumMetric(await _http.GetStringAsync($"{BrokerScheme}://127.0.0.1:{Broker.HttpPort}/metrics", cancel), metric);

    /// <summary>
    /// Whether these agents' traffic was TLS, as seen from outside the processes: the broker's
    /// <c>/healthz</c> says <c>"tls": true</c> (fetched over HTTPS trusting only the fleet CA) and every
    /// agent holds a certificate of that CA in <c>&lt;data-dir&gt;/tls</c>, i.e. it enrolled.
    /// </summary>
    public async Task<bool> RunsWithTlsAsync(IEnumerable<AgentHandle> agents, CancellationToken cancel)
    {
        using var health = JsonDocument.Parse(await _http.GetStringAsync($"{BrokerScheme}://127.0.0.1:{Broker.HttpPort}/healthz", cancel));
        var brokerTls = health.RootElement.TryGetProperty("tls", out var tls) && tls.ValueKind == JsonValueKind.True;
        return brokerTls && _fleet is not null && agents.All(a => _fleet.HasEnrolled(a.DataDir));
    }

    public async ValueTask DisposeAsync()
    {
        await Task.WhenAll(_agents.Select(a => a.Process.DisposeAsync().AsTask()));
        _agents.Clear();
        await _broker.DisposeAsync();
        _http.Dispose();
    }

    private string BrokerScheme => _fleet is null ? "http" : "https";

    /// <summary>One metric from Prometheus text, summed over its label sets; 0 before its first sample.</summary>
    private static double SumMetric(string text, string metric)
    {
        double sum = 0;
        foreach (var line in text.Split('\n'))
        {
            if (!line.StartsWith(metric, StringComparison.Ordinal) || line.Length == metric.Length
                || (line[metric.Length] != ' ' && line[metric.Length] != '{'))
            {
                continue;
            }
            var afterLabels = line[metric.Length] == '{' ? line.IndexOf('}', metric.Length) + 1 : metric.Length;
            var value = line[afterLabels..].Trim().Split(' ')[0];
            sum += double.Parse(value, NumberStyles.Float, CultureInfo.InvariantCulture);
        }
        return sum;
    }

    private static string? LogPath(string? logs, string name) => logs is null ? null : Path.Combine(logs, name + ".log");

    private static async Task<T> WaitForReadinessFileAsync<T>(ChildProcess process, string path, CancellationToken cancel)
    {
        var clock = Stopwatch.StartNew();
        while (!File.Exists(path))
        {
            process.ThrowIfExited();
            if (clock.Elapsed > StartTimeout)
            {
                throw new TimeoutException($"{process.Name} wrote no {Path.GetFileName(path)} within {StartTimeout.TotalSeconds:0} s: {process.LastLine()}");
            }
            await Task.Delay(20, cancel);
        }
        await using var stream = File.OpenRead(path);
        return await JsonSerializer.DeserializeAsync<T>(stream, Json, cancel)
            ?? throw new InvalidOperationException($"{path} is empty");
    }
}
