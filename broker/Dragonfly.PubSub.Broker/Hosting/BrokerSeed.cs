using System.Net;
using Dragonfly.PubSub.Agent.Configuration;
using Dragonfly.PubSub.Agent.Hosting;
using Dragonfly.PubSub.Broker.Configuration;
using Dragonfly.PubSub.Broker.Diagnostics;
using Dragonfly.PubSub.Broker.Grpc;
using Dragonfly.PubSub.Contracts.Cli;
using Dragonfly.PubSub.Security;
using Microsoft.Extensions.Logging;

namespace Dragonfly.PubSub.Broker.Hosting;

/// <summary>
/// The broker's in-process seed peer: an agent in seed mode (data in &lt;data-dir&gt;/seed, no HTTP port,
/// no subscriptions) that connects to this broker's scheduler and is the preferred source of URL tasks.
/// </summary>
public sealed class BrokerSeed : IAsyncDisposable
{
    private readonly Lock _lock = new();
    private readonly ILogger _logger;
    private RunningAgent? _agent;
    private Task? _stopping;

    private BrokerSeed(RunningAgent agent, ILogger logger)
    {
        _agent = agent;
        _logger = logger;
    }

    public string PeerId => _agent?.PeerId ?? "";

    /// <summary>The bound peer port.</summary>
    public int PeerPort => _agent?.PeerPort ?? 0;

    /// <summary>
    /// Starts the seed; it connects to <paramref name="scheduler"/> in the background. Its <c>Connect</c> stream
    /// stays in this process (<see cref="OwnSeedCallInvoker"/>); its other calls go to <paramref name="grpcPort"/>.
    /// </summary>
    /// <exception cref="UserFacingException">The seed could not start (data dir in use, peer port taken).</exception>
    public static async Task<BrokerSeed> StartAsync(
        BrokerOptions options, int grpcPort, Func<TlsIdentity>? identity, SchedulerService scheduler, ILoggerFactory logging, CancellationToken cancellationToken)
    {
        var agentOptions = AgentOptionsFor(options, grpcPort, logging, identity);
        // Only here, not in AgentOptionsFor: the bridge's members start from those options and must stay on the network.
        var seedHost = SchedulerService.AddressText(SchedulerAddress(options.Listen))!;
        agentOptions = agentOptions with
        {
            Hosting = agentOptions.Hosting with { SchedulerInvoker = network => new OwnSeedCallInvoker(network, scheduler, seedHost) },
        };
        RunningAgent agent;
        try
        {
            Directory.CreateDirectory(agentOptions.DataDir);
            agent = await AgentHost.StartAsync(agentOptions, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is UserFacingException or IOException or UnauthorizedAccessException)
        {
            throw new UserFacingException(
                $"the seed peer did not start: {e.Message.TrimEnd('.')} (dfbroker: choose its port with --seed-port, 0 picks a free one, or run with --no-seed)",
                ExitCodes.Failed, e);
        }
        var logger = logging.CreateLogger<BrokerSeed>();
        BrokerLog.SeedStarted(logger, agent.PeerId, agent.PeerPort, agentOptions.DataDir);
        return new BrokerSeed(agent, logger);
    }

    /// <summary>
    /// What the seed is told: seed mode, this broker's scheduler, the broker's origin settings, and its
    /// identity from the broker's CA (<paramref name="identity"/>; null: plain text, as the broker with --insecure).
    /// </summary>
    public static AgentOptions AgentOptionsFor(BrokerOptions options, int grpcPort, ILoggerFactory? logging, Func<TlsIdentity>? identity = null) => new()
    {
        Seed = true,
        Broker = $"{SchedulerHost(options.Listen)}:{grpcPort}",
        DataDir = options.SeedDataDir,
        PeerPort = options.SeedPort,
        UploadLimit = options.SeedUploadLimit,
        HttpPort = -1,
        ListenAddress = options.Listen.ToString(),
        Origins = new OriginSettings
        {
            S3Endpoint = options.S3.Endpoint,
            S3Region = options.S3.Region,
            S3AccessKey = options.S3.AccessKeyId,
            S3SecretKey = options.S3.SecretAccessKey,
            Egress = options.Egress,
        },
        Hosting = new AgentHosting { Logging = logging, Verbose = options.Verbose },
        Tls = identity is null
            ? new AgentTlsSettings { Insecure = true }
            : new AgentTlsSettings { Identity = identity, Ciphers = options.Tls.Ciphers },
    };

    /// <summary>Starts stopping (the broker is stopping); <see cref="DisposeAsync"/> waits for it.</summary>
    public void BeginStop()
    {
        lock (_lock)
        {
            _stopping ??= _agent?.StopAsync() ?? Task.CompletedTask;
        }
    }

    public async ValueTask DisposeAsync()
    {
        BeginStop();
        try
        {
            await _stopping!.WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        }
        catch (Exception e)
        {
            // The broker is stopping anyway: a seed that does not stop cleanly must not turn that into a failure.
            BrokerLog.SeedStopFailed(_logger, $"{e.GetType().Name}: {e.Message}");
        }
        _agent = null;
    }

    /// <summary>The scheduler as the seed dials it: loopback when the broker listens on every address.</summary>
    private static string SchedulerHost(IPAddress listen)
    {
        var address = SchedulerAddress(listen);
        return address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{address}]" : address.ToString();
    }

    /// <summary>
    /// The scheduler's address as the seed dials it, and so the address its session comes from (the seed's host
    /// when its Hello names none, as with a wildcard listen address: agents elsewhere then get the broker's address).
    /// </summary>
    private static IPAddress SchedulerAddress(IPAddress listen) =>
        listen.Equals(IPAddress.Any) || listen.Equals(IPAddress.IPv6Any) ? IPAddress.Loopback : listen;
}
