using System.Text.Json;
using Dragonfly.PubSub.Agent.Configuration;
using Dragonfly.PubSub.Agent.Mirror;
using Dragonfly.PubSub.Origins;
using Dragonfly.PubSub.Transfer.Pieces;
using Dragonfly.PubSub.Transfer.Storage;

namespace Dragonfly.PubSub.Agent.Hosting;

/// <summary>
/// An agent started by <see cref="AgentHost.StartAsync"/>: its identity, the ports it bound, and how
/// to stop it. Stopping leaves the broker cleanly (the scheduler stream closes) and releases the data dir.
/// </summary>
public sealed class RunningAgent : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly PieceServer _pieceServer;
    private readonly AgentStore _store;
    private readonly OriginRegistry _origins;
    private readonly AgentOptions _options;
    private readonly AgentRuntime _runtime;
    private readonly SemaphoreSlim _stopGate = new(1, 1);
    private bool _stopped;

    internal RunningAgent(WebApplication app, PieceServer pieceServer, AgentStore store, OriginRegistry origins, AgentOptions options, AgentRuntime runtime)
    {
        _app = app;
        _pieceServer = pieceServer;
        _store = store;
        _origins = origins;
        _options = options;
        _runtime = runtime;
        PeerId = runtime.PeerId;
        PeerPort = runtime.PeerPort;
        HttpPort = runtime.HttpPort;
    }

    /// <summary>This agent's id on the swarm (kept in its data dir).</summary>
    public string PeerId { get; }

    /// <summary>The bound peer port (pieces are served here).</summary>
    public int PeerPort { get; }

    /// <summary>The bound TCP port of the local API, or -1 when it has none (unix socket only).</summary>
    public int HttpPort { get; }

    /// <summary>The bound port of the registry mirror, or -1 when it is off.</summary>
    public int ProxyPort => _runtime.ProxyPort;

    /// <summary>The local API's unix socket, &lt;data-dir&gt;/dfagent.sock (what <c>DragonflyClient</c> talks to).</summary>
    public string SocketPath => _options.SocketPath;

    public string DataDir => _options.DataDir;

    internal IServiceProvider Services => _app.Services;

    /// <summary>The registry mirror's server, once started (null when the mirror is off).</summary>
    internal MirrorServer? Mirror { get; set; }

    /// <summary>Completes when the host is told to stop (SIGTERM/Ctrl-C for the daemon) or <paramref name="cancellationToken"/> fires.</summary>
    internal async Task WaitForShutdownAsync(CancellationToken cancellationToken)
    {
        var lifetime = _app.Services.GetRequiredService<IHostApplicationLifetime>();
        var stopping = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var onStopping = lifetime.ApplicationStopping.Register(() => stopping.TrySetResult());
        using var onCancel = cancellationToken.Register(() => stopping.TrySetResult());
        await stopping.Task.ConfigureAwait(false);
    }

    /// <summary>Stops the agent: running downloads keep their pieces for a later resume. Idempotent.</summary>
    public async Task StopAsync()
    {
        await _stopGate.WaitAsync().ConfigureAwait(false);
        try
        {
            if (_stopped)
            {
                return;
            }
            _stopped = true;
            try
            {
                if (Mirror is not null)
                {
                    await Mirror.DisposeAsync().ConfigureAwait(false);
                }
                await _app.StopAsync(CancellationToken.None).ConfigureAwait(false);
            }
            finally
            {
                await _pieceServer.DisposeAsync().ConfigureAwait(false);
                await _app.DisposeAsync().ConfigureAwait(false);
                _origins.Dispose();
                _store.Dispose();
                TryDelete(Path.Combine(_options.DataDir, "agent.json"));
                TryDelete(_options.SocketPath);
            }
        }
        finally
        {
            _stopGate.Release();
        }
    }

    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);

    /// <summary>&lt;data-dir&gt;/agent.json: how dfagent status, dfpub, dfget and tests find this agent.</summary>
    internal async Task WriteReadyFileAsync()
    {
        var path = Path.Combine(_options.DataDir, "agent.json");
        var temp = path + ".tmp";
        var ready = new AgentReadyFile(Environment.ProcessId, PeerId, PeerPort, HttpPort, ProxyPort, _options.SocketPath, _runtime.Tls);
        await File.WriteAllTextAsync(temp, JsonSerializer.Serialize(ready, AgentFilesJsonContext.Default.AgentReadyFile)).ConfigureAwait(false);
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
            // Best effort: a stale file is detected and replaced by the next agent.
        }
    }
}
