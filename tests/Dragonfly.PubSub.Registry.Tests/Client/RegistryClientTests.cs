using Dragonfly.PubSub.Contracts;
using Dragonfly.PubSub.Registry.Auth;
using Dragonfly.PubSub.Registry.Client;
using Dragonfly.PubSub.Registry.Manifests;
using Dragonfly.PubSub.Registry.Platforms;
using Dragonfly.PubSub.Registry.References;
using Dragonfly.PubSub.Registry.Tests.Infrastructure;

namespace Dragonfly.PubSub.Registry.Tests.Client;

/// <summary>The client against a real registry (docker-registry) holding images pushed by skopeo.</summary>
public sealed class RegistryClientTests(RegistryFixture fixture) : IClassFixture<RegistryFixture>, IDisposable
{
    private readonly RegistryClient _client = new();
    private readonly string _temp = Directory.CreateTempSubdirectory("dragonfly-client-").FullName;

    private ImageReference Demo => ImageReference.Parse($"{fixture.Registry.Name}/apps/demo:v1");

    [Fact]
    public async Task Resolve_IndexForArm64_ReturnsOnlyTheArm64ManifestAndBlobs()
    {
        var resolved = await _client.ResolveAsync(Demo, PlatformSelector.Parse("linux/arm64"), RegistryAuth.Anonymous).WaitAsync(Timeouts.Test);

        var arm64 = fixture.Image["linux/arm64"];
        Assert.Equal(fixture.Image.RootDigest, resolved.Root.Digest);
        Assert.Equal(MediaTypes.OciIndex, resolved.Root.MediaType);
        var image = Assert.Single(resolved.Images);
        Assert.Equal(Platform.Parse("linux/arm64"), image.Platform);
        Assert.Equal(arm64.ManifestDigest, image.Manifest.Digest);
        Assert.Equal(arm64.Manifest, image.Manifest.Content.ToArray());
        Assert.Equal(arm64.Blobs, resolved.Blobs.Select(b => b.Digest));
        Assert.Equal(arm64.Blobs.Select(d => (long)fixture.Image.Blob(d).Length), resolved.Blobs.Select(b => b.Size));
        Assert.Equal(["linux/amd64", "linux/arm64"], resolved.AvailablePlatforms.Select(p => p.ToString()));
        Assert.Equal([fixture.Image.RootDigest, arm64.ManifestDigest], resolved.Manifests.Select(m => m.Digest));
        // Resolving an index reads manifests only: no blob reaches the client.
        Assert.All(fixture.Image.AllBlobs, d => Assert.Equal(0, fixture.Registry.BlobGets(d)));
    }

    [Fact]
    public async Task Resolve_All_ReturnsEveryPlatform()
    {
        var resolved = await _client.ResolveAsync(Demo, PlatformSelector.AllPlatforms, RegistryAuth.Anonymous).WaitAsync(Timeouts.Test);

        Assert.Equal(["linux/amd64", "linux/arm64"], resolved.Images.Select(i => i.Platform.ToString()));
        Assert.Equal(fixture.Image.AllBlobs.OrderBy(d => d.Hex), resolved.Blobs.Select(b => b.Digest).OrderBy(d => d.Hex));
    }

    [Fact]
    public async Task Resolve_UnknownPlatform_ErrorListsThePlatformsTheIndexHas()
    {
        var error = await Assert.ThrowsAsync<RegistryException>(() =>
            _client.ResolveAsync(Demo, PlatformSelector.Parse("linux/arm64,linux/s390x"), RegistryAuth.Anonymous).WaitAsync(Timeouts.Test));

        Assert.Equal(RegistryErrorKind.UnknownPlatform, error.Kind);
        Assert.Equal($"image {Demo} has no linux/s390x image; it has only linux/amd64, linux/arm64", error.Message);
    }

    [Fact]
    public async Task Resolve_SingleManifest_MatchesOnlyThePlatformOfItsConfig()
    {
        var single = ImageReference.Parse($"{fixture.Registry.Name}/apps/single:v1");

        var resolved = await _client.ResolveAsync(single, PlatformSelector.Parse("linux/arm64/v8"), RegistryAuth.Anonymous).WaitAsync(Timeouts.Test);
        var error = await Assert.ThrowsAsync<RegistryException>(() =>
            _client.ResolveAsync(single, PlatformSelector.Parse("linux/amd64"), RegistryAuth.Anonymous).WaitAsync(Timeouts.Test));

        Assert.Equal(MediaTypes.OciManifest, resolved.Root.MediaType);
        Assert.Equal(fixture.Single["linux/arm64"].Blobs, resolved.Blobs.Select(b => b.Digest));
        Assert.Equal(RegistryErrorKind.UnknownPlatform, error.Kind);
        Assert.Contains("has no linux/amd64 image; it has only linux/arm64", error.Message);
    }

    [Theory]
    [InlineData("apps/demo:v2")]
    [InlineData("apps/nothing:v1")]
    public async Task Resolve_UnknownImage_IsNotFoundWithTheRegistrysCode(string name)
    {
        var image = ImageReference.Parse($"{fixture.Registry.Name}/{name}");

        var error = await Assert.ThrowsAsync<RegistryException>(() =>
            _client.ResolveAsync(image, PlatformSelector.Parse("linux/arm64"), RegistryAuth.Anonymous).WaitAsync(Timeouts.Test));

        Assert.Equal(RegistryErrorKind.NotFound, error.Kind);
        Assert.StartsWith($"manifest {image} not found on {fixture.Registry.Name} (404: ", error.Message);
        Assert.Matches("MANIFEST_UNKNOWN|NAME_UNKNOWN", error.Message);
    }

    [Fact]
    public async Task GetManifest_ByDigest_ReturnsTheVerifiedBytesWithTheirMediaType()
    {
        var arm64 = fixture.Image["linux/arm64"];
        var endpoint = _client.EndpointFor(fixture.Registry.Name);

        var manifest = await _client.GetManifestAsync(endpoint, "apps/demo", arm64.ManifestDigest.ToString(), RegistryAuth.Anonymous).WaitAsync(Timeouts.Test);
        var head = await _client.HeadManifestAsync(endpoint, "apps/demo", "v1", RegistryAuth.Anonymous).WaitAsync(Timeouts.Test);

        Assert.Equal(arm64.ManifestDigest, manifest.Digest);
        Assert.Equal(MediaTypes.OciManifest, manifest.MediaType);
        Assert.Equal(arm64.Manifest, manifest.Content.ToArray());
        Assert.Equal(new ManifestHead(fixture.Image.RootDigest, MediaTypes.OciIndex, fixture.Image.Blob(fixture.Image.RootDigest).Length), head);
    }

    [Fact]
    public async Task BlobLocation_OnAnAnonymousRegistry_NeedsNoAuthorizationAndDownloadsVerified()
    {
        var layer = fixture.Image["linux/amd64"].Layers[0];
        var path = Path.Combine(_temp, "layer");

        var location = await _client.GetBlobLocationAsync(Demo, layer, RegistryAuth.Anonymous).WaitAsync(Timeouts.Test);
        var size = await _client.DownloadBlobAsync(location.Url, location.Authorization, layer, path).WaitAsync(Timeouts.Test);

        Assert.Equal(new Uri(fixture.Registry.BaseUri, $"v2/apps/demo/blobs/{layer}"), location.Url);
        Assert.Null(location.Authorization);
        Assert.Equal(fixture.Image.Blob(layer), await File.ReadAllBytesAsync(path));
        Assert.Equal(fixture.Image.Blob(layer).Length, size);
    }

    [Fact]
    public async Task DownloadBlob_ContentOfAnotherDigest_IsRejectedAndLeavesNoFile()
    {
        var layer = fixture.Image["linux/amd64"].Layers[0];
        var other = fixture.Image["linux/amd64"].Layers[1];
        var path = Path.Combine(_temp, "layer");
        var url = _client.BlobUrl(_client.EndpointFor(fixture.Registry.Name), "apps/demo", layer);

        var error = await Assert.ThrowsAsync<RegistryException>(() => _client.DownloadBlobAsync(url, null, other, path).WaitAsync(Timeouts.Test));

        Assert.Equal(RegistryErrorKind.DigestMismatch, error.Kind);
        Assert.Equal($"blob {other} from {fixture.Registry.Name}: the content hashes to {layer}; rejected", error.Message);
        Assert.Empty(Directory.GetFileSystemEntries(_temp));
    }

    [Fact]
    public async Task DownloadBlob_UnknownDigest_IsNotFound()
    {
        var missing = ContentDigest.FromHash(new byte[32]);
        var url = _client.BlobUrl(_client.EndpointFor(fixture.Registry.Name), "apps/demo", missing);

        var error = await Assert.ThrowsAsync<RegistryException>(() => _client.DownloadBlobAsync(url, null, missing, Path.Combine(_temp, "x")).WaitAsync(Timeouts.Test));

        Assert.Equal(RegistryErrorKind.NotFound, error.Kind);
        Assert.Contains("BLOB_UNKNOWN", error.Message);
        Assert.Empty(Directory.GetFileSystemEntries(_temp));
    }

    public void Dispose()
    {
        _client.Dispose();
        TempDirectory.Delete(_temp);
    }
}
