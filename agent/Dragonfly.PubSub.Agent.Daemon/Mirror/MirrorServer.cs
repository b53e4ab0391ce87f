using System.Net;
using Dragonfly.PubSub.Agent.Hosting;
using Dragonfly.PubSub.Registry.Mirror;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;

namespace Dragonfly.PubSub.Agent.Mirror;

/// <summary>
/// The registry mirror's own HTTP server on <c>--proxy-port</c>. A server of its own rather than
/// another port of the local API's: the mirror's port answers only the distribution API, and the
/// API (publish, download, metrics) never answers on the mirror's port.
/// </summary>
internal sealed class MirrorServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private MirrorServer(WebApplication app, int port)
    {
        _app = app;
        Port = port;
    }

    /// <summary>The bound port.</summary>
    public int Port { get; }

    /// <exception cref="IOException">The port cannot be bound.</exception>
    public static async Task<MirrorServer> StartAsync(IPAddress address, int port, RegistryMirror mirror, ILoggerFactory logging, CancellationToken cancellationToken)
    {
        var builder = EmbeddedWebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(new ForwardingLoggerProvider(logging));
        // A port in use is reported by the agent as one line; the host's own report is a stack trace.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting", LogLevel.None);
        // The agent's host owns Ctrl-C/SIGTERM; this server stops when the agent stops it.
        builder.Services.AddSingleton<IHostLifetime, GuestLifetime>();
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(address, port));
        var app = builder.Build();
        app.MapRegistryMirror(mirror);
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw;
        }
        var bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses
            .Select(a => Uri.TryCreate(a.Replace("*", "localhost", StringComparison.Ordinal), UriKind.Absolute, out var uri) ? uri.Port : -1)
            .FirstOrDefault(p => p > 0) ?? port;
        return new MirrorServer(app, bound);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _app.StopAsync(CancellationToken.None).ConfigureAwait(false);
        }
        finally
        {
            await _app.DisposeAsync().ConfigureAwait(false);
        }
    }
}
