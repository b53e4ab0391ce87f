using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Dragonfly.PubSub.Broker.Configuration;
using Dragonfly.PubSub.Broker.Hosting;
using Dragonfly.PubSub.Broker.Preheat;
using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Registry.Manifests;
using Dragonfly.PubSub.Testing;

using Dragonfly.PubSub.Broker.Tests.Support;

namespace Dragonfly.PubSub.Broker.Tests.Preheat;

/// <summary>
/// End to end on one machine: a real registry (docker-registry) holding a two-platform OCI index, and
/// an in-process broker with its own seed. Preheating linux/arm64 makes the seed fetch exactly the
/// arm64 config and layers, each once. (Agents prefetching from the topic is the integration tests' part.)
/// </summary>
public sealed class RealRegistryPreheatTests : IAsyncLifetime
{
    private const string Repository = "dragonfly/app";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    private readonly Dictionary<string, List<ContentDigest>> _blobs = [];
    private RegistryServer? _registry;
    private InProcessBroker? _broker;

    public async Task InitializeAsync()
    {
        _registry = await RegistryServer.StartAsync();
        var shared = await _registry.PushBlobAsync(Repository, Bytes("shared layer", 48 * 1024));
        var children = new List<string>();
        foreach (var arch in new[] { "amd64", "arm64" })
        {
            var config = Encoding.UTF8.GetBytes($$$"""{"architecture":"{{{arch}}}","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}""");
            var configDigest = await _registry.PushBlobAsync(Repository, config);
            var layer = Bytes(arch + " layer", 64 * 1024);
            var layerDigest = await _registry.PushBlobAsync(Repository, layer);
            _blobs[arch] = [configDigest, layerDigest, shared];
            var manifest = Encoding.UTF8.GetBytes($$"""
                {"schemaVersion":2,"mediaType":"{{MediaTypes.OciManifest}}",
                 "config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{{configDigest}}","size":{{config.Length}}},
                 "layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{{layerDigest}}","size":{{layer.Length}}},
                           {"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{{shared}}","size":{{48 * 1024}}}]}
                """);
            var digest = await _registry.PushManifestAsync(Repository, ContentDigest.FromHash(System.Security.Cryptography.SHA256.HashData(manifest)).ToString(),
                MediaTypes.OciManifest, manifest);
            children.Add($$$"""{"mediaType":"{{{MediaTypes.OciManifest}}}","digest":"{{{digest}}}","size":{{{manifest.Length}}},"platform":{"architecture":"{{{arch}}}","os":"linux"}}""");
        }
        var index = Encoding.UTF8.GetBytes($$"""{"schemaVersion":2,"mediaType":"{{MediaTypes.OciIndex}}","manifests":[{{string.Join(',', children)}}]}""");
        await _registry.PushManifestAsync(Repository, "v1", MediaTypes.OciIndex, index);

        _broker = await InProcessBroker.StartAsync("e2e", seed: true);
    }

    public async Task DisposeAsync()
    {
        if (_broker is not null)
        {
            await _broker.DisposeAsync();
        }
        _registry?.Dispose();
    }

    [Fact]
    public async Task Preheat_OnePlatform_TheSeedFetchesItsBlobsOnce_AndNoOtherPlatformsBlobs()
    {
        var image = $"{_registry!.Name}/{Repository}:v1";

        using var response = await _broker!.Http.PostAsJsonAsync("api/v1/preheat", new { image, platforms = new[] { "linux/arm64" }, topic = "images/app" });

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var accepted = await response.Content.ReadFromJsonAsync<JsonElement>();
        var id = accepted.GetProperty("id").GetString()!;
        Assert.Equal($"/api/v1/preheat/{id}", response.Headers.Location!.ToString());
        Assert.Equal(_blobs["arm64"].Select(d => d.ToString()).Order(), accepted.GetProperty("blobs").EnumerateArray().Select(b => b.GetProperty("digest").GetString()).Order());
        Assert.Equal("linux/arm64", accepted.GetProperty("manifests").EnumerateArray().Single().GetProperty("platform").GetString());

        var job = await WaitFinishedAsync(id);
        Assert.Equal(PreheatStates.Succeeded, job.GetProperty("state").GetString());
        foreach (var digest in _blobs["arm64"])
        {
            await WaitAsync(() => _registry.BlobGets(digest) >= 1);
            Assert.Equal(1, _registry.BlobGets(digest));
        }
        Assert.All(_blobs["amd64"].Except(_blobs["arm64"]), d => Assert.Equal(0, _registry.BlobGets(d)));
        Assert.Contains(id, await _broker!.Http.GetStringAsync("api/v1/preheat"));
    }

    [Fact]
    public async Task Preheat_AnUnknownImageOrPlatform_IsRefusedWithWhatExists()
    {
        using var tag = await _broker!.Http.PostAsJsonAsync("api/v1/preheat", new { image = $"{_registry!.Name}/{Repository}:v9", platforms = new[] { "all" }, topic = "t" });
        using var platform = await _broker!.Http.PostAsJsonAsync("api/v1/preheat", new { image = $"{_registry.Name}/{Repository}:v1", platforms = new[] { "linux/s390x" }, topic = "t" });

        Assert.Equal(HttpStatusCode.NotFound, tag.StatusCode);
        Assert.Contains("not found", await ErrorAsync(tag));
        Assert.Equal(HttpStatusCode.BadRequest, platform.StatusCode);
        var error = await ErrorAsync(platform);
        Assert.Contains("linux/s390x", error);
        Assert.Contains("linux/amd64, linux/arm64", error);
        Assert.Equal("[]", await _broker!.Http.GetStringAsync("api/v1/preheat"));
    }

    private async Task<JsonElement> WaitFinishedAsync(string id)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (true)
        {
            var job = await _broker!.Http.GetFromJsonAsync<JsonElement>($"api/v1/preheat/{id}");
            if (PreheatStates.IsFinished(job.GetProperty("state").GetString()!) || DateTime.UtcNow > deadline)
            {
                return job;
            }
            await Task.Delay(20);
        }
    }

    private static async Task WaitAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Timeout;
        while (!condition() && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }
    }

    private static async Task<string> ErrorAsync(HttpResponseMessage response) =>
        (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("error").GetString()!;

    private static byte[] Bytes(string seed, int length)
    {
        var bytes = new byte[length];
        new Random(seed.GetHashCode(StringComparison.Ordinal)).NextBytes(bytes);
        return bytes;
    }
}
