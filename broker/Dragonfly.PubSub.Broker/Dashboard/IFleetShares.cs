namespace Dragonfly.PubSub.Broker.Dashboard;

/// <summary>
/// The live views the other brokers of the fleet published (<see cref="RedisFleetShares"/>); none for a single
/// broker (<see cref="NoFleetShares"/>).
/// </summary>
internal interface IFleetShares
{
    /// <summary>The other live brokers' latest shares; empty alone or while Redis does not answer.</summary>
    Task<IReadOnlyList<FleetShare>> OthersAsync(CancellationToken cancellationToken);
}
