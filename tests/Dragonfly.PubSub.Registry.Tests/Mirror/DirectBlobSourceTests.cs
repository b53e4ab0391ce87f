using Dragonfly.PubSub.Registry.Client;
using Dragonfly.PubSub.Registry.Mirror;
using Dragonfly.PubSub.Registry.Tests.Client;
using Dragonfly.PubSub.Registry.Tests.Infrastructure;

namespace Dragonfly.PubSub.Registry.Tests.Mirror;

public sealed class DirectBlobSourceTests(RegistryFixture fixture) : IClassFixture<RegistryFixture>, IDisposable
{
    private readonly RegistryClient _client = new();
    private readonly string _cache = Directory.CreateTempSubdirectory("dragonfly-direct-").FullName;

    [Fact]
    public async Task ManyAtOnce_OneDownloadPerDigest()
    {
        var source = new DirectBlobSource(_cache, _client);
        var layer = fixture.Image["linux/arm64"].Layers[0];
        var request = Request(layer);
        var before = fixture.Registry.BlobGets(layer);

        var paths = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => source.GetBlobPathAsync(request, CancellationToken.None))).WaitAsync(Timeouts.Test);
        var again = await source.GetBlobPathAsync(request, CancellationToken.None).WaitAsync(Timeouts.Test);

        Assert.All(paths, p => Assert.Equal(source.PathOf(layer), p));
        Assert.Equal(source.PathOf(layer), again);
        Assert.Equal(fixture.Image.Blob(layer), await File.ReadAllBytesAsync(again));
        Assert.Equal(before + 1, await fixture.Registry.BlobGetsAsync(layer, before + 1));
        Assert.Equal([source.PathOf(layer)], Directory.GetFiles(_cache, "*", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task WrongContent_FailsAndLeavesNothing_ThenAGoodRequestSucceeds()
    {
        var source = new DirectBlobSource(_cache, _client);
        var amd64 = fixture.Image["linux/amd64"];
        // The URL serves the config, but the request says it is a layer.
        var lying = Request(amd64.Layers[0]) with { Url = Request(amd64.Config).Url };

        var error = await Assert.ThrowsAsync<RegistryException>(() => source.GetBlobPathAsync(lying, CancellationToken.None).WaitAsync(Timeouts.Test));
        var path = await source.GetBlobPathAsync(Request(amd64.Layers[0]), CancellationToken.None).WaitAsync(Timeouts.Test);

        Assert.Equal(RegistryErrorKind.DigestMismatch, error.Kind);
        Assert.Equal(fixture.Image.Blob(amd64.Layers[0]), await File.ReadAllBytesAsync(path));
        Assert.Equal([path], Directory.GetFiles(_cache, "*", SearchOption.AllDirectories));
    }

    private BlobRequest Request(Contracts.ContentDigest digest)
    {
        var endpoint = _client.EndpointFor(fixture.Registry.Name);
        return new BlobRequest(endpoint.Name, "apps/demo", digest, _client.BlobUrl(endpoint, "apps/demo", digest), null);
    }

    public void Dispose()
    {
        _client.Dispose();
        TempDirectory.Delete(_cache);
    }
}
