using System.Net;
using System.Security.Cryptography;
using System.Text;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Registry.Auth;
using Dragonfly.PubSub.Registry.Client;
using Dragonfly.PubSub.Registry.Manifests;
using Dragonfly.PubSub.Registry.Mirror;
using Dragonfly.PubSub.Registry.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;

namespace Dragonfly.PubSub.Registry.Tests.Mirror;

/// <summary>
/// A registry that lies about manifest digests (no real registry does, so this one runs in the
/// test): the client rejects the bytes, the mirror answers an error and caches nothing.
/// </summary>
public sealed class LyingRegistryTests : IAsyncLifetime
{
    private static readonly byte[] Truth = Encoding.UTF8.GetBytes("""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:1111111111111111111111111111111111111111111111111111111111111111","size":2},"layers":[]}""");
    private static readonly byte[] Lie = Encoding.UTF8.GetBytes("""{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:2222222222222222222222222222222222222222222222222222222222222222","size":2},"layers":[]}""");
    private static readonly ContentDigest TruthDigest = ContentDigest.FromHash(SHA256.HashData(Truth));

    private readonly RegistryClient _client = new();
    private TestWebServer _liar = null!;
    private int _manifestRequests;
    private volatile bool _honest;

    public async Task InitializeAsync()
    {
        _liar = await TestWebServer.StartAsync(app =>
        {
            app.MapGet("/v2/", () => Results.Json(new { }));
            // By tag: the body is the lie, Docker-Content-Digest claims the truth.
            app.MapGet("/v2/lie/manifests/v1", (HttpContext context) => Serve(context, TruthDigest));
            // By digest: asked for the truth, sends the lie (with no digest header).
            app.MapGet($"/v2/lie/manifests/{TruthDigest}", (HttpContext context) => Serve(context, null));
        });
    }

    [Fact]
    public async Task Client_ManifestWhoseDigestHeaderLies_IsRejected()
    {
        var endpoint = new RegistryEndpoint("liar", _liar.BaseUri);

        var error = await Assert.ThrowsAsync<RegistryException>(() => _client.GetManifestAsync(endpoint, "lie", "v1", RegistryAuth.Anonymous).WaitAsync(Timeouts.Test));

        Assert.Equal(RegistryErrorKind.DigestMismatch, error.Kind);
        Assert.Equal($"manifest liar/lie:v1: the registry says Docker-Content-Digest {TruthDigest} but the content hashes to {Sha(Lie)}; rejected", error.Message);
    }

    [Fact]
    public async Task Client_ManifestByDigestWithOtherBytes_IsRejected()
    {
        var endpoint = new RegistryEndpoint("liar", _liar.BaseUri);

        var error = await Assert.ThrowsAsync<RegistryException>(() => _client.GetManifestAsync(endpoint, "lie", TruthDigest.ToString(), RegistryAuth.Anonymous).WaitAsync(Timeouts.Test));

        Assert.Equal(RegistryErrorKind.DigestMismatch, error.Kind);
        Assert.Equal($"manifest liar/lie@{TruthDigest}: the registry sent content that hashes to {Sha(Lie)}; rejected", error.Message);
    }

    [Fact]
    public async Task Mirror_ManifestThatDoesNotMatch_Answers400DigestInvalidAndCachesNothing()
    {
        var blobs = new DirectBlobSource(Path.Combine(Path.GetTempPath(), "unused-" + Guid.NewGuid()), _client);
        var mirror = new RegistryMirror(new RegistryMirrorOptions { Upstream = _liar.BaseUri }, _client, blobs);
        await using var server = await TestWebServer.StartAsync(app => app.MapRegistryMirror(mirror));
        using var http = new HttpClient { Timeout = Timeouts.Test };
        var byDigest = new Uri(server.BaseUri, $"v2/lie/manifests/{TruthDigest}");

        using var lied = await http.GetAsync(byDigest);
        using var liedByTag = await http.GetAsync(new Uri(server.BaseUri, "v2/lie/manifests/v1"));
        var liedBody = await lied.Content.ReadAsStringAsync();
        _honest = true;
        using var honest = await http.GetAsync(byDigest);

        Assert.Equal(HttpStatusCode.BadRequest, lied.StatusCode);
        Assert.Contains("DIGEST_INVALID", liedBody);
        Assert.Contains($"hashes to {Sha(Lie)}; rejected", liedBody);
        Assert.Equal(HttpStatusCode.BadRequest, liedByTag.StatusCode);
        // Nothing of the lie was kept: the next request went upstream again and got the truth.
        Assert.Equal(HttpStatusCode.OK, honest.StatusCode);
        Assert.Equal(Truth, await honest.Content.ReadAsByteArrayAsync());
        Assert.Equal(3, _manifestRequests);
    }

    public async Task DisposeAsync()
    {
        await _liar.DisposeAsync();
        _client.Dispose();
    }

    private async Task Serve(HttpContext context, ContentDigest? claimed)
    {
        Interlocked.Increment(ref _manifestRequests);
        context.Response.ContentType = MediaTypes.OciManifest;
        if (claimed is not null)
        {
            context.Response.Headers["Docker-Content-Digest"] = claimed.ToString();
        }
        await context.Response.Body.WriteAsync(_honest ? Truth : Lie);
    }

    private static ContentDigest Sha(byte[] bytes) => ContentDigest.FromHash(SHA256.HashData(bytes));
}
