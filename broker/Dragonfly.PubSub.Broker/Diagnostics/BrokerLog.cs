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

    [LoggerMessage(1004, LogLevel.Information, "announced image {Digest} ({Image}: {Blobs} blob(s), {Size} bytes) on {Topic}")]
    public static partial void ImageAnnounced(ILogger logger, string digest, string image, int blobs, long size, string topic);

    [LoggerMessage(1010, LogLevel.Warning, "rejected publish: {Reason}")]
    public static partial void PublishRejected(ILogger logger, string reason);

    [LoggerMessage(1011, LogLevel.Warning, "peer {PeerId} joined unknown task {Digest}; told it so (it joins again once the task is published or registered)")]
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

    // External MQTT broker (issue 12, dfbroker --mqtt-url): 1095-1097.
    [LoggerMessage(1095, LogLevel.Information, "connected to the MQTT broker at {Url} as {ClientId}; announcements go there")]
    public static partial void ExternalMqttConnected(ILogger logger, string url, string clientId);

    [LoggerMessage(1096, LogLevel.Warning, "the MQTT broker at {Url} is unavailable ({Reason}); retrying")]
    public static partial void ExternalMqttUnavailable(ILogger logger, string url, string reason);

    [LoggerMessage(1097, LogLevel.Warning, "lost the connection to the MQTT broker at {Url} ({Reason}); reconnecting")]
    public static partial void ExternalMqttLost(ILogger logger, string url, string reason);

    // After a reconnection to the external MQTT broker (issue 12, Mosquitto restarted): 1098-1099.
    [LoggerMessage(1098, LogLevel.Information, "reconnected to the MQTT broker at {Url}: published the latest announcement of every topic again ({Count}), in case it lost its retained messages")]
    public static partial void ExternalMqttReplayed(ILogger logger, string url, int count);

    [LoggerMessage(1099, LogLevel.Warning, "reconnected to the MQTT broker at {Url} but could not publish the retained announcements again ({Reason}); agents that subscribe now may miss a topic's latest version until the next publish")]
    public static partial void ExternalMqttReplayFailed(ILogger logger, string url, string reason);

    [LoggerMessage(1031, LogLevel.Error, "the swarm coordinator failed on a command")]
    public static partial void CoordinatorFailed(ILogger logger, Exception exception);

    [LoggerMessage(1040, LogLevel.Information, "URL task {Digest} registered: {Url} ({Size} bytes, {Pieces} pieces of {PieceSize} bytes)")]
    public static partial void UrlTaskRegistered(ILogger logger, string digest, string url, long size, int pieces, int pieceSize);

    [LoggerMessage(1041, LogLevel.Information, "source of {Digest}: {PeerId} ({Kind}), attempt {Attempt} of {Max}")]
    public static partial void SourceAssigned(ILogger logger, string digest, string peerId, string kind, int attempt, int max);

    [LoggerMessage(1042, LogLevel.Warning, "source {PeerId} of {Digest} failed (attempt {Attempt} of {Max}): {Error}")]
    public static partial void SourceFailed(ILogger logger, string digest, string peerId, int attempt, int max, string error);

    [LoggerMessage(1043, LogLevel.Information, "URL task {Digest} is in the swarm (sourced by {PeerId}); content {ContentDigest}")]
    public static partial void UrlTaskSourced(ILogger logger, string digest, string peerId, string contentDigest);

    [LoggerMessage(1044, LogLevel.Warning, "URL task {Digest} failed: {Error}")]
    public static partial void UrlTaskFailed(ILogger logger, string digest, string error);

    [LoggerMessage(1045, LogLevel.Information, "URL task {Digest} forgotten: {Reason}")]
    public static partial void UrlTaskForgotten(ILogger logger, string digest, string reason);

    [LoggerMessage(1046, LogLevel.Information, "URL task {Digest}: no peer holds some of its pieces any more; it gets a new source")]
    public static partial void UrlTaskLostPieces(ILogger logger, string digest);

    [LoggerMessage(1047, LogLevel.Warning, "source {PeerId} reported a digest for piece {Index} of {Digest} that differs from the known one; the known one is kept")]
    public static partial void DigestConflict(ILogger logger, string peerId, int index, string digest);

    [LoggerMessage(1048, LogLevel.Debug, "ignored piece digests of {Digest} from {PeerId}, which is not its source")]
    public static partial void DigestsIgnored(ILogger logger, string digest, string peerId);

    [LoggerMessage(1049, LogLevel.Error, "could not store the manifest of {Digest} in the catalogue")]
    public static partial void StoreFailed(ILogger logger, string digest, Exception exception);

    [LoggerMessage(1050, LogLevel.Warning, "rejected URL task for {Url}: {Reason}")]
    public static partial void UrlTaskRejected(ILogger logger, string url, string reason);

    [LoggerMessage(1051, LogLevel.Error, "the stat of {Url} failed unexpectedly ({ExceptionType})")]
    public static partial void StatCrashed(ILogger logger, string url, string exceptionType);

    [LoggerMessage(1070, LogLevel.Information, "preheat {JobId}: {Image} for {Platforms} on {Topic}: {Blobs} blob(s), {Bytes} bytes")]
    public static partial void PreheatAccepted(ILogger logger, string jobId, string image, string platforms, string topic, int blobs, long bytes);

    [LoggerMessage(1071, LogLevel.Warning, "preheat of {Image} refused: {Reason}")]
    public static partial void PreheatRejected(ILogger logger, string image, string reason);

    [LoggerMessage(1072, LogLevel.Warning, "preheat {JobId}: blob {Digest} failed: {Error}")]
    public static partial void PreheatBlobFailed(ILogger logger, string jobId, string digest, string error);

    [LoggerMessage(1073, LogLevel.Information, "preheat {JobId}: blob {Digest} failed ({Error}); trying once more with a fresh registry authorization")]
    public static partial void PreheatBlobRetry(ILogger logger, string jobId, string digest, string error);

    [LoggerMessage(1074, LogLevel.Information, "preheat {JobId} {State}{Error}")]
    public static partial void PreheatFinished(ILogger logger, string jobId, string state, string error);

    [LoggerMessage(1075, LogLevel.Information, "{Count} preheat job(s) were unfinished when the broker stopped; marked failed")]
    public static partial void PreheatInterrupted(ILogger logger, int count);

    [LoggerMessage(1076, LogLevel.Error, "could not store preheat job {JobId}")]
    public static partial void PreheatStoreFailed(ILogger logger, string jobId, Exception exception);

    [LoggerMessage(1077, LogLevel.Error, "the preheat jobs loop failed on a command")]
    public static partial void PreheatCommandFailed(ILogger logger, Exception exception);

    [LoggerMessage(1078, LogLevel.Error, "preheat {JobId}: the image announcement could not be published")]
    public static partial void PreheatAnnounceFailed(ILogger logger, string jobId, Exception exception);

    [LoggerMessage(1060, LogLevel.Information, "seed peer {PeerId} started on peer port {PeerPort} (data in {DataDir})")]
    public static partial void SeedStarted(ILogger logger, string peerId, int peerPort, string dataDir);

    [LoggerMessage(1061, LogLevel.Warning, "the seed peer did not stop cleanly: {Reason}")]
    public static partial void SeedStopFailed(ILogger logger, string reason);
}
