using Microsoft.Extensions.Logging;

namespace Dragonfly.PubSub.Broker.Diagnostics;

/// <summary>Shared state and the fleet of brokers (issue 12), event ids 1200-1219.</summary>
internal static partial class BrokerLog
{
    [LoggerMessage(1200, LogLevel.Information, "shared state in {Url}: catalogue, preheat jobs and heartbeats of broker {BrokerId}")]
    public static partial void StateConnected(ILogger logger, string url, string brokerId);

    [LoggerMessage(1201, LogLevel.Warning, "the shared state at {Url} does not answer ({Reason}); the broker keeps scheduling and retries")]
    public static partial void StateUnavailable(ILogger logger, string url, string reason);

    [LoggerMessage(1202, LogLevel.Information, "the shared state at {Url} answers again")]
    public static partial void StateReconnected(ILogger logger, string url);
}
