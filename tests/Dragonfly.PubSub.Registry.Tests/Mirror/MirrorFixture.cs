namespace Dragonfly.PubSub.Registry.Tests.Mirror;

/// <summary>An anonymous registry with the two-platform image at apps/demo:v1 (each test class gets its own, so access-log counts are its own).</summary>
public sealed class MirrorFixture : IAsyncLifetime
{
    internal RegistryServer Registry { get; private set; } = null!;

    internal Skopeo Skopeo { get; } = new();

    internal TestImage Image { get; } = TestImage.MultiPlatform(seed: 31);

    public async Task InitializeAsync()
    {
        Registry = await RegistryServer.StartAsync();
        await Skopeo.PushAsync(Image, Registry.Name, "apps/demo", "v1");
    }

    public Task DisposeAsync()
    {
        Registry?.Dispose();
        Skopeo.Dispose();
        Image.Dispose();
        return Task.CompletedTask;
    }
}
