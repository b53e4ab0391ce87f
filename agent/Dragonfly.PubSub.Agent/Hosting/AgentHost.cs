using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Dragonfly.PubSub.Agent.Announcements;
using Dragonfly.PubSub.Agent.Api;
using Dragonfly.PubSub.Agent.Configuration;
using Dragonfly.PubSub.Agent.Swarm;
using Dragonfly.PubSub.Agent.Tasks;
using Dragonfly.PubSub.Contracts.Cli;
using Dragonfly.PubSub.Transfer;
using Dragonfly.PubSub.Transfer.Pieces;
using Dragonfly.PubSub.Transfer.Storage;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace Dragonfly.PubSub.Agent.Hosting;

/// <summary>Wires the agent's components into one host and runs it until SIGTERM/Ctrl-C.</summary>
public static class AgentHost
{
    public static async Task<int> RunAsync(AgentOptions options, bool verbose, CancellationToken cancellationToken)
    {
        Directory.CreateDirectory(options.DataDir);
        using var store = AgentStore.Open(options.DataDir);
        var runtime = new AgentRuntime(store.PeerId);
        var transfer = new TransferOptions
        {
            DataDir = options.DataDir,
            PiecesInFlight = options.PiecesInFlight,
            UploadSlots = options.UploadSlots,
            DownloadLimit = options.DownloadLimit,
            UploadLimit = options.UploadLimit,
        };

        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss.fff ";
        });
        builder.Logging.SetMinimumLevel(verbose ? LogLevel.Debug : LogLevel.Information);
        builder.Logging.AddFilter("Microsoft", verbose ? LogLevel.Information : LogLevel.Warning);
        builder.Logging.AddFilter("System.Net.Http", LogLevel.Warning);
        builder.Logging.AddFilter("Grpc", LogLevel.Warning);

        // The data dir is ours (the store is open): a socket file left by a crashed agent is stale.
        if (File.Exists(options.SocketPath))
        {
            File.Delete(options.SocketPath);
        }
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.Listen(ParseAddress(options.ListenAddress), options.HttpPort);
            kestrel.ListenUnixSocket(options.SocketPath);
        });

        var services = builder.Services;
        services.AddSingleton(options);
        services.AddSingleton(transfer);
        services.AddSingleton(runtime);
        services.AddSingleton(store);
        services.AddSingleton(TimeProvider.System);
        services.AddSingleton(new ContentStore(options.DataDir));
        services.AddSingleton<LocalPieces>();
        services.AddSingleton<PieceServer>();
        services.AddSingleton<PieceFetcher>();
        services.AddSingleton<SchedulerSession>();
        services.AddSingleton<TaskManager>();
        // The task manager loads the tasks before the scheduler session starts, so the first Hello
        // already re-joins every task this agent holds.
        services.AddHostedService(sp => sp.GetRequiredService<TaskManager>());
        services.AddHostedService(sp => sp.GetRequiredService<SchedulerSession>());
        services.AddSingleton<AnnouncementSubscriber>();
        services.AddHostedService(sp => sp.GetRequiredService<AnnouncementSubscriber>());

        await using var app = builder.Build();
        app.MapLocalApi();

        var pieceServer = app.Services.GetRequiredService<PieceServer>();
        try
        {
            runtime.PeerPort = await pieceServer.StartAsync(ParseAddress(options.ListenAddress), options.PeerPort, cancellationToken).ConfigureAwait(false);
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is SocketException or IOException && e is not FileNotFoundException)
        {
            throw new UserFacingException($"cannot listen on {options.ListenAddress} (peer port {options.PeerPort}, http port {options.HttpPort}): {e.Message}; pick free ports with --peer-port/--http-port (0 picks one)");
        }

        runtime.HttpPort = BoundTcpPort(app);
        await WriteReadyFileAsync(options, runtime).ConfigureAwait(false);
        Console.Out.WriteLine($"dfagent ready peer-id={runtime.PeerId} peer-port={runtime.PeerPort} http-port={runtime.HttpPort}");
        AgentLog.Started(app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Dragonfly.PubSub.Agent"),
            runtime.PeerId, runtime.PeerPort, runtime.HttpPort, options.DataDir);

        await app.WaitForShutdownAsync(cancellationToken).ConfigureAwait(false);
        await pieceServer.DisposeAsync().ConfigureAwait(false);
        File.Delete(Path.Combine(options.DataDir, "agent.json"));
        return ExitCodes.Success;
    }

    public static IPAddress ParseAddress(string address) =>
        address is "*" or "" ? IPAddress.Any
        : IPAddress.TryParse(address.Trim('[', ']'), out var ip) ? ip
        : throw UserFacingException.Usage($"--listen '{address}' is not an IP address; use e.g. 0.0.0.0 or 127.0.0.1");

    private static int BoundTcpPort(WebApplication app)
    {
        var addresses = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses ?? [];
        foreach (var address in addresses)
        {
            if (address.StartsWith("http://", StringComparison.Ordinal) && !address.Contains("unix:", StringComparison.Ordinal)
                && Uri.TryCreate(address.Replace("*", "localhost", StringComparison.Ordinal), UriKind.Absolute, out var uri))
            {
                return uri.Port;
            }
        }
        throw new InvalidOperationException("Kestrel reported no TCP address");
    }

    private static async Task WriteReadyFileAsync(AgentOptions options, AgentRuntime runtime)
    {
        var path = Path.Combine(options.DataDir, "agent.json");
        var temp = path + ".tmp";
        await File.WriteAllTextAsync(temp, JsonSerializer.Serialize(new
        {
            pid = Environment.ProcessId,
            peerId = runtime.PeerId,
            peerPort = runtime.PeerPort,
            httpPort = runtime.HttpPort,
            socket = options.SocketPath,
        })).ConfigureAwait(false);
        File.Move(temp, path, overwrite: true);
    }
}
