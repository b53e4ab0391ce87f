using Dragonfly.PubSub.Origins.Tests.Infrastructure;

namespace Dragonfly.PubSub.Origins.Tests.Ftp;

/// <summary>One pyftpdlib server for the FTP tests of a class.</summary>
public sealed class FtpFixture : IAsyncLifetime
{
    public const int DataSize = 2 * 1024 * 1024 + 777;

    internal FtpServer Server { get; private set; } = null!;

    public OriginClient Client { get; } = new(OriginRegistry.CreateDefault());

    public byte[] Data { get; private set; } = [];

    public async Task InitializeAsync()
    {
        Server = await FtpServer.StartAsync();
        Data = Server.AddFile("data.bin", DataSize, seed: 11);
    }

    public Task DisposeAsync()
    {
        Client.Registry.Dispose();
        Server.Dispose();
        return Task.CompletedTask;
    }
}
