namespace Dragonfly.PubSub.Broker.Dashboard;

/// <summary>A broker without shared state: its own view is the fleet's.</summary>
internal sealed class NoFleetShares : IFleetShares
{
    public Task<IReadOnlyList<FleetShare>> OthersAsync(CancellationToken cancellationToken) => Task.FromResult<IReadOnlyList<FleetShare>>([]);
}
