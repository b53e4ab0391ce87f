using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;

namespace Dragonfly.PubSub.IntegrationTests.Infrastructure;

/// <summary>A running <c>dfagent</c> on 127.0.0.1 with its local HTTP API.</summary>
public sealed class AgentProcess : IAsyncDisposable
{
    private readonly ProcessLauncher _launcher;

    public static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private AgentProcess(ProcessHandle process, AgentSpec spec, BrokerPorts broker, AgentInfo info, ProcessLauncher launcher)
    {
        Process = process;
        Spec = spec;
        Broker = broker;
        Info = info;
        _launcher = launcher;
        Http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{info.HttpPort}/"), Timeout = TimeSpan.FromSeconds(10) };
    }

    public ProcessHandle Process { get; }

    public AgentSpec Spec { get; }

    public BrokerPorts Broker { get; }

    public AgentInfo Info { get; }

    public HttpClient Http { get; }

    public string Name => Spec.Name;

    public string DataDir => Spec.DataDir;

    public string OutputDir => Spec.OutputDir;

    /// <summary>The registry mirror's port from <c>agent.json</c> (<c>proxyPort</c>); fails when the agent reports none.</summary>
    public int ProxyPort => Info.ProxyPort is > 0 and var port
        ? port
        : throw new Xunit.Sdk.XunitException($"{Name} reports no registry mirror port (proxyPort) in agent.json: {Info}");

    /// <summary>
    /// <c>dfagent --broker 127.0.0.1:&lt;grpc&gt; --mqtt 127.0.0.1:&lt;mqtt&gt; --data-dir D --output-dir O
    /// --listen 127.0.0.1 --peer-port 0 --http-port 0 --proxy-port 0 --subscribe F ... EXTRA</c>, then
    /// waits for an <c>agent.json</c> written by this process (a stale one is removed first).
    /// </summary>
    public static async Task<AgentProcess> StartAsync(ProcessLauncher launcher, BrokerPorts broker, AgentSpec spec)
    {
        Directory.CreateDirectory(spec.DataDir);
        Directory.CreateDirectory(spec.OutputDir);
        var readyFile = Path.Combine(spec.DataDir, "agent.json");
        File.Delete(readyFile);
        List<string> args =
        [
            "--data-dir", spec.DataDir, "--output-dir", spec.OutputDir,
            "--listen", "127.0.0.1", "--peer-port", "0", "--http-port", "0", "--proxy-port", "0",
        ];
        if (!spec.ExtraArgs.Contains("--broker"))
        {
            // Several brokers come as --broker A,B,C in the extra flags.
            args.InsertRange(0, ["--broker", broker.GrpcAddress]);
        }
        if (broker.Mqtt > 0)
        {
            // A broker with --mqtt-url opens no MQTT port: its Welcome names the MQTT broker instead.
            args.InsertRange(2, ["--mqtt", broker.MqttAddress]);
        }
        foreach (var filter in spec.Subscribe)
        {
            args.Add("--subscribe");
            args.Add(filter);
        }
        args.AddRange(spec.ExtraArgs);
        var process = launcher.Start(spec.Name, spec.Executable ?? Product.Agent, args);
        try
        {
            var info = await ReadyFile.WaitAsync<AgentInfo>(readyFile, process, StartTimeout, i => i.Pid);
            launcher.Log($"{process.Name} ready: peer-id={info.PeerId} peer-port={info.PeerPort} http-port={info.HttpPort} proxy-port={info.ProxyPort?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"}");
            return new AgentProcess(process, spec, broker, info, launcher);
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }
    }

    /// <summary>Where an artifact announced on <paramref name="topic"/> lands.</summary>
    public string OutputPathOf(string topic, string name) => Path.Combine(OutputDir, topic, name);

    public async Task<IReadOnlyList<AgentTask>> GetTasksAsync() =>
        await Http.GetFromJsonAsync<List<AgentTask>>("api/v1/tasks") ?? [];

    /// <summary>The task for <paramref name="digest"/> from <c>GET /api/v1/tasks/{digest}</c>, or null on 404.</summary>
    public async Task<AgentTask?> GetTaskAsync(string digest)
    {
        using var response = await Http.GetAsync($"api/v1/tasks/{digest}");
        if (response.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<AgentTask>();
    }

    public async Task<PrometheusMetrics> GetMetricsAsync() => PrometheusMetrics.Parse(await Http.GetStringAsync("metrics"));

    public async Task<HttpStatusCode> GetHealthAsync()
    {
        using var response = await Http.GetAsync("healthz");
        return response.StatusCode;
    }

    /// <summary>Fails at once when this agent died without the test stopping it.</summary>
    public void ThrowIfCrashed()
    {
        if (Process.HasExited && !Process.StoppedByTest)
        {
            throw new Xunit.Sdk.XunitException($"{Process.Name} exited unexpectedly with {Process.ExitCode}\n{Process.Tail(40)}");
        }
    }

    /// <summary>
    /// Waits until <paramref name="path"/> holds exactly <paramref name="expected"/>. Content seen at
    /// the path before that (a partial or a wrong file) is reported in <see cref="FileArrival.Anomalies"/>;
    /// a file that stays wrong ends in a timeout that shows what was there.
    /// </summary>
    public async Task<FileArrival> WaitForFileAsync(string path, TestFile expected, TimeSpan timeout)
    {
        var watch = Stopwatch.StartNew();
        var anomalies = new List<string>();
        var anomalyKinds = new HashSet<string>();
        void Note(string kind, string anomaly)
        {
            // One entry per kind is enough to diagnose; polling would repeat it every 100 ms.
            if (anomalyKinds.Add(kind))
            {
                anomalies.Add(anomaly);
            }
        }
        (long Length, DateTime Modified, string Hash)? lastHashed = null;
        string lastSeen = "no file";
        await Wait.UntilAsync(
            $"{Name} to write {path} (sha256 {expected.Sha256Hex[..12]}…)",
            timeout,
            async () =>
            {
                var file = new FileInfo(path);
                if (!file.Exists)
                {
                    lastSeen = "no file";
                    return false;
                }
                if (file.Length != expected.Size)
                {
                    lastSeen = $"{file.Length} of {expected.Size} bytes";
                    Note("partial", $"partial file of {file.Length} bytes at the final path after {watch.Elapsed.TotalSeconds:0.0} s");
                    return false;
                }
                var key = (file.Length, file.LastWriteTimeUtc);
                var hash = lastHashed is { } h && (h.Length, h.Modified) == key ? h.Hash : await TestFile.HashAsync(path);
                lastHashed = (key.Length, key.LastWriteTimeUtc, hash);
                if (hash == expected.Sha256Hex)
                {
                    return true;
                }
                lastSeen = $"full-size file with sha256 {hash}";
                Note("wrong " + hash, $"full-size file with the wrong sha256 {hash} at the final path after {watch.Elapsed.TotalSeconds:0.0} s");
                return false;
            },
            guard: () =>
            {
                ThrowIfCrashed();
                _launcher.ThrowIfAnyCrashed();
            },
            describe: () => lastSeen + "; tasks: " + DescribeTasks());
        var arrival = new FileArrival(path, watch.Elapsed, anomalies);
        _launcher.Log($"{Name} has {Path.GetFileName(path)} after {watch.Elapsed.TotalSeconds:0.0} s"
            + (anomalies.Count == 0 ? "" : $" (anomalies: {string.Join("; ", anomalies)})"));
        return arrival;
    }

    /// <summary>The task list as one line, for timeout messages; never throws.</summary>
    public string DescribeTasks()
    {
        try
        {
            var tasks = GetTasksAsync().WaitAsync(TimeSpan.FromSeconds(3)).GetAwaiter().GetResult();
            return tasks.Count == 0 ? "none" : string.Join(" | ", tasks);
        }
        catch (Exception e)
        {
            return $"unavailable ({e.GetType().Name}: {e.Message})";
        }
    }

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await Process.DisposeAsync();
    }
}
