using Dragonfly.PubSub.Origins.Http;
using Dragonfly.PubSub.Origins.Tests.Infrastructure;

namespace Dragonfly.PubSub.Origins.Tests.Http;

/// <summary>One nginx for the HTTP tests of a class, with a client that trusts its CA.</summary>
public sealed class NginxFixture : IAsyncLifetime
{
    public const int DataSize = 3 * 1024 * 1024 + 12345;

    internal NginxServer Server { get; private set; } = null!;

    public OriginClient Client { get; private set; } = null!;

    public byte[] Data { get; private set; } = [];

    public byte[] Small { get; private set; } = [];

    public async Task InitializeAsync()
    {
        Server = await NginxServer.StartAsync();
        Data = Server.AddFile("files/data.bin", DataSize, seed: 1);
        Server.AddFile("norange/data.bin", DataSize, seed: 1);
        Small = Server.AddFile("private/small.bin", 100_000, seed: 2);
        Server.AddFile("basic/small.bin", 100_000, seed: 2);
        Server.AddFile("files/small.bin", 100_000, seed: 2);
        Server.AddFile("files/empty.bin", 0, seed: 3);
        var registry = OriginRegistry.CreateDefault(new OriginRegistryOptions
        {
            Http = new HttpOriginOptions { TrustedCaCertificates = [Server.Certificates.Ca] },
        });
        Client = new OriginClient(registry);
    }

    public Task DisposeAsync()
    {
        Client.Registry.Dispose();
        Server.Dispose();
        return Task.CompletedTask;
    }
}
