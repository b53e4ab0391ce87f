using Microsoft.Extensions.Logging;

namespace Dragonfly.PubSub.Broker.Diagnostics;

/// <summary>The HTTP API's access policy and its tokens (issue 11), event ids 1140-1149.</summary>
internal static partial class BrokerLog
{
    [LoggerMessage(1140, LogLevel.Warning, "HTTP API request refused: {Reason}")]
    public static partial void ApiRequestRefused(ILogger logger, string reason);

    [LoggerMessage(1141, LogLevel.Information, "API token {TokenId} created: scope {Scope}, topics [{Topics}], expires {ExpiresAt:O}")]
    public static partial void ApiTokenCreated(ILogger logger, string tokenId, string scope, string topics, DateTimeOffset expiresAt);
}
