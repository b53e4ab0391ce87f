using Dragonfly.PubSub.IntegrationTests.Infrastructure;

namespace Dragonfly.PubSub.IntegrationTests.CommandLine;

/// <summary>
/// One cluster shared by the bad-input tests, which only poke at it: a broker, a publishing agent,
/// a subscriber of <c>releases/#</c> that must stay untouched by rejected input, and an agent whose
/// broker address leads nowhere.
/// </summary>
public sealed class BadInputCluster : IAsyncLifetime
{
    public TestCluster Cluster { get; } = new(nameof(BadInputTests));

    public AgentProcess Publisher { get; private set; } = null!;

    public AgentProcess Subscriber { get; private set; } = null!;

    /// <summary>A daemon that is up but whose broker (gRPC and MQTT) is a closed port.</summary>
    public AgentProcess Stranded { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        try
        {
            await Cluster.StartBrokerAsync();
            var nowhere = new BrokerPorts(TestCluster.ClosedPort(), TestCluster.ClosedPort(), 0);
            var agents = await Task.WhenAll(
                Cluster.StartAgentAsync("pub"),
                Cluster.StartAgentAsync("sub", ["releases/#"]),
                Cluster.StartAgentAsync("stranded", broker: nowhere));
            (Publisher, Subscriber, Stranded) = (agents[0], agents[1], agents[2]);
        }
        catch (Exception e)
        {
            await Cluster.DisposeAsync();
            throw new InvalidOperationException(
                $"the shared cluster did not start: {e.Message}\n{string.Join('\n', Cluster.Launcher.Processes.Select(p => p.Tail(40)))}", e);
        }
    }

    public async Task DisposeAsync()
    {
        await Cluster.DisposeAsync();
        Cluster.CleanUp();
    }
}
