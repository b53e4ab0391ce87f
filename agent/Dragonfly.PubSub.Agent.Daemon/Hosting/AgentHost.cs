using System.Net;
using System.Net.Sockets;
using Dragonfly.PubSub.Agent.Announcements;
using Dragonfly.PubSub.Agent.Api;
using Dragonfly.PubSub.Agent.Cache;
using Dragonfly.PubSub.Agent.Configuration;
using Dragonfly.PubSub.Agent.Mirror;
using Dragonfly.PubSub.Agent.Swarm;
using Dragonfly.PubSub.Agent.Tasks;
using Dragonfly.PubSub.Contracts.Cli;
using Dragonfly.PubSub.Origins;
using Dragonfly.PubSub.Origins.S3;
using Dragonfly.PubSub.Registry.Client;
using Dragonfly.PubSub.Registry.Mirror;
using Dragonfly.PubSub.Transfer.Metrics;
using Dragonfly.PubSub.Transfer;
using Dragonfly.PubSub.Transfer.Pieces;
using Dragonfly.PubSub.Transfer.Storage;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace Dragonfly.PubSub.Agent.Hosting;

/// <summary>
/// Wires the agent's components into one host. <see cref="StartAsync"/> runs an agent inside any
/// process (dfbroker's seed, dfget's one-shot agent); <see cref="RunAsync"/> is the dfagent daemon
/// on top of it, until SIGTERM/Ctrl-C.
/// </summary>
public static class AgentHost
{
    /// <summary>The daemon: console logging, ready line, and runs until SIGTERM/Ctrl-C or <paramref name="cancellationToken"/>.</summary>
    public static async Task<int> RunAsync(AgentOptions options, bool verbose, CancellationToken cancellationToken)
    {
        var agent = await StartAsync(options with { Hosting = AgentHosting.Daemon(verbose) }, cancellationToken).ConfigureAwait(false);
        await using (agent.ConfigureAwait(false))
        {
            await agent.WaitForShutdownAsync(cancellationToken).ConfigureAwait(false);
            await agent.StopAsync().ConfigureAwait(false);
        }
        return ExitCodes.Success;
    }

    /// <summary>
    /// Starts an agent: opens its data dir, binds the peer port, the unix socket and (unless
    /// <see cref="AgentOptions.HttpPort"/> is negative) the HTTP port, and connects to the broker in
    /// the background. Returns once the servers are bound; stop it with <see cref="RunningAgent.StopAsync"/>.
    /// </summary>
    /// <exception cref="UserFacingException">Bad options, a data dir in use, or ports that cannot be bound.</exception>
    public static async Task<RunningAgent> StartAsync(AgentOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.BrokerHost.Length == 0)
        {
            throw UserFacingException.Usage("no broker given; pass --broker HOST[:PORT]");
        }
        AgentMetrics.ExportAll();
        AnnouncementMetrics.ExportAll();
        SchedulerMetrics.ExportAll();
        if (options.RegistryMirror is { } upstream)
        {
            try
            {
                RegistryEndpoint.FromUrl(upstream);
            }
            catch (ArgumentException e)
            {
                throw UserFacingException.Usage($"--registry-mirror: {e.Message}");
            }
        }
        CheckApiAddress(options);
        var socketGroup = LocalAccess.ResolveGroup(options.SocketGroup);
        var hosting = options.Hosting;
        var store = AgentStore.Open(options.DataDir);
        OriginRegistry? registry = null;
        WebApplication? app = null;
        RunningAgent? agent = null;
        var revoked = new RevokedPeers();
        try
        {
            LocalAccess.SecureDataDir(options.DataDir, socketGroup);
            AgentIdentity? identity;
            using (var startLogging = StartLogging(hosting))
            {
                var startLogger = startLogging.CreateLogger("Dragonfly.PubSub.Agent");
                identity = await IdentityLoader.LoadAsync(options, revoked, startLogger, cancellationToken).ConfigureAwait(false);
                if (identity is null)
                {
                    AgentLog.Insecure(startLogger);
                    if (options.Subscriptions.Count > 0)
                    {
                        AgentLog.AnnouncementsUnverified(startLogger);
                    }
                }
            }
            await BrokerProbe.CheckAsync(options, identity, cancellationToken).ConfigureAwait(false);
            registry = OriginRegistry.CreateDefault(new OriginRegistryOptions { S3 = S3Options(options.Origins), Egress = options.Origins.Egress });
            // In secure mode the broker-assigned peer id (the certificate's CN) is this agent's id everywhere.
            var runtime = new AgentRuntime(identity?.PeerId ?? store.PeerId, identity);
            var peerTls = identity?.PeerTls();
            var transfer = new TransferOptions
            {
                DataDir = options.DataDir,
                PiecesInFlight = options.PiecesInFlight,
                UploadSlots = options.UploadSlots,
                DownloadLimit = options.DownloadLimit,
                UploadLimit = options.UploadLimit,
                MaxPeerConnections = options.MaxPeerConnections,
                MaxPeerConnectionsPerAddress = options.MaxPeerConnectionsPerAddress,
                PeerSendTimeout = options.PeerSendTimeout,
                FollowParentMaps = options.ParentPieceMaps,
            };

            var builder = EmbeddedWebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            AddLogging(builder.Logging, hosting);
            builder.Logging.AddFilter("Microsoft", hosting.Verbose ? LogLevel.Information : LogLevel.Warning);
            builder.Logging.AddFilter("System.Net.Http", LogLevel.Warning);
            builder.Logging.AddFilter("Grpc", LogLevel.Warning);
            if (!hosting.HandleShutdownSignals)
            {
                // A guest in another program: its Ctrl-C and console belong to that program.
                builder.Services.AddSingleton<IHostLifetime, GuestLifetime>();
            }

            // The data dir is ours (the store is open): a socket file left by a crashed agent is stale.
            if (File.Exists(options.SocketPath))
            {
                File.Delete(options.SocketPath);
            }
            builder.WebHost.ConfigureKestrel(kestrel =>
            {
                if (options.HttpPort >= 0)
                {
                    var apiAddress = ParseAddress(options.ApiListenAddress, "--api-listen");
                    kestrel.Listen(apiAddress, options.HttpPort, listen =>
                    {
                        if (!IPAddress.IsLoopback(apiAddress) && identity is not null)
                        {
                            // Off this machine the API speaks HTTPS with the agent's (current) certificate.
                            listen.UseHttps(https => https.ServerCertificateSelector = (_, _) => identity.Current.Certificate);
                        }
                    });
                }
                kestrel.ListenUnixSocket(options.SocketPath);
            });

            var services = builder.Services;
            services.AddSingleton(options);
            services.AddSingleton(transfer);
            services.AddSingleton(runtime);
            services.AddSingleton(store);
            services.AddSingleton(TimeProvider.System);
            services.AddSingleton(new ContentStore(options.DataDir));
            services.AddSingleton(sp => new OriginClient(registry, TimeProvider.System, sp.GetRequiredService<ILogger<OriginClient>>()));
            services.AddSingleton<LocalPieces>();
            services.AddSingleton(revoked);
            services.AddSingleton(sp => new PieceServer(sp.GetRequiredService<LocalPieces>(), transfer, peerTls, sp.GetRequiredService<ILogger<PieceServer>>()));
            services.AddSingleton(sp => new PieceFetcher(transfer, peerTls, sp.GetRequiredService<ILogger<PieceFetcher>>()));
            if (identity is not null)
            {
                services.AddSingleton(identity);
                services.AddHostedService<CertificateRenewer>();
            }
            services.AddSingleton<SchedulerSession>();
            services.AddSingleton<TaskManager>();
            // The task manager loads the tasks before the scheduler session starts, so the first Hello
            // already re-joins every task this agent holds.
            services.AddHostedService(sp => sp.GetRequiredService<TaskManager>());
            services.AddHostedService(sp => sp.GetRequiredService<SchedulerSession>());
            services.AddSingleton<CacheCollector>();
            services.AddHostedService(sp => sp.GetRequiredService<CacheCollector>());
            services.AddSingleton(_ => new AnnouncementSequences(options.DataDir));
            services.AddSingleton<AnnouncementIntake>();
            services.AddSingleton<AnnouncementSubscriber>();
            services.AddHostedService(sp => sp.GetRequiredService<AnnouncementSubscriber>());
            services.AddSingleton(sp => new RegistryClient(new RegistryClientOptions(), handler: null, TimeProvider.System, sp.GetRequiredService<ILogger<RegistryClient>>()));
            services.AddSingleton<SwarmBlobSource>();
            services.AddSingleton(sp => new RegistryMirror(new RegistryMirrorOptions { Upstream = options.RegistryMirror, AllowedRegistries = options.AllowedRegistries },
                sp.GetRequiredService<RegistryClient>(), sp.GetRequiredService<SwarmBlobSource>(), TimeProvider.System, sp.GetRequiredService<ILogger<RegistryMirror>>()));

            app = builder.Build();
            app.MapLocalApi();

            var pieceServer = app.Services.GetRequiredService<PieceServer>();
            try
            {
                runtime.PeerPort = await pieceServer.StartAsync(ParseAddress(options.ListenAddress), options.PeerPort, cancellationToken).ConfigureAwait(false);
                await app.StartAsync(cancellationToken).ConfigureAwait(false);
                LocalAccess.SecureSocket(options.SocketPath, socketGroup);
            }
            catch (Exception e) when (e is SocketException or IOException && e is not FileNotFoundException)
            {
                var http = options.HttpPort >= 0 ? $", http port {options.HttpPort}" : "";
                throw new UserFacingException($"cannot listen on {options.ListenAddress} (peer port {options.PeerPort}{http}): {e.Message}; pick free ports with --peer-port/--http-port (0 picks one)");
            }

            runtime.HttpPort = options.HttpPort >= 0 ? BoundTcpPort(app) : -1;
            agent = new RunningAgent(app, pieceServer, store, registry, options, runtime);
            var loggers = agent.Services.GetRequiredService<ILoggerFactory>();
            if (options.ProxyPort >= 0)
            {
                try
                {
                    agent.Mirror = await MirrorServer.StartAsync(ParseAddress(options.ApiListenAddress, "--api-listen"), options.ProxyPort,
                        app.Services.GetRequiredService<RegistryMirror>(), loggers, cancellationToken).ConfigureAwait(false);
                }
                catch (Exception e) when (e is SocketException or IOException && e is not FileNotFoundException)
                {
                    throw new UserFacingException($"cannot listen on {options.ListenAddress} (proxy port {options.ProxyPort}) for the registry mirror: {e.Message.TrimEnd('.')}; pick a free port with --proxy-port (0 picks one, -1 turns the mirror off)");
                }
                runtime.ProxyPort = agent.Mirror.Port;
            }
            await agent.WriteReadyFileAsync().ConfigureAwait(false);
            if (hosting.PrintReadyLine)
            {
                Console.Out.WriteLine($"dfagent ready peer-id={runtime.PeerId} peer-port={runtime.PeerPort} http-port={runtime.HttpPort} proxy-port={runtime.ProxyPort} tls={(runtime.Tls ? "on" : "off")}");
            }
            var logger = loggers.CreateLogger("Dragonfly.PubSub.Agent");
            AgentLog.Started(logger, runtime.PeerId, runtime.PeerPort, runtime.HttpPort, options.DataDir, options.Seed ? " as a seed" : "");
            if (agent.Mirror is not null)
            {
                AgentLog.MirrorStarted(logger, runtime.ProxyPort, options.RegistryMirror?.ToString() ?? "none; containerd's ?ns= names the registry");
            }
            return agent;
        }
        catch
        {
            if (agent is not null)
            {
                await agent.StopAsync().ConfigureAwait(false);
            }
            else
            {
                if (app is not null)
                {
                    await app.DisposeAsync().ConfigureAwait(false);
                }
                registry?.Dispose();
                store.Dispose();
            }
            throw;
        }
    }

    /// <summary>The agent's log providers: the console (daemon) and/or the hosting program's factory.</summary>
    private static void AddLogging(ILoggingBuilder logging, AgentHosting hosting)
    {
        if (hosting.ConsoleLogging)
        {
            logging.AddSimpleConsole(o =>
            {
                o.SingleLine = true;
                o.TimestampFormat = "HH:mm:ss.fff ";
            });
        }
        if (hosting.Logging is { } hostLogging)
        {
            logging.AddProvider(new ForwardingLoggerProvider(hostLogging));
        }
        logging.SetMinimumLevel(hosting.Verbose ? LogLevel.Debug : LogLevel.Information);
    }

    /// <summary>Logging for what happens before the host is built (enrolment).</summary>
    private static ILoggerFactory StartLogging(AgentHosting hosting) => LoggerFactory.Create(b => AddLogging(b, hosting));

    public static IPAddress ParseAddress(string address, string flag = "--listen") =>
        address is "*" or "" ? IPAddress.Any
        : IPAddress.TryParse(address.Trim('[', ']'), out var ip) ? ip
        : throw UserFacingException.Usage($"{flag} '{address}' is not an IP address; use e.g. 0.0.0.0 or 127.0.0.1");

    /// <summary>The local API and the mirror serve this machine: off loopback only with TLS, and never the (plain HTTP) mirror.</summary>
    /// <exception cref="UserFacingException">Usage (exit 2).</exception>
    public static void CheckApiAddress(AgentOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (IPAddress.IsLoopback(ParseAddress(options.ApiListenAddress, "--api-listen")))
        {
            return;
        }
        if (options.Tls.Insecure && options.HttpPort >= 0)
        {
            throw UserFacingException.Usage($"--api-listen {options.ApiListenAddress} exposes the local HTTP API off this machine, which needs TLS; keep it on 127.0.0.1 with --insecure, or drop --insecure");
        }
        if (options.ProxyPort >= 0)
        {
            throw UserFacingException.Usage($"--api-listen {options.ApiListenAddress}: the registry mirror serves plain HTTP to this machine's docker/containerd and stays on loopback; keep --api-listen on 127.0.0.1 or turn the mirror off with --proxy-port -1");
        }
    }

    /// <summary>The AWS_* environment, overridden by what the agent's config or flags say.</summary>
    private static S3OriginOptions S3Options(OriginSettings settings)
    {
        S3OriginOptions s3;
        try
        {
            s3 = S3OriginOptions.FromEnvironment();
        }
        catch (FormatException e)
        {
            throw UserFacingException.Usage(e.Message);
        }
        if (settings.S3Endpoint is { } endpoint)
        {
            s3 = s3 with { Endpoint = endpoint, ForcePathStyle = Environment.GetEnvironmentVariable("DRAGONFLY_S3_PATH_STYLE") is not { Length: > 0 } || s3.ForcePathStyle };
        }
        return s3 with
        {
            Region = settings.S3Region ?? s3.Region,
            AccessKeyId = settings.S3AccessKey ?? s3.AccessKeyId,
            SecretAccessKey = settings.S3SecretKey ?? s3.SecretAccessKey,
            SessionToken = settings.S3AccessKey is null ? s3.SessionToken : null,
        };
    }

    private static int BoundTcpPort(WebApplication app)
    {
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        foreach (var address in addresses)
        {
            if ((address.StartsWith("http://", StringComparison.Ordinal) || address.StartsWith("https://", StringComparison.Ordinal)) && !address.Contains("unix:", StringComparison.Ordinal)
                && Uri.TryCreate(address.Replace("*", "localhost", StringComparison.Ordinal), UriKind.Absolute, out var uri))
            {
                return uri.Port;
            }
        }
        throw new InvalidOperationException("Kestrel reported no TCP address");
    }
}
