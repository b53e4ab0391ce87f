namespace Dragonfly.PubSub.Registry.Tests.Client;

/// <summary>One anonymous registry with the two-platform image at apps/demo:v1 and a single-platform image at apps/single:v1.</summary>
public sealed class RegistryFixture : IAsyncLifetime
{
    internal RegistryServer Registry { get; private set; } = null!;

    internal Skopeo Skopeo { get; } = new();

    internal TestImage Image { get; } = TestImage.MultiPlatform(seed: 1);

    internal TestImage Single { get; } = TestImage.SinglePlatform("linux/arm64", seed: 2);

    public async Task InitializeAsync()
    {
        Registry = await RegistryServer.StartAsync();
        await Skopeo.PushAsync(Image, Registry.Name, "apps/demo", "v1");
        await Skopeo.PushAsync(Single, Registry.Name, "apps/single", "v1");
    }

    public Task DisposeAsync()
    {
        Registry?.Dispose();
        Skopeo.Dispose();
        Image.Dispose();
        Single.Dispose();
        return Task.CompletedTask;
    }
}
