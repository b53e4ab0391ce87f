using Microsoft.Extensions.Logging;

namespace Dragonfly.PubSub.Transfer.Pieces;

/// <summary>Log messages of the peer port's TLS and access checks (event ids 4040-4049).</summary>
internal static partial class PeerTlsLog
{
    [LoggerMessage(4040, LogLevel.Warning, "refused peer connection from {Remote}: {Reason}")]
    public static partial void Refused(ILogger logger, string remote, string reason);

    [LoggerMessage(4041, LogLevel.Warning, "refused parent {Endpoint}: {Reason}")]
    public static partial void ParentRefused(ILogger logger, string endpoint, string reason);

    [LoggerMessage(4042, LogLevel.Warning, "refused the piece requests of peer {PeerId} ({Remote}) for task {Task}: {Reason}; only members of a task, with the broker's ticket, may pull it")]
    public static partial void RequestsForbidden(ILogger logger, string peerId, string remote, string task, string reason);

    [LoggerMessage(4043, LogLevel.Warning, "dropped the peer connection of {Remote}: it read nothing of a response for {Seconds} s (--peer-send-timeout); its upload slot is free again")]
    public static partial void SendTimedOut(ILogger logger, string remote, double seconds);
}
