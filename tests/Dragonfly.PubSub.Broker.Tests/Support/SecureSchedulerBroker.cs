using System.Net.Security;
using Dragonfly.PubSub.Testing;
using Grpc.Net.Client;

namespace Dragonfly.PubSub.Broker.Tests.Support;

/// <summary>
/// A real secure broker (no seed) for tests that talk to its HTTPS/2 scheduler with a real Grpc.Net.Client;
/// <see cref="Files"/> holds the enrolled peers' PEM files. Started before each test, stopped after it.
/// </summary>
public abstract class SecureSchedulerBroker(string name) : IAsyncLifetime
{
    protected static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    protected InProcessBroker Broker { get; private set; } = null!;
    protected string Files { get; private set; } = null!;
    private Uri _address = null!;

    public async Task InitializeAsync()
    {
        Files = Directory.CreateTempSubdirectory($"df{name}-").FullName;
        Broker = await InProcessBroker.StartAsync(name, seed: false, secure: true);
        _address = new Uri($"https://127.0.0.1:{Broker.ReadyInfo.GetProperty("grpcPort").GetInt32()}");
    }

    public async Task DisposeAsync()
    {
        await Broker.DisposeAsync();
        TempDirectory.Delete(Files);
    }

    /// <summary>A channel to the scheduler with these TLS options (an enrolled peer's, usually).</summary>
    protected GrpcChannel Channel(SslClientAuthenticationOptions tls) =>
        GrpcChannel.ForAddress(_address, new GrpcChannelOptions { HttpHandler = new SocketsHttpHandler { SslOptions = tls } });
}
