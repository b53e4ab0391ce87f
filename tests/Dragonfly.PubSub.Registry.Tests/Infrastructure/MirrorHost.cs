using System.Collections.Concurrent;
using Dragonfly.PubSub.Registry.Client;
using Dragonfly.PubSub.Registry.Mirror;

namespace Dragonfly.PubSub.Registry.Tests.Infrastructure;

/// <summary>
/// The registry mirror hosted the way dfagent will host it: mapped onto a Kestrel app on
/// 127.0.0.1, blobs from a <see cref="DirectBlobSource"/> in a temp cache dir. Records each
/// <see cref="BlobRequest"/> the mirror made; captures every log line of mirror and client.
/// </summary>
internal sealed class MirrorHost : IAsyncDisposable, IBlobSource
{
    private readonly string _cache;
    private readonly ConcurrentQueue<BlobRequest> _blobRequests = new();
    private TestWebServer? _web;

    private MirrorHost(string cache, RegistryClient client, CapturedLogs logs)
    {
        _cache = cache;
        Client = client;
        Logs = logs;
        Blobs = new DirectBlobSource(Path.Combine(cache, "blobs"), client);
    }

    public RegistryClient Client { get; }

    public DirectBlobSource Blobs { get; }

    public CapturedLogs Logs { get; }

    public IReadOnlyCollection<BlobRequest> BlobRequests => _blobRequests;

    public int Port => _web!.Port;

    /// <summary>The mirror as a registry name: <c>127.0.0.1:port</c>.</summary>
    public string Name => $"127.0.0.1:{Port}";

    public Uri BaseUri => _web!.BaseUri;

    public static async Task<MirrorHost> StartAsync(Uri? upstream, TimeProvider? time = null, IReadOnlyCollection<string>? allowedRegistries = null)
    {
        var logs = new CapturedLogs();
        var client = new RegistryClient(new RegistryClientOptions(), time: time, logger: logs.For<RegistryClient>());
        var host = new MirrorHost(Directory.CreateTempSubdirectory("dragonfly-mirror-").FullName, client, logs);
        try
        {
            var mirror = new RegistryMirror(new RegistryMirrorOptions { Upstream = upstream, AllowedRegistries = allowedRegistries ?? [] }, client, host, time, logs.For<RegistryMirror>());
            host._web = await TestWebServer.StartAsync(app => app.MapRegistryMirror(mirror), logs);
            return host;
        }
        catch
        {
            await host.DisposeAsync();
            throw;
        }
    }

    public Task<string> GetBlobPathAsync(BlobRequest request, CancellationToken ct)
    {
        _blobRequests.Enqueue(request);
        return Blobs.GetBlobPathAsync(request, ct);
    }

    public async ValueTask DisposeAsync()
    {
        if (_web is not null)
        {
            await _web.DisposeAsync();
        }
        Client.Dispose();
        TempDirectory.Delete(_cache);
    }
}
