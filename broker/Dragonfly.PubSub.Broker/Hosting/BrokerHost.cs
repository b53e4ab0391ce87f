using System.Net;
using System.Text.Json;
using Dragonfly.PubSub.Agent.Hosting;
using Dragonfly.PubSub.Broker.Announcing;
using Dragonfly.PubSub.Broker.Bridge;
using Dragonfly.PubSub.Broker.Catalogue;
using Dragonfly.PubSub.Broker.Configuration;
using Dragonfly.PubSub.Broker.Dashboard;
using Dragonfly.PubSub.Broker.Diagnostics;
using Dragonfly.PubSub.Broker.Fleet;
using Dragonfly.PubSub.Broker.Grpc;
using Dragonfly.PubSub.Broker.Http;
using Dragonfly.PubSub.Broker.Preheat;
using Dragonfly.PubSub.Broker.Scheduling;
using Dragonfly.PubSub.Broker.Security;
using Dragonfly.PubSub.Broker.State;
using Dragonfly.PubSub.Broker.Swarm;
using Dragonfly.PubSub.Broker.UrlTasks;
using Dragonfly.PubSub.Contracts.Cli;
using Dragonfly.PubSub.Origins;
using Dragonfly.PubSub.Registry.Client;
using Dragonfly.PubSub.Security;
using LiteDB;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using MQTTnet.AspNetCore;
using MQTTnet.Server;

namespace Dragonfly.PubSub.Broker.Hosting;

/// <summary>One Kestrel host: MQTT (TCP), gRPC (h2c) and HTTP/1.1 listeners, plus the coordinator.</summary>
public static class BrokerHost
{
    public const string ReadyFileName = "broker.json";

    private static readonly TimeSpan ReplayTimeout = TimeSpan.FromSeconds(15);

    private static readonly TimeSpan StateConnectTimeout = TimeSpan.FromSeconds(5);

    /// <summary>How long URL tasks wait for the broker's own seed to connect at start before an agent may fetch them.</summary>
    private static readonly TimeSpan OwnSeedWait = TimeSpan.FromSeconds(10);

    public static async Task<int> RunAsync(BrokerOptions options, CancellationToken cancellationToken)
    {
        if (DuplicatePort(options) is { } duplicate)
        {
            throw UserFacingException.Usage(duplicate);
        }
        OptionCombinations.Check(options);

        using var redis = ConnectState(options);
        ManifestCatalogue catalogue;
        try
        {
            Directory.CreateDirectory(options.DataDir);
            File.Delete(Path.Combine(options.DataDir, ReadyFileName));
            catalogue = redis is null
                ? new ManifestCatalogue(options.DataDir)
                : new ManifestCatalogue(options.DataDir, _ => new RedisCatalogueStore(redis));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or LiteException)
        {
            throw new UserFacingException(
                $"cannot use data directory '{options.DataDir}': {e.Message.TrimEnd('.')}; choose a writable directory with --data-dir", ExitCodes.Failed, e);
        }

        using var _ = catalogue;
        var securityStore = new SecurityStore(catalogue.Database);
        var revocations = new RevocationList(securityStore, TimeProvider.System);
        using var tls = options.Tls.Insecure ? null : BrokerTls.Start(options, revocations, TimeProvider.System);
        BrokerMetrics.EnsureRegistered();
        var builder = EmbeddedWebApplication.CreateSlimBuilder();
        ConfigureLogging(builder.Logging, options.Verbose);

        var listeners = new BrokerListeners(options, tls);
        builder.WebHost.ConfigureKestrel(listeners.Configure);
        builder.Services.Configure<HostOptions>(h => h.ShutdownTimeout = TimeSpan.FromSeconds(5));
        AddBroker(builder.Services, options, catalogue, redis);
        builder.Services.AddBrokerSecurity(options, securityStore, revocations, tls);

        await using var app = builder.Build();
        app.UseMqttServer(mqtt =>
        {
            if (tls is null)
            {
                // Accept every client; one without a client id (mosquitto_sub's default) gets one assigned.
                mqtt.ValidatingConnectionAsync += AnonymousClientIds.AssignWhenMissing;
                return;
            }
            // The client id must be the certificate's peer id; none is ever assigned. Only the broker
            // publishes; peers subscribe within the topics of their certificates.
            var identityCheck = app.Services.GetRequiredService<MqttIdentityCheck>();
            var permissions = app.Services.GetRequiredService<MqttPermissions>();
            mqtt.ValidatingConnectionAsync += identityCheck.ValidateAsync;
            mqtt.InterceptingPublishAsync += permissions.InterceptPublishAsync;
            mqtt.InterceptingSubscriptionAsync += permissions.InterceptSubscriptionAsync;
        });
        app.UseMiddleware<ApiAccessMiddleware>(); // issue 11: tokens and loopback for the HTTP API, gRPC only on the scheduler's port
        app.MapGrpcService<SchedulerService>();
        app.MapBrokerApi();
        app.MapDashboardApi();
        app.MapSecurityApi();
        app.MapAdminApi();
        app.MapFleetApi();

        var coordinator = app.Services.GetRequiredService<SwarmCoordinator>();
        var lifetime = app.Services.GetRequiredService<IHostApplicationLifetime>();
        BrokerSeed? seed = null;
        BridgeImporter? bridge = null;
        // Scheduler streams are long-lived: end them first so Kestrel can stop promptly. The seed goes
        // after that, so that its leaving is not taken for a failed source.
        lifetime.ApplicationStopping.Register(() =>
        {
            coordinator.CloseAllSessions();
            Volatile.Read(ref seed)?.BeginStop();
        });

        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            throw new UserFacingException(
                $"cannot listen: {e.Message.TrimEnd('.')}; free the port or choose another with --mqtt-port/--mqtts-port/--grpc-port/--http-port (0 picks a free one)",
                ExitCodes.Failed, e);
        }
        listeners.SecureAdminSocket();

        var ports = app.Services.GetRequiredService<BoundPorts>();
        listeners.Report(ports);
        listeners.LogMode(app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Dragonfly.PubSub.Broker.Security"));
        if (redis is not null)
        {
            BrokerLog.StateConnected(app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Dragonfly.PubSub.Broker.State"), redis.Url.Shown, catalogue.BrokerId);
        }

        var announcer = app.Services.GetRequiredService<AnnouncementPublisher>();
        using (var replayTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, lifetime.ApplicationStopping))
        {
            replayTimeout.CancelAfter(ReplayTimeout);
            try
            {
                await announcer.ReplayAsync(catalogue, replayTimeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested && !lifetime.ApplicationStopping.IsCancellationRequested)
            {
                await app.StopAsync(CancellationToken.None).ConfigureAwait(false);
                throw new UserFacingException(
                    app.Services.GetRequiredService<IAnnouncementTransport>() is ExternalMqttTransport external
                        ? $"cannot reach the MQTT broker at {options.MqttUrl}: {external.LastError ?? "no answer"} (within 15 s); check --mqtt-url and that it runs"
                        : "the embedded MQTT server did not start within 15 s",
                    ExitCodes.Failed);
            }
            if (tls is not null)
            {
                // Agents learn the revoked peer ids from this retained message (an empty list too).
                await app.Services.GetRequiredService<RevocationEnforcer>().PublishListAsync(replayTimeout.Token).ConfigureAwait(false);
            }
        }

        try
        {
            if (options.Seed)
            {
                try
                {
                    var seedIdentity = app.Services.GetService<SeedIdentity>();
                    Volatile.Write(ref seed, await BrokerSeed.StartAsync(
                        options, ports.Grpc, seedIdentity is null ? null : () => seedIdentity.Current,
                        ActivatorUtilities.CreateInstance<SchedulerService>(app.Services),
                        app.Services.GetRequiredService<ILoggerFactory>(), cancellationToken).ConfigureAwait(false));
                }
                catch (UserFacingException)
                {
                    await app.StopAsync(CancellationToken.None).ConfigureAwait(false);
                    throw;
                }
                ports.SetSeed(seed!.PeerPort);
            }
            // Across clusters (issue 12): another cluster's announcements, bridged in by the MQTT broker.
            if (options.Bridged)
            {
                try
                {
                    bridge = await BridgeImporter.StartAsync(options, ports.Grpc, app.Services, cancellationToken).ConfigureAwait(false);
                }
                catch (UserFacingException)
                {
                    await app.StopAsync(CancellationToken.None).ConfigureAwait(false);
                    throw;
                }
            }

            if (options.SettleHeapAfterStart)
            {
                // Start-up is done: see BrokerOptions.SettleHeapAfterStart.
                GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
            }
            app.Services.GetRequiredService<BrokerHealth>().MarkListening();
            var readyFile = Path.Combine(options.DataDir, ReadyFileName);
            WriteReadyFile(readyFile, ports);
            Console.Out.WriteLine(
                $"dfbroker ready mqtt-port={ports.Mqtt} grpc-port={ports.Grpc} http-port={ports.Http} seed-port={ports.Seed} mqtts-port={ports.Mqtts} tls={(ports.Tls ? "on" : "off")}");
            Console.Out.Flush();

            await app.WaitForShutdownAsync(cancellationToken).ConfigureAwait(false);
            TryDelete(readyFile);
            return ExitCodes.Success;
        }
        finally
        {
            if (bridge is not null)
            {
                await bridge.DisposeAsync().ConfigureAwait(false);
            }
            if (seed is not null)
            {
                await seed.DisposeAsync().ConfigureAwait(false);
            }
        }
    }

    /// <summary>Registers the broker's services (everything but the Kestrel listeners).</summary>
    /// <param name="redis">The shared state of several brokers (<c>--state</c>), or null.</param>
    public static IServiceCollection AddBroker(IServiceCollection services, BrokerOptions options, ManifestCatalogue catalogue, RedisState? redis = null)
    {
        services.AddSingleton(options);
        services.AddSingleton(catalogue);
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton<BoundPorts>();
        AddFleet(services, options, catalogue, redis);
        services.AddSingleton(sp => new ParentSelectionPolicy(sp.GetRequiredService<TimeProvider>(), new Random(), options.MaxParents));
        services.AddSingleton<UrlTaskNews>();
        services.AddSingleton(sp => new SwarmCoordinator(
            catalogue.BrokerId,
            catalogue.Find,
            sp.GetRequiredService<ParentSelectionPolicy>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<SwarmCoordinator>>(),
            new SourceOptions { OwnSeedWait = options.Seed ? OwnSeedWait : null, Progress = redis is null ? null : new RedisUrlTaskProgress(redis) },
            manifest => catalogue.StoreSourced(manifest, sp.GetRequiredService<TimeProvider>().GetUtcNow()),
            sp.GetRequiredService<UrlTaskNews>(),
            SwarmCoordinator.DefaultShards,
            sp.GetService<BrokerTls>() is { } tls ? new PeerTicketIssuer(() => tls.Current.Certificate, sp.GetRequiredService<TimeProvider>()) : null));
        services.AddHostedService(sp => sp.GetRequiredService<SwarmCoordinator>());
        // Origins are stat'ed once per new URL task; the registry (and its HTTP/S3 clients) is disposed with the host.
        services.AddSingleton(_ => OriginRegistry.CreateDefault(new OriginRegistryOptions { S3 = options.S3, Egress = options.Egress }));
        services.AddSingleton(sp => new OriginClient(
            sp.GetRequiredService<OriginRegistry>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<OriginClient>>()));
        services.AddSingleton(sp => new UrlTaskRegistrar(
            sp.GetRequiredService<OriginClient>(),
            sp.GetRequiredService<SwarmCoordinator>(),
            sp.GetRequiredService<ILogger<UrlTaskRegistrar>>(),
            sp.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping,
            new FileOriginPolicy(options.FileOriginRoots),
            new S3BucketPolicy(options.S3Buckets)));
        // Announcements go into the embedded MQTT server, or into the operator's MQTT broker (--mqtt-url).
        if (options.MqttUrl is { } mqttUrl)
        {
            services.AddSingleton(sp => new ExternalMqttTransport(
                mqttUrl, $"dfbroker-{catalogue.BrokerId}", sp.GetRequiredService<ILogger<ExternalMqttTransport>>()));
            services.AddHostedService(sp => sp.GetRequiredService<ExternalMqttTransport>());
            services.AddSingleton<IAnnouncementTransport>(sp => sp.GetRequiredService<ExternalMqttTransport>());
            services.AddHostedService(sp => new ExternalMqttReplay(
                sp.GetRequiredService<ExternalMqttTransport>(), sp.GetRequiredService<AnnouncementPublisher>(), catalogue,
                sp.GetService<RevocationEnforcer>(), sp.GetRequiredService<ILogger<ExternalMqttReplay>>()));
        }
        else if (redis is not null)
        {
            // Several brokers without an external MQTT broker: their embedded servers relay to each other over Redis.
            services.AddSingleton(sp => new FleetRelayTransport(
                new EmbeddedMqttTransport(sp.GetRequiredService<MqttServer>()), redis, catalogue.BrokerId, sp.GetRequiredService<ILogger<FleetRelayTransport>>()));
            services.AddHostedService(sp => sp.GetRequiredService<FleetRelayTransport>());
            services.AddSingleton<IAnnouncementTransport>(sp => sp.GetRequiredService<FleetRelayTransport>());
        }
        else
        {
            services.AddSingleton<IAnnouncementTransport>(sp => new EmbeddedMqttTransport(sp.GetRequiredService<MqttServer>()));
        }
        // The signer is registered in secure mode only (BrokerSecurityServices); --insecure announces unsigned.
        services.AddSingleton(sp => new AnnouncementPublisher(
            sp.GetRequiredService<IAnnouncementTransport>(), sp.GetRequiredService<ILogger<AnnouncementPublisher>>(),
            sp.GetService<AnnouncementSigner>(), options.AnnounceManifestMax));
        services.AddSingleton<IUrlTaskIntake>(sp => new UrlTaskIntake(
            sp.GetRequiredService<UrlTaskRegistrar>(),
            catalogue,
            sp.GetRequiredService<AnnouncementPublisher>(),
            sp.GetRequiredService<TimeProvider>()));

        // Preheat: the registry client resolves images (plain HTTP for loopback registries) with the broker's logins.
        services.AddSingleton(sp => new RegistryClient(
            new RegistryClientOptions(), time: sp.GetRequiredService<TimeProvider>(), logger: sp.GetRequiredService<ILogger<RegistryClient>>()));
        services.AddSingleton<IImageResolver>(sp => new RegistryImageResolver(sp.GetRequiredService<RegistryClient>(), options.Registries));
        services.AddSingleton<IImageAnnouncer>(sp => new ImageAnnouncer(catalogue, sp.GetRequiredService<AnnouncementPublisher>()));
        services.AddSingleton(sp => new PreheatService(
            sp.GetRequiredService<IImageResolver>(),
            sp.GetRequiredService<IUrlTaskIntake>(),
            sp.GetRequiredService<IImageAnnouncer>(),
            sp.GetRequiredService<IPreheatStore>(),
            sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<PreheatService>>(),
            sp.GetRequiredService<UrlTaskNews>()));
        services.AddHostedService(sp => sp.GetRequiredService<PreheatService>());
        services.AddSingleton<BrokerHealth>();
        services.AddBrokerDashboard();

        services.AddHostedMqttServer(mqtt => mqtt
            .WithoutDefaultEndpoint()
            .WithPersistentSessions()
            .WithMaxPendingMessagesPerClient(100_000));
        services.AddMqttConnectionHandler();
        services.AddSingleton<MqttStartGate>();
        services.AddHostedService<MqttShutdown>();
        services.AddConnections();

        services.AddGrpc(grpc =>
        {
            grpc.MaxReceiveMessageSize = 64 * 1024 * 1024;
            grpc.EnableDetailedErrors = options.Verbose;
        });
        return services;
    }

    /// <summary>
    /// This broker among the others: with shared state its heartbeats, the directory of live brokers and the
    /// preheat jobs in Redis; alone, itself and its LiteDB.
    /// </summary>
    private static void AddFleet(IServiceCollection services, BrokerOptions options, ManifestCatalogue catalogue, RedisState? redis)
    {
        services.AddSingleton(sp => new BrokerSelf(catalogue.BrokerId, options, sp.GetRequiredService<BoundPorts>(), sp.GetRequiredService<TimeProvider>()));
        if (redis is null)
        {
            services.AddSingleton<IBrokerDirectory>(sp => new SingleBrokerDirectory(sp.GetRequiredService<BrokerSelf>(), sp.GetRequiredService<TimeProvider>()));
            services.AddSingleton<IPreheatStore>(_ => new PreheatStore(catalogue));
            services.AddSingleton<Dashboard.IFleetShares, Dashboard.NoFleetShares>();
            return;
        }
        services.AddSingleton(redis);
        services.AddSingleton(sp => new RedisBrokerDirectory(
            redis, sp.GetRequiredService<BrokerSelf>(), sp.GetRequiredService<TimeProvider>(), sp.GetRequiredService<ILogger<RedisBrokerDirectory>>()));
        services.AddHostedService(sp => sp.GetRequiredService<RedisBrokerDirectory>());
        services.AddSingleton<IBrokerDirectory>(sp => sp.GetRequiredService<RedisBrokerDirectory>());
        services.AddSingleton<IPreheatStore>(sp => new RedisPreheatStore(redis, catalogue.BrokerId, sp.GetRequiredService<IBrokerDirectory>()));
        // The whole fleet in any broker's API and dashboard (issue 12): each publishes its live view for the others.
        services.AddSingleton(sp => new Dashboard.RedisFleetShares(redis, sp.GetRequiredService<Dashboard.DashboardBuilder>(),
            sp.GetRequiredService<IBrokerDirectory>(), sp.GetRequiredService<BrokerSelf>(), sp.GetRequiredService<TimeProvider>()));
        services.AddHostedService(sp => sp.GetRequiredService<Dashboard.RedisFleetShares>());
        services.AddSingleton<Dashboard.IFleetShares>(sp => sp.GetRequiredService<Dashboard.RedisFleetShares>());
    }

    /// <summary>The Redis of <c>--state</c>, connected, or null without it; one line (exit 1) when it does not answer.</summary>
    private static RedisState? ConnectState(BrokerOptions options)
    {
        if (options.State is not { } url)
        {
            return null;
        }
        try
        {
            return RedisState.Connect(url, StateConnectTimeout);
        }
        catch (Exception e) when (e is StackExchange.Redis.RedisException or TimeoutException)
        {
            throw new UserFacingException(
                $"cannot reach the shared state at {url.Shown}: {e.Message.Split('\n')[0].TrimEnd('.')}; check --state and that Redis runs", ExitCodes.Failed, e);
        }
    }

    private static void ConfigureLogging(ILoggingBuilder logging, bool verbose)
    {
        logging.ClearProviders();
        logging.AddSimpleConsole(console =>
        {
            console.SingleLine = true;
            console.UseUtcTimestamp = true;
            console.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
        });
        logging.SetMinimumLevel(verbose ? LogLevel.Debug : LogLevel.Information);
        logging.AddFilter("Microsoft", verbose ? LogLevel.Information : LogLevel.Warning);
        logging.AddFilter("Grpc", verbose ? LogLevel.Information : LogLevel.Warning);
        logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.Warning);
        // A failed start (port in use) is reported as one line by the CLI, not as a logged stack trace.
        logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", verbose ? LogLevel.Information : LogLevel.Critical);
    }

    private static string? DuplicatePort(BrokerOptions options)
    {
        List<(string Flag, int Port)> ports = [("--grpc-port", options.GrpcPort), ("--http-port", options.HttpPort)];
        if (options.MqttUrl is null)
        {
            ports.Insert(0, (options.Tls.Insecure ? "--mqtt-port" : "--mqtts-port", options.Tls.Insecure ? options.MqttPort : options.MqttsPort));
        }
        if (options.Seed)
        {
            ports.Add(("--seed-port", options.SeedPort));
        }
        for (var i = 0; i < ports.Count; i++)
        {
            for (var j = i + 1; j < ports.Count; j++)
            {
                if (ports[i].Port != 0 && ports[i].Port == ports[j].Port)
                {
                    return $"{ports[i].Flag} and {ports[j].Flag} are both {ports[i].Port}; each listener needs its own port";
                }
            }
        }
        return null;
    }

    private static void WriteReadyFile(string path, BoundPorts ports)
    {
        var temp = path + ".tmp";
        using (var stream = File.Create(temp))
        using (var json = new Utf8JsonWriter(stream))
        {
            json.WriteStartObject();
            json.WriteNumber("pid", Environment.ProcessId);
            json.WriteNumber("mqttPort", ports.Mqtt);
            json.WriteNumber("grpcPort", ports.Grpc);
            json.WriteNumber("httpPort", ports.Http);
            json.WriteNumber("seedPort", ports.Seed);
            json.WriteNumber("mqttsPort", ports.Mqtts);
            json.WriteBoolean("tls", ports.Tls);
            json.WriteEndObject();
        }
        File.Move(temp, path, overwrite: true);
    }

    private static void TryDelete(string path)
    {
        try
        {
            File.Delete(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Best effort: the next start removes it before binding anyway.
        }
    }
}
