using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Dragonfly.PubSub.Registry.Manifests;
using Dragonfly.PubSub.Registry.Tests.Infrastructure;
using Microsoft.Extensions.Time.Testing;

namespace Dragonfly.PubSub.Registry.Tests.Mirror;

/// <summary>The mirror's distribution API responses, checked byte by byte with HttpClient, over a real registry.</summary>
public sealed class MirrorProtocolTests(MirrorFixture fixture) : IClassFixture<MirrorFixture>
{
    private static readonly HttpClient Http = new() { Timeout = Timeouts.Test };

    [Fact]
    public async Task Base_Answers200WithTheApiVersion()
    {
        await using var mirror = await MirrorHost.StartAsync(fixture.Registry.BaseUri);

        using var response = await Http.GetAsync(new Uri(mirror.BaseUri, "v2/"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("registry/2.0", Header(response, "Docker-Distribution-API-Version"));
    }

    [Fact]
    public async Task Manifest_ByTagAndByDigest_GetAndHead_CarryTypeDigestAndLength()
    {
        await using var mirror = await MirrorHost.StartAsync(fixture.Registry.BaseUri);
        var index = fixture.Image.Blob(fixture.Image.RootDigest);
        var arm64 = fixture.Image["linux/arm64"];

        using var byTag = await SendAsync(HttpMethod.Get, mirror, "v2/apps/demo/manifests/v1");
        using var headByTag = await SendAsync(HttpMethod.Head, mirror, "v2/apps/demo/manifests/v1");
        using var byDigest = await SendAsync(HttpMethod.Get, mirror, $"v2/apps/demo/manifests/{arm64.ManifestDigest}");

        Assert.Equal(HttpStatusCode.OK, byTag.StatusCode);
        Assert.Equal(MediaTypes.OciIndex, byTag.Content.Headers.ContentType?.MediaType);
        Assert.Equal(fixture.Image.RootDigest.ToString(), Header(byTag, "Docker-Content-Digest"));
        Assert.Equal(index, await byTag.Content.ReadAsByteArrayAsync());

        Assert.Equal(HttpStatusCode.OK, headByTag.StatusCode);
        Assert.Equal(index.Length, headByTag.Content.Headers.ContentLength);
        Assert.Equal(fixture.Image.RootDigest.ToString(), Header(headByTag, "Docker-Content-Digest"));
        Assert.Empty(await headByTag.Content.ReadAsByteArrayAsync());

        Assert.Equal(MediaTypes.OciManifest, byDigest.Content.Headers.ContentType?.MediaType);
        Assert.Equal(arm64.ManifestDigest.ToString(), Header(byDigest, "Docker-Content-Digest"));
        Assert.Equal(arm64.Manifest, await byDigest.Content.ReadAsByteArrayAsync());
    }

    [Fact]
    public async Task Manifest_TagIsCachedBriefly_DigestForGood()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var mirror = await MirrorHost.StartAsync(fixture.Registry.BaseUri, time);
        var amd64 = fixture.Image["linux/amd64"].ManifestDigest.ToString();
        var tagGets = fixture.Registry.ManifestGets("apps/demo", "v1");
        var digestGets = fixture.Registry.ManifestGets("apps/demo", amd64);

        for (var i = 0; i < 4; i++)
        {
            (await SendAsync(HttpMethod.Get, mirror, "v2/apps/demo/manifests/v1")).Dispose();
            (await SendAsync(HttpMethod.Head, mirror, $"v2/apps/demo/manifests/{amd64}")).Dispose();
            time.Advance(TimeSpan.FromSeconds(4));
        }
        time.Advance(TimeSpan.FromDays(1));
        (await SendAsync(HttpMethod.Get, mirror, $"v2/apps/demo/manifests/{amd64}")).Dispose();

        // 0, 4 and 8 s come from one upstream GET; at 12 s the tag is asked again. The digest: once, ever.
        await fixture.Registry.WaitForRequestsAsync(r => r.Path == "/v2/apps/demo/manifests/v1", tagGets + 2);
        Assert.Equal(2, fixture.Registry.ManifestGets("apps/demo", "v1") - tagGets);
        Assert.Equal(1, fixture.Registry.ManifestGets("apps/demo", amd64) - digestGets);
    }

    [Fact]
    public async Task Blob_RangeGet_Answers206WithTheRequestedBytes()
    {
        await using var mirror = await MirrorHost.StartAsync(fixture.Registry.BaseUri);
        var layer = fixture.Image["linux/amd64"].Layers[1];
        var bytes = fixture.Image.Blob(layer);
        var before = fixture.Registry.BlobGets(layer);

        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(mirror.BaseUri, $"v2/apps/demo/blobs/{layer}"));
        request.Headers.Range = new RangeHeaderValue(1000, 4999);
        using var partial = await Http.SendAsync(request);
        using var head = await SendAsync(HttpMethod.Head, mirror, $"v2/apps/demo/blobs/{layer}");
        using var whole = await SendAsync(HttpMethod.Get, mirror, $"v2/apps/demo/blobs/{layer}");

        Assert.Equal(HttpStatusCode.PartialContent, partial.StatusCode);
        Assert.Equal($"bytes 1000-4999/{bytes.Length}", partial.Content.Headers.ContentRange?.ToString());
        Assert.Equal(bytes[1000..5000], await partial.Content.ReadAsByteArrayAsync());
        Assert.Equal(layer.ToString(), Header(partial, "Docker-Content-Digest"));

        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
        Assert.Equal(bytes.Length, head.Content.Headers.ContentLength);
        Assert.Equal("application/octet-stream", head.Content.Headers.ContentType?.MediaType);
        Assert.Equal(layer.ToString(), Header(head, "Docker-Content-Digest"));
        Assert.Equal("bytes", Header(head, "Accept-Ranges"));

        Assert.Equal(bytes, await whole.Content.ReadAsByteArrayAsync());
        Assert.Equal(before + 1, await fixture.Registry.BlobGetsAsync(layer, before + 1));
    }

    [Theory]
    [InlineData("v2/apps/demo/manifests/v9", 404, "MANIFEST_UNKNOWN")]
    [InlineData("v2/apps/nothing/manifests/v1", 404, "MANIFEST_UNKNOWN")]
    [InlineData("v2/apps/demo/blobs/sha256:0000000000000000000000000000000000000000000000000000000000000000", 404, "BLOB_UNKNOWN")]
    [InlineData("v2/apps/demo/manifests/sha256:abc", 400, "DIGEST_INVALID")]
    [InlineData("v2/apps/demo/blobs/md5:abc", 400, "DIGEST_INVALID")]
    [InlineData("v2/apps/demo/manifests/-tag", 400, "TAG_INVALID")]
    [InlineData("v2/Apps/demo/manifests/v1", 400, "NAME_INVALID")]
    [InlineData("v2/apps/demo/tags/list", 404, "UNSUPPORTED")]
    [InlineData("v2/apps/demo/manifests/v1?ns=bad/host", 400, "NAME_INVALID")]
    public async Task BadRequests_AnswerTheDistributionErrorFormat(string path, int status, string code)
    {
        await using var mirror = await MirrorHost.StartAsync(fixture.Registry.BaseUri);

        using var response = await SendAsync(HttpMethod.Get, mirror, path);

        Assert.Equal(status, (int)response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        using var body = JsonDocument.Parse(await response.Content.ReadAsByteArrayAsync());
        var error = body.RootElement.GetProperty("errors")[0];
        Assert.Contains(code, error.GetProperty("code").GetString() + " " + error.GetProperty("message").GetString());
        Assert.DoesNotContain("Error", mirror.Logs.Text); // expected failures are warnings, never crashes
    }

    [Fact]
    public async Task Namespace_PicksTheUpstreamWhenTheMirrorHasNoDefault()
    {
        await using var mirror = await MirrorHost.StartAsync(upstream: null, allowedRegistries: [fixture.Registry.Name]);
        var config = fixture.Image["linux/arm64"].Config;

        using var withNs = await SendAsync(HttpMethod.Get, mirror, $"v2/apps/demo/manifests/v1?ns={fixture.Registry.Name}");
        using var blob = await SendAsync(HttpMethod.Get, mirror, $"v2/apps/demo/blobs/{config}?ns={fixture.Registry.Name}");
        using var withoutNs = await SendAsync(HttpMethod.Get, mirror, "v2/apps/demo/manifests/v1");

        Assert.Equal(HttpStatusCode.OK, withNs.StatusCode);
        Assert.Equal(fixture.Image.RootDigest.ToString(), Header(withNs, "Docker-Content-Digest"));
        Assert.Equal(fixture.Image.Blob(config), await blob.Content.ReadAsByteArrayAsync());
        Assert.Equal(fixture.Registry.Name, Assert.Single(mirror.BlobRequests).Registry);
        Assert.Equal(HttpStatusCode.NotFound, withoutNs.StatusCode);
        Assert.Contains("NAME_UNKNOWN", await withoutNs.Content.ReadAsStringAsync());
        Assert.Contains("--registry-mirror", await withoutNs.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Namespace_OutsideTheAllowList_IsDenied()
    {
        await using var mirror = await MirrorHost.StartAsync(upstream: null, allowedRegistries: ["registry.example.com"]);

        using var response = await SendAsync(HttpMethod.Get, mirror, $"v2/apps/demo/manifests/v1?ns={fixture.Registry.Name}");

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Contains($"this mirror does not serve {fixture.Registry.Name}; allowed: registry.example.com", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Namespace_WithoutAnAllowList_IsDenied_AndTheRegistryIsNotAsked()
    {
        await using var mirror = await MirrorHost.StartAsync(fixture.Registry.BaseUri);
        var before = fixture.Registry.Requests().Count;

        // Any other registry a local process names: refused before any connection (no open fetch proxy).
        using var other = await SendAsync(HttpMethod.Get, mirror, "v2/apps/demo/manifests/v1?ns=127.0.0.1:9");
        using var metadata = await SendAsync(HttpMethod.Get, mirror, "v2/latest/blobs/sha256:0000000000000000000000000000000000000000000000000000000000000000?ns=169.254.169.254");
        // The upstream itself, named by ?ns=, is still served.
        using var own = await SendAsync(HttpMethod.Get, mirror, $"v2/apps/demo/manifests/v1?ns={fixture.Registry.Name}");

        Assert.Equal((HttpStatusCode.Forbidden, HttpStatusCode.Forbidden, HttpStatusCode.OK), (other.StatusCode, metadata.StatusCode, own.StatusCode));
        Assert.Contains("this mirror does not serve 127.0.0.1:9; allow it with dfagent --allow-registry 127.0.0.1:9", await other.Content.ReadAsStringAsync());
        Assert.Empty(mirror.BlobRequests);
        Assert.True((await fixture.Registry.WaitForRequestsAsync(_ => true, before + 1)).Count > before, "the upstream named by ?ns= should have been asked");
    }

    private static async Task<HttpResponseMessage> SendAsync(HttpMethod method, MirrorHost mirror, string path)
    {
        using var request = new HttpRequestMessage(method, new Uri(mirror.BaseUri, path));
        request.Headers.Accept.ParseAdd(MediaTypes.OciIndex);
        request.Headers.Accept.ParseAdd(MediaTypes.OciManifest);
        return await Http.SendAsync(request).WaitAsync(Timeouts.Test);
    }

    private static string? Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values) ? values.Single() : null;
}
