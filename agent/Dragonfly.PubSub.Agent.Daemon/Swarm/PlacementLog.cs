namespace Dragonfly.PubSub.Agent.Swarm;

/// <summary>Log lines of the choice among several brokers (event ids 1300–1309), source-generated.</summary>
internal static partial class PlacementLog
{
    [LoggerMessage(1300, LogLevel.Information, "using {Count} brokers: {Brokers}; each task goes to one of them by rendezvous hashing of its id")]
    public static partial void SeveralBrokers(ILogger logger, int count, string brokers);

    [LoggerMessage(1301, LogLevel.Information, "task {Task} moved from broker {From} to {To} with {Held} piece(s)")]
    public static partial void TaskMoved(ILogger logger, string task, string from, string to, int held);

    [LoggerMessage(1302, LogLevel.Debug, "URL task {Task} belongs to broker {Broker}")]
    public static partial void UrlTaskPlaced(ILogger logger, string task, string broker);
}
