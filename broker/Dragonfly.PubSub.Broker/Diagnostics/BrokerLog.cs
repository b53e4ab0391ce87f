using Microsoft.Extensions.Logging;

namespace Dragonfly.PubSub.Broker.Diagnostics;

/// <summary>Source-generated log messages of the broker (event ids 1000-1099).</summary>
internal static partial class BrokerLog
{
    [LoggerMessage(1000, LogLevel.Information, "announced {Digest} ({Name}, {Size} bytes) on {Topic}{Again}")]
    public static partial void Announced(ILogger logger, string digest, string name, long size, string topic, string again);

    [LoggerMessage(1001, LogLevel.Information, "peer {PeerId} connected from {Host}:{Port} (cluster '{Cluster}', zone '{Zone}')")]
    public static partial void PeerConnected(ILogger logger, string peerId, string host, int port, string cluster, string zone);

    [LoggerMessage(1002, LogLevel.Information, "peer {PeerId} disconnected")]
    public static partial void PeerDisconnected(ILogger logger, string peerId);

    [LoggerMessage(1003, LogLevel.Information, "peer {PeerId} reconnected; its previous session was closed")]
    public static partial void PeerReplaced(ILogger logger, string peerId);

    [LoggerMessage(1010, LogLevel.Warning, "rejected publish: {Reason}")]
    public static partial void PublishRejected(ILogger logger, string reason);

    [LoggerMessage(1011, LogLevel.Warning, "peer {PeerId} joined unknown task {Digest}; ignored (publish it first)")]
    public static partial void UnknownTask(ILogger logger, string peerId, string digest);

    [LoggerMessage(1012, LogLevel.Warning, "peer {PeerId} sent a malformed message: {Reason}")]
    public static partial void MalformedPeerEvent(ILogger logger, string peerId, string reason);

    [LoggerMessage(1013, LogLevel.Warning, "a scheduler stream was rejected: {Reason}")]
    public static partial void StreamRejected(ILogger logger, string reason);

    [LoggerMessage(1020, LogLevel.Information, "peer {PeerId} joined {Digest} with {Held}/{Total} pieces{Role}")]
    public static partial void PeerJoined(ILogger logger, string peerId, string digest, int held, int total, string role);

    [LoggerMessage(1021, LogLevel.Information, "peer {PeerId} reported {Kind} piece {Index} of {Digest} from {ParentId}")]
    public static partial void PieceFailed(ILogger logger, string peerId, string kind, int index, string digest, string parentId);

    [LoggerMessage(1022, LogLevel.Debug, "parents of {PeerId} for {Digest}: {Parents}")]
    public static partial void ParentsAssigned(ILogger logger, string peerId, string digest, string parents);

    [LoggerMessage(1030, LogLevel.Information, "re-announced {Count} retained announcement(s) from the catalogue")]
    public static partial void Replayed(ILogger logger, int count);

    [LoggerMessage(1031, LogLevel.Error, "the swarm coordinator failed on a command")]
    public static partial void CoordinatorFailed(ILogger logger, Exception exception);
}
