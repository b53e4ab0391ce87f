namespace Dragonfly.PubSub.Registry.Tests.Client;

/// <summary>A real registry with htpasswd (bcrypt) basic auth.</summary>
public sealed class BasicAuthFixture : IAsyncLifetime
{
    public const string User = "alice";
    public const string Password = "s3cret-Pa55";

    internal RegistryServer Registry { get; private set; } = null!;

    internal Skopeo Skopeo { get; } = new();

    internal TestImage Image { get; } = TestImage.MultiPlatform(seed: 11);

    public async Task InitializeAsync()
    {
        Registry = await RegistryServer.StartAsync(basicUsers: new Dictionary<string, string> { [User] = Password });
        await Skopeo.PushAsync(Image, Registry.Name, "private/app", "v1", $"{User}:{Password}");
    }

    public Task DisposeAsync()
    {
        Registry?.Dispose();
        Skopeo.Dispose();
        Image.Dispose();
        return Task.CompletedTask;
    }
}
