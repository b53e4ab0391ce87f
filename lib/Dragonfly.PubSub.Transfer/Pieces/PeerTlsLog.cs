using Microsoft.Extensions.Logging;

namespace Dragonfly.PubSub.Transfer.Pieces;

/// <summary>Log messages of the peer port's TLS (event ids 4040-4049).</summary>
internal static partial class PeerTlsLog
{
    [LoggerMessage(4040, LogLevel.Warning, "refused peer connection from {Remote}: {Reason}")]
    public static partial void Refused(ILogger logger, string remote, string reason);

    [LoggerMessage(4041, LogLevel.Warning, "refused parent {Endpoint}: {Reason}")]
    public static partial void ParentRefused(ILogger logger, string endpoint, string reason);
}
