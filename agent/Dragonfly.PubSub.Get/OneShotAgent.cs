using Dragonfly.PubSub.Agent.Configuration;
using Dragonfly.PubSub.Agent.Hosting;
using Dragonfly.PubSub.Contracts.Cli;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Console;

namespace Dragonfly.PubSub.Get;

/// <summary>
/// The agent dfget runs in-process when no daemon answers at --data-dir: a temporary data dir, a
/// free peer port (it serves pieces while it runs), no HTTP port, no subscriptions. Disposing it
/// leaves the swarm (the scheduler stream closes) and removes the data dir.
/// </summary>
internal sealed class OneShotAgent : IAsyncDisposable
{
    private const int MaxSocketPath = 100;

    private readonly RunningAgent _agent;
    private readonly ILoggerFactory? _logging;

    private OneShotAgent(RunningAgent agent, ILoggerFactory? logging)
    {
        _agent = agent;
        _logging = logging;
    }

    /// <summary>The data dir whose socket the SDK talks to.</summary>
    public string DataDir => _agent.DataDir;

    /// <summary>The broker to use: --broker, else DFGET_BROKER, else DRAGONFLY_BROKER; null when none is given.</summary>
    public static string? BrokerFrom(string? flag)
    {
        foreach (var value in (string?[])[flag, Environment.GetEnvironmentVariable("DFGET_BROKER"), Environment.GetEnvironmentVariable("DRAGONFLY_BROKER")])
        {
            if (!string.IsNullOrWhiteSpace(value))
            {
                return value.Trim();
            }
        }
        return null;
    }

    /// <exception cref="UserFacingException">A bad broker address (exit 2) or the agent cannot start (exit 1).</exception>
    public static async Task<OneShotAgent> StartAsync(string broker, OneShotTls tls, bool verbose, CancellationToken cancellationToken)
    {
        var name = $"dfget-{Guid.NewGuid().ToString("N")[..10]}";
        var dataDir = Path.Combine(Path.GetTempPath(), name);
        if (Path.Combine(dataDir, "dfagent.sock").Length > MaxSocketPath)
        {
            // A unix socket path is limited to ~107 bytes: a deep TMPDIR cannot hold the agent's socket.
            dataDir = Path.Combine("/tmp", name);
        }
        var options = new AgentOptions { DataDir = dataDir, Broker = broker, Tls = tls.Settings };
        if (tls.BrokerHttp is { } http)
        {
            var (host, port) = HostPort.Parse(http, 8080, "--broker-http");
            options = options with { BrokerHttpHost = host, BrokerHttpPort = port };
        }
        // Logs only with --verbose, and then on stderr: stdout carries the result.
        var logging = verbose
            ? LoggerFactory.Create(b =>
            {
                b.AddSimpleConsole(o =>
                {
                    o.SingleLine = true;
                    o.TimestampFormat = "HH:mm:ss.fff ";
                });
                b.Services.Configure<ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
                b.SetMinimumLevel(LogLevel.Debug);
            })
            : null;
        try
        {
            var agent = await AgentHost.StartAsync(options with
            {
                PeerPort = 0,
                HttpPort = -1,
                ProxyPort = -1, // no registry mirror in a one-shot download
                Hosting = new AgentHosting { Logging = logging, Verbose = verbose },
            }, cancellationToken).ConfigureAwait(false);
            return new OneShotAgent(agent, logging);
        }
        catch
        {
            logging?.Dispose();
            DeleteDir(dataDir);
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _agent.StopAsync().ConfigureAwait(false);
        }
        finally
        {
            _logging?.Dispose();
            DeleteDir(_agent.DataDir);
        }
    }

    private static void DeleteDir(string dir)
    {
        try
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort: a temp dir left behind is harmless.
        }
    }
}
