using System.Globalization;
using System.Text.Json;
using Dragonfly.PubSub.Bench.Common.Processes;
using Dragonfly.PubSub.Bench.Processes;
using Dragonfly.PubSub.Contracts.Cli;

namespace Dragonfly.PubSub.Bench.Fleet;

/// <summary>
/// The temporary dfagent that publishes the test artifact into the fleet: its own data dir under the run's
/// work folder, no subscription, no mirror; enrolled with the join token in secure mode. Stopped (SIGTERM,
/// by PID) and its folder removed when the run ends.
/// </summary>
internal sealed class PublisherAgent : IAsyncDisposable
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private readonly ChildProcess _process;

    private PublisherAgent(ChildProcess process, string dataDir, int httpPort, string peerId)
    {
        _process = process;
        DataDir = dataDir;
        HttpPort = httpPort;
        PeerId = peerId;
    }

    public string DataDir { get; }

    public int HttpPort { get; }

    public string PeerId { get; }

    public static async Task<PublisherAgent> StartAsync(FleetOptions options, BrokerStatus status, string dataDir, string log, CancellationToken cancel)
    {
        var host = options.Broker.Host;
        List<string> args =
        [
            "--broker", $"{host}:{Port(status.GrpcPort)}", "--mqtt", $"{host}:{Port(status.MqttPort)}", "--broker-http", $"{host}:{Port(status.HttpPort)}",
            "--data-dir", dataDir, "--output-dir", Path.Combine(dataDir, "out"),
            "--listen", options.Listen, "--peer-port", "0", "--http-port", "0", "--proxy-port", "-1",
        ];
        if (!status.Tls)
        {
            args.Add("--insecure");
        }
        else if (options.JoinToken is { } token)
        {
            args.AddRange(["--join-token", token]);
        }
        Directory.CreateDirectory(dataDir);
        var process = ChildProcess.Start("dfagent (publisher)", Executables.Agent, args, log);
        try
        {
            var ready = Path.Combine(dataDir, "agent.json");
            var waited = System.Diagnostics.Stopwatch.StartNew();
            while (!File.Exists(ready))
            {
                if (process.HasExited)
                {
                    throw new UserFacingException($"the publishing dfagent exited: {process.LastLine()}" +
                        (status.Tls && options.JoinToken is null ? " (a secure fleet needs --join-token or DFAGENT_JOIN_TOKEN of role publisher)" : ""), ExitCodes.Failed);
                }
                if (waited.Elapsed > StartTimeout)
                {
                    throw new UserFacingException($"the publishing dfagent was not ready within {StartTimeout.TotalSeconds:0} s: {process.LastLine()}", ExitCodes.Failed);
                }
                await Task.Delay(50, cancel);
            }
            using var info = JsonDocument.Parse(await File.ReadAllTextAsync(ready, cancel));
            return new PublisherAgent(process, dataDir, info.RootElement.GetProperty("httpPort").GetInt32(), info.RootElement.GetProperty("peerId").GetString() ?? "");
        }
        catch
        {
            await process.DisposeAsync();
            throw;
        }
    }

    /// <summary><c>dfpub FILE --topic T --data-dir D --json</c>: the content id it announced.</summary>
    public async Task<string> PublishAsync(string file, string topic, CancellationToken cancel)
    {
        var result = await ProcessRunner.RunAsync(Executables.Publish, [file, "--topic", topic, "--data-dir", DataDir, "--json"], TimeSpan.FromMinutes(30), cancel);
        if (result.ExitCode != 0)
        {
            throw new UserFacingException($"dfpub failed: {result.LastLine}", ExitCodes.Failed);
        }
        var start = result.Stdout.IndexOf('{', StringComparison.Ordinal);
        if (start < 0)
        {
            throw new UserFacingException($"dfpub --json printed no JSON: {result.LastLine}", ExitCodes.Failed);
        }
        using var json = JsonDocument.Parse(result.Stdout[start..]);
        return json.RootElement.GetProperty("digest").GetString() ?? throw new UserFacingException("dfpub --json printed no digest", ExitCodes.Failed);
    }

    /// <summary>dragonfly_agent_upload_bytes_total of this agent: what it sent to the fleet.</summary>
    public async Task<double> UploadedBytesAsync(CancellationToken cancel)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var text = await http.GetStringAsync(new Uri($"http://127.0.0.1:{Port(HttpPort)}/metrics"), cancel);
        var line = text.Split('\n').FirstOrDefault(l => l.StartsWith("dragonfly_agent_upload_bytes_total ", StringComparison.Ordinal));
        return line is null ? 0 : double.Parse(line.Split(' ')[1], CultureInfo.InvariantCulture);
    }

    /// <summary>SIGTERM (SIGKILL after 10 s), by PID.</summary>
    public ValueTask DisposeAsync() => _process.DisposeAsync();

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);
}
