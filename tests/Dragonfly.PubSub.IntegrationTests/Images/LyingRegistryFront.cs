using Dragonfly.PubSub.Testing;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Dragonfly.PubSub.IntegrationTests.Images;

/// <summary>
/// A pass-through in front of the real registry that lies about one manifest: for
/// <see cref="LyingPath"/> it answers other bytes than the digest in the path names (claiming that
/// digest in Docker-Content-Digest). A real registry never does; a broken cache or a tampering
/// proxy between the mirror and the registry may, and the mirror must notice. Everything else
/// (the /v2/ check, other manifests, blobs) is forwarded unchanged.
/// </summary>
public sealed class LyingRegistryFront : IAsyncDisposable
{
    private readonly HttpClient _upstream;
    private readonly string _lyingPath;
    private readonly byte[] _lie;
    private readonly string _mediaType;
    private TestWebServer? _web;
    private int _lies;

    private LyingRegistryFront(Uri upstream, string lyingPath, byte[] lie, string mediaType)
    {
        _upstream = new HttpClient { BaseAddress = upstream, Timeout = TimeSpan.FromSeconds(30) };
        _lyingPath = lyingPath;
        _lie = lie;
        _mediaType = mediaType;
    }

    public string LyingPath => _lyingPath;

    /// <summary>How many times the lie was told.</summary>
    public int Lies => Volatile.Read(ref _lies);

    public Uri BaseUri => _web!.BaseUri;

    /// <summary>Starts the front for <paramref name="upstream"/>; <c>GET|HEAD <paramref name="lyingPath"/></c> gets <paramref name="lie"/>.</summary>
    public static async Task<LyingRegistryFront> StartAsync(Uri upstream, string lyingPath, byte[] lie, string mediaType)
    {
        var front = new LyingRegistryFront(upstream, lyingPath, lie, mediaType);
        front._web = await TestWebServer.StartAsync(app => app.Map("/{**path}", front.HandleAsync));
        return front;
    }

    private async Task HandleAsync(HttpContext context)
    {
        var path = context.Request.Path.Value ?? "/";
        if (path == _lyingPath)
        {
            Interlocked.Increment(ref _lies);
            var digest = path[(path.LastIndexOf('/') + 1)..];
            context.Response.ContentType = _mediaType;
            context.Response.ContentLength = _lie.Length;
            context.Response.Headers["Docker-Content-Digest"] = digest;
            context.Response.Headers["Docker-Distribution-API-Version"] = "registry/2.0";
            if (!HttpMethods.IsHead(context.Request.Method))
            {
                await context.Response.Body.WriteAsync(_lie, context.RequestAborted);
            }
            return;
        }
        using var request = new HttpRequestMessage(new HttpMethod(context.Request.Method), path.TrimStart('/') + context.Request.QueryString);
        foreach (var header in (string[])["Accept", "Authorization", "Range"])
        {
            if (context.Request.Headers.TryGetValue(header, out var values))
            {
                request.Headers.TryAddWithoutValidation(header, (IEnumerable<string>)values!);
            }
        }
        using var response = await _upstream.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, context.RequestAborted);
        context.Response.StatusCode = (int)response.StatusCode;
        foreach (var (name, values) in response.Headers.Concat(response.Content.Headers))
        {
            if (name is not ("Transfer-Encoding" or "Connection"))
            {
                context.Response.Headers[name] = values.ToArray();
            }
        }
        await response.Content.CopyToAsync(context.Response.Body, context.RequestAborted);
    }

    public async ValueTask DisposeAsync()
    {
        if (_web is not null)
        {
            await _web.DisposeAsync();
        }
        _upstream.Dispose();
    }
}
