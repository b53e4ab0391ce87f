using Dragonfly.PubSub.Origins.Tests.Infrastructure;

namespace Dragonfly.PubSub.Origins.Tests.S3;

/// <summary>One s3rver for the S3 tests of a class, with one uploaded object.</summary>
public sealed class S3Fixture : IAsyncLifetime
{
    public const int DataSize = 2 * 1024 * 1024 + 4321;

    internal S3Server Server { get; private set; } = null!;

    public OriginClient Client { get; private set; } = null!;

    public byte[] Data { get; private set; } = [];

    public async Task InitializeAsync()
    {
        Server = await S3Server.StartAsync();
        Data = await Server.PutAsync("releases/app v1.bin", DataSize, seed: 21);
        Client = new OriginClient(OriginRegistry.CreateDefault(new OriginRegistryOptions { S3 = Server.Options() }));
    }

    public Task DisposeAsync()
    {
        Client?.Registry.Dispose();
        Server?.Dispose();
        return Task.CompletedTask;
    }
}
