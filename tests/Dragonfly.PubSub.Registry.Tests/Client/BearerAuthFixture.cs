namespace Dragonfly.PubSub.Registry.Tests.Client;

/// <summary>A real registry with Bearer token auth; its token service runs in the test (Distribution has none).</summary>
public sealed class BearerAuthFixture : IAsyncLifetime
{
    public const string User = "bob";
    public const string Password = "t0ken-Pa55";

    internal TokenServer Tokens { get; private set; } = null!;

    internal RegistryServer Registry { get; private set; } = null!;

    internal Skopeo Skopeo { get; } = new();

    internal TestImage Image { get; } = TestImage.MultiPlatform(seed: 21);

    public async Task InitializeAsync()
    {
        Tokens = await TokenServer.StartAsync(new Dictionary<string, string> { [User] = Password });
        Registry = await RegistryServer.StartAsync(tokens: Tokens);
        await Skopeo.PushAsync(Image, Registry.Name, "team/app", "v1", $"{User}:{Password}");
    }

    public async Task DisposeAsync()
    {
        Registry?.Dispose();
        if (Tokens is not null)
        {
            await Tokens.DisposeAsync();
        }
        Skopeo.Dispose();
        Image.Dispose();
    }
}
